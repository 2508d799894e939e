"""Reference series with 口径 breaks, targets (actual, gap, progress, YoY, CAGR, projection, met/missed),
editing by platform admins only, and the published summary the public may read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from contracts.contract.models import ContractStatus
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import headers_of, registered_contract, transfer_contract
from tests.fixtures.app import login
from tests.statistics.helpers import LAST_YEAR, THIS_YEAR, contract_row, organizations


async def test_series_marks_breaks_and_never_chains_growth_across_them(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    body = (await client.get("/api/v1/statistics/series", params={"region": "150000"}, headers=admin)).json()
    by_period = {p["period"]: p for p in body["items"]}
    assert by_period["2018"]["value"] == "23600000000.00" and by_period["2018"]["yoy_growth"] is None
    assert (
        by_period["2022"]["break_before"] is True and by_period["2022"]["yoy_growth"] is None
    )  # 口径 break, and 2021 missing
    assert by_period["2023"]["yoy_growth"] == "17.57"  # 61.71 / 52.49 − 1, as the department published
    assert by_period["2023H1"]["partial"] is True and by_period["2023H1"]["yoy_growth"] is None
    national = (await client.get("/api/v1/statistics/series", params={"region": "all"}, headers=admin)).json()
    reference = [p for p in national["items"] if p["source"] == "reference"]
    assert [p["period"] for p in reference] == ["2013", "2019", "2023"]
    assert all(p["yoy_growth"] is None for p in reference)  # never consecutive years
    platform = [p for p in national["items"] if p["source"] == "platform"]  # the demo contract's year
    assert all(p["break_before"] for p in platform[:1])  # official statistics → platform registrations: a break


async def test_seeded_targets_progress_and_status(client: httpx.AsyncClient, database: Database, dialect: str) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    items = (await client.get("/api/v1/statistics/targets", headers=admin)).json()["items"]
    by_year = {t["target_year"]: t for t in items if t["region"] == "150000"}
    assert set(by_year) >= {2020, 2025, 2028}
    assert by_year[2020]["annual_growth"] == "25.00" and by_year[2020]["target_value"] == "30000000000.00"
    if THIS_YEAR > 2025:
        assert by_year[2020]["progress"]["status"] == "no_data"  # no published 2020 figure, and no platform yet
    t2028 = by_year[2028]["progress"]
    assert t2028["latest_full_year"] == 2023 and t2028["latest_full_year_value"] == "6171000000.00"
    assert t2028["yoy_growth"] == "17.57"
    expected_cagr = ((30_000_000_000 / 6_171_000_000) ** (1 / 5) - 1) * 100
    assert abs(float(t2028["required_cagr"]) - expected_cagr) < 0.006
    expected_projection = 6_171_000_000 * 1.1757**5
    assert abs(float(t2028["projection"]) - expected_projection) < 1
    assert t2028["status"] == "behind" and t2028["status_label"] == "按近期增速难以完成"

    # Platform numbers for last year: a target met and one missed, gap and progress to the fen.
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        session.add(
            contract_row(
                orgs,
                orgs.ids["演示稀土研究院"],
                orgs.ids["演示乳业科技有限公司"],
                total_fen=12_345_678_90,
                registered_at=datetime(LAST_YEAR, 6, 1, tzinfo=UTC),
                seq=77,
            )
        )
    created = []
    for region, value in (("150200", "10000000.00"), ("150200", "20000000.00")):
        reply = await client.post(
            "/api/v1/statistics/targets",
            headers=admin,
            json={
                "region": region,
                "target_year": LAST_YEAR if not created else LAST_YEAR + 2,
                "target_value": value,
                "source_note": "测试",
            },
        )
        assert reply.status_code == 201, reply.text
        created.append(reply.json())
    met = created[0]["progress"]
    assert (met["status"], met["actual"], met["actual_year"], met["gap"], met["progress"]) == (
        "met",
        "12345678.90",
        LAST_YEAR,
        "-2345678.90",
        "123.46",
    )
    future = created[1]["progress"]
    assert future["latest_full_year"] == LAST_YEAR and future["required_cagr"] is not None
    assert future["status"] == "unknown"  # one platform year: no growth rate to project with

    reply = await client.patch(
        f"/api/v1/statistics/targets/{created[0]['id']}", headers=admin, json={"target_value": "20000000.00"}
    )
    assert reply.json()["progress"]["status"] == "missed" and reply.json()["progress"]["gap"] == "7654321.10"
    clash = await client.post(
        "/api/v1/statistics/targets",
        headers=admin,
        json={"region": "150200", "target_year": LAST_YEAR, "target_value": "1.00"},
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "target_exists")

    region = await login(client, REGION_ADMIN[0])
    mine = (await client.get("/api/v1/statistics/targets", headers=region)).json()["items"]
    assert {t["region"] for t in mine} == {"150200"}
    denied = await client.patch(
        f"/api/v1/statistics/targets/{created[0]['id']}", headers=region, json={"target_value": "1.00"}
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "platform_admin_required")
    assert (await client.delete(f"/api/v1/statistics/targets/{created[0]['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/v1/statistics/targets/{created[0]['id']}", headers=admin)).status_code == 404


async def test_registration_and_termination_through_the_contracts_api(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The real contracts service: registering counts at once, terminating un-counts, both in the same commit."""
    h = await headers_of(client)
    admin = h["admin"]
    params = {"by": "type", "region": "150200", "year": THIS_YEAR}

    async def transfer_total() -> str:
        body = (await client.get("/api/v1/statistics/aggregates", params=params, headers=admin)).json()
        return next(i["turnover"] for i in body["items"] if i["key"] == "transfer")

    before = Decimal(await transfer_total())
    achievement = await published_achievement(database, "institute@demo.techmarket.cn")
    buyer = await org_id(database, "enterprise@demo.techmarket.cn")
    contract = await registered_contract(
        client,
        h,
        transfer_contract(
            achievement, buyer, total="1000000.00", milestones=[{"title": "一次付清", "amount": "1000000.00"}]
        ),
    )
    assert Decimal(await transfer_total()) == before + Decimal("1000000.00")
    reply = await client.post(
        f"/api/v1/contracts/{contract['id']}/transitions",
        json={"to": ContractStatus.terminated.value, "reason": "测试终止"},
        headers=h["seller"],
    )
    assert reply.status_code == 200, reply.text
    assert Decimal(await transfer_total()) == before
    assert (await client.get("/api/v1/statistics/rollups/verify", headers=admin)).json()["consistent"] is True


