"""Numbers from the API equal plain SQL GROUP BY over the contracts table, to the fen, on both
dialects — also after an amount correction, a termination, and a contract deleted outright."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select, text

from contracts.contract.models import Contract, ContractStatus, ContractType
from contracts.statistics.dimensions import IP_RANK, NO_IP, Flow, flow_of, raw_flow
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login
from tests.statistics.helpers import (
    COUNTED,
    LAST_YEAR,
    THIS_YEAR,
    api_cells,
    contract_row,
    month_sql,
    organizations,
    plain_group_by,
    random_contracts,
)

SINCE, UNTIL = date(LAST_YEAR, 1, 1), date(THIS_YEAR + 1, 1, 1)
PERIOD = {"start": f"{LAST_YEAR}-01", "end": f"{THIS_YEAR}-12"}


async def _api(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    reply = await client.get("/api/v1/statistics/aggregates", params={**PERIOD, **params}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _expected_ip(database: Database, region_column: str, prefix: str) -> dict[str, tuple[int, int, int]]:
    """Each contract under its strongest IP type ('none' without achievements), summed in Python."""
    async with database.unit_of_work() as session:
        rows = (
            await session.execute(
                text(
                    f"SELECT c.id, c.total_fen, c.technology_income_fen, a.ip_type FROM contracts c "
                    "LEFT JOIN contract_achievements ca ON ca.contract_id = c.id "
                    "LEFT JOIN achievements a ON a.id = ca.achievement_id "
                    f"WHERE c.status IN {COUNTED} AND c.{region_column} LIKE :p"
                ),
                {"p": f"{prefix}%"},
            )
        ).all()
    best: dict[int, tuple[int, int, str]] = {}
    for cid, total, income, ip in rows:
        current = best.get(cid)
        if current is None or (ip is not None and (current[2] == NO_IP or IP_RANK[ip] < IP_RANK[current[2]])):
            best[cid] = (total, income, ip or NO_IP)
    out: dict[str, list[int]] = {}
    for total, income, ip in best.values():
        cell = out.setdefault(ip, [0, 0, 0])
        cell[0], cell[1], cell[2] = cell[0] + 1, cell[1] + total, cell[2] + income
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


async def _check_everything(
    client: httpx.AsyncClient, headers: dict[str, str], database: Database, scope: str, prefix: str
) -> None:
    dialect = database.dialect
    for side, column, other in (
        ("seller", "seller_region", "buyer_region"),
        ("buyer", "buyer_region", "seller_region"),
    ):
        plain = partial(plain_group_by, database, region_column=column, prefix=prefix, since=SINCE, until=UNTIL)
        for by, key in (
            ("type", "c.type"),
            ("field", "COALESCE(c.field, 'unspecified')"),
            ("seller_kind", "c.seller_kind"),
            ("buyer_kind", "c.buyer_kind"),
            ("region", f"c.{column}"),
            ("month", month_sql(dialect)),
        ):
            body = await _api(client, headers, by=by, side=side, region=scope)
            assert api_cells(body) == await plain(key), (side, by)
        year = await _api(client, headers, by="year", side=side, region=scope)
        months = await plain(month_sql(dialect))
        for y in (LAST_YEAR, THIS_YEAR):
            cells = [v for k, v in months.items() if k.startswith(str(y))]
            expected = tuple(sum(c[i] for c in cells) for i in range(3))
            got = api_cells(year).get(str(y), (0, 0, 0))
            assert got == expected, (side, y)
        quarter = api_cells(await _api(client, headers, by="quarter", side=side, region=scope))
        assert sum(v[1] for v in quarter.values()) == sum(v[1] for v in months.values())
        # Flows: GROUP BY both regions, classified per the documented rule.
        pairs = await plain(f"c.{column} || '>' || c.{other}")
        flows: dict[str, list[int]] = {}
        for pair, values in pairs.items():
            mine, theirs = pair.split(">")
            cell = flows.setdefault(flow_of(raw_flow(mine, theirs).value, scope).value, [0, 0, 0])
            for i in range(3):
                cell[i] += values[i]
        assert api_cells(await _api(client, headers, by="flow", side=side, region=scope)) == {
            k: tuple(v) for k, v in flows.items()
        }
        # IP type, and the overall sum equals the plain total.
        assert api_cells(await _api(client, headers, by="ip_type", side=side, region=scope)) == await _expected_ip(
            database, column, prefix
        )
        overall = (await _api(client, headers, by="type", side=side, region=scope))["overall"]
        totals = await plain("'all'")
        assert (overall["contracts"], overall["turnover"]) == (
            totals.get("all", (0,))[0],
            f"{totals['all'][1] // 100}.{totals['all'][1] % 100:02d}" if totals else "0.00",
        )


async def test_api_equals_plain_sql_through_registration_correction_termination(
    client: httpx.AsyncClient, database: Database
) -> None:
    orgs = await organizations(database)
    ids = await random_contracts(database, orgs, 48)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    await _check_everything(client, admin, database, "all", "")
    await _check_everything(client, admin, database, "150000", "15")

    async with database.unit_of_work() as session:
        counted = (
            (
                await session.execute(
                    select(Contract).where(Contract.id.in_(ids), Contract.status.in_(COUNTED)).order_by(Contract.id)
                )
            )
            .scalars()
            .all()
        )  # type: ignore[attr-defined]
        corrected, terminated, moved = counted[0], counted[1], counted[2]
        corrected.total_fen += 12_345  # 123.45 元 correction of a registered contract
        corrected.technology_income_fen = corrected.total_fen - 1
        terminated.status = ContractStatus.terminated
        moved.field, moved.type = "agriculture", ContractType.consulting
        moved.registered_at = datetime(THIS_YEAR, 6, 30, 16, 30, tzinfo=UTC)  # 1 July in China
        draft = (
            (
                await session.execute(
                    select(Contract).where(Contract.id.in_(ids), Contract.status == ContractStatus.draft)
                )
            )
            .scalars()
            .first()
        )
        if draft is not None:  # a draft's correction is invisible to the statistics until it is registered
            draft.total_fen += 1
    async with database.unit_of_work() as session:
        gone = await session.get(Contract, counted[3].id)
        await session.delete(gone)
    await _check_everything(client, admin, database, "all", "")

    verify = await client.get("/api/v1/statistics/rollups/verify", headers=admin)
    assert verify.json() == {"consistent": True, "mismatches": [], "total": 0}


async def test_a_rolled_back_registration_leaves_no_trace(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    before = await _api(client, admin, by="type", region="all")
    try:
        async with database.unit_of_work() as session:
            session.add(contract_row(orgs, orgs.ids["演示稀土研究院"], orgs.ids["演示乳业科技有限公司"], seq=900))
            await session.flush()
            raise RuntimeError("registration failed after the flush")
    except RuntimeError:
        pass
    assert await _api(client, admin, by="type", region="all") == before


async def test_region_admin_sees_only_their_region(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        baotou, hohhot = orgs.ids["演示稀土研究院"], orgs.ids["演示大学 (内蒙古)"]
        buyer = orgs.ids["北京测试企业"]
        session.add_all(
            [
                contract_row(orgs, baotou, buyer, total_fen=300_00, seq=1),
                contract_row(orgs, hohhot, buyer, total_fen=500_00, seq=2),
                contract_row(orgs, baotou, orgs.ids["Test Corp (USA)"], total_fen=700_00, seq=3),
            ]
        )
    region = await login(client, REGION_ADMIN[0])
    march = {"start": f"{THIS_YEAR}-03", "end": f"{THIS_YEAR}-03"}  # the month of these contracts only
    body = await _api(client, region, by="region", **march)
    assert body["region"] == "150200" and {i["key"] for i in body["items"]} == {"150200"}
    assert body["overall"]["turnover"] == "1000.00"
    flows = {i["key"]: i["turnover"] for i in (await _api(client, region, by="flow", **march))["items"]}
    assert flows == {Flow.in_region.value: "0.00", Flow.out_of_region.value: "300.00", Flow.abroad.value: "700.00"}

    for params, status, code in (
        ({"region": "150100"}, 403, "region_out_of_scope"),
        ({"region": "all"}, 403, "region_out_of_scope"),
        ({"region": "159999"}, 422, "unknown_region"),
    ):
        reply = await client.get("/api/v1/statistics/aggregates", params={"by": "type", **params}, headers=region)
        assert (reply.status_code, reply.json()["code"]) == (status, code)
    member = await login(client, "univ@demo.techmarket.cn")
    reply = await client.get("/api/v1/statistics/aggregates", params={"by": "type"}, headers=member)
    assert (reply.status_code, reply.json()["code"]) == (403, "statistics_admin_required")
    assert (await client.get("/api/v1/statistics/aggregates", params={"by": "type"})).status_code == 401


async def test_bad_input_is_a_clear_4xx(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    cases = [
        ({"by": "colour"}, "validation_error"),
        ({"by": "type", "start": f"{THIS_YEAR}-05", "end": f"{THIS_YEAR}-02"}, "inverted_period"),
        ({"by": "type", "start": "2026-13"}, "invalid_period"),
        ({"by": "type", "year": 1066}, "period_out_of_range"),
        ({"by": "type", "year": 99999}, "period_out_of_range"),
        ({"by": "type", "year": THIS_YEAR, "start": f"{THIS_YEAR}-01"}, "invalid_period"),
        ({"by": "type", "quarter": 2}, "invalid_period"),
        ({"by": "type", "side": "middle"}, "validation_error"),
    ]
    for params, code in cases:
        reply = await client.get("/api/v1/statistics/aggregates", params=params, headers=admin)
        assert reply.status_code == 422 and reply.json()["code"] == code, (params, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