async def test_published_summary_is_public_and_frozen(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        session.add(
            contract_row(
                orgs,
                orgs.ids["演示大学 (内蒙古)"],
                orgs.ids["北京测试企业"],
                total_fen=500_000_00,
                registered_at=datetime(LAST_YEAR, 2, 1, tzinfo=UTC),
                seq=55,
            )
        )
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    assert (await client.get("/api/v1/statistics/aggregates", params={"by": "type"})).status_code == 401
    reply = await client.post(
        "/api/v1/statistics/publications",
        headers=admin,
        json={"title": f"{LAST_YEAR}年技术市场统计", "year": LAST_YEAR},
    )
    assert reply.status_code == 201, reply.text
    region_admin = await login(client, REGION_ADMIN[0])
    denied = await client.post(
        "/api/v1/statistics/publications", headers=region_admin, json={"title": "x年统计", "year": LAST_YEAR}
    )
    assert denied.status_code == 403
    async with database.unit_of_work() as session:  # later registrations do not change what was published
        session.add(
            contract_row(
                orgs,
                orgs.ids["演示大学 (内蒙古)"],
                orgs.ids["北京测试企业"],
                total_fen=1_00,
                registered_at=datetime(LAST_YEAR, 3, 1, tzinfo=UTC),
                seq=56,
            )
        )
    public = (await client.get("/api/v1/statistics/published")).json()
    assert public["total"] == 1
    summary = public["items"][0]["summary"]
    assert summary["seller"]["overall"]["turnover"] == "500000.00"
    assert {r["key"]: r["turnover"] for r in summary["seller"]["flow"]}["out_of_region"] == "500000.00"
