"""A 旗县 (150203 昆都仑区 of 包头) through the whole market, on SQLite and PostgreSQL: accepted, found
under its 盟市 and province, reviewed by its 盟市's office only, counted under its 盟市 in statistics."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from contracts.statistics.rollups import rebuild, verify
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN, demo_uscc
from search.outbox_relay import relay_once
from tests.fixtures.app import login
from tests.market.test_listings import achievement
from tests.statistics.helpers import THIS_YEAR, contract_row, organizations

KUNDULUN = "150203"  # 昆都仑区, 包头市
QINGSHAN = "150204"  # 青山区, 包头市
MARCH = {"start": f"{THIS_YEAR}-03", "end": f"{THIS_YEAR}-03"}  # the month contract_row registers in


async def _county_organization(client: httpx.AsyncClient) -> dict[str, str]:
    """A verified enterprise registered in 昆都仑区; returns its admin's headers."""
    body = {
        "organization": {
            "kind": "enterprise",
            "name": "昆都仑测试稀土有限公司",
            "uscc": demo_uscc(61, KUNDULUN),
            "region": KUNDULUN,
        },
        "admin": {"email": "kdl@example.cn", "full_name": "包头张工", "password": "Grassland2026"},
    }
    reply = await client.post("/api/v1/organizations/register", json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["organization"]["region"] == KUNDULUN
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    organization_id = reply.json()["organization"]["id"]
    assert (await client.post(f"/api/v1/organizations/{organization_id}/verify", headers=admin)).status_code == 200
    return await login(client, "kdl@example.cn", "Grassland2026")


async def _chifeng_office(client: httpx.AsyncClient) -> dict[str, str]:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    body = {"email": "cf@example.cn", "full_name": "赤峰管理员", "password": "Grassland2026", "region_scope": "150400"}
    assert (await client.post("/api/v1/admin/region-admins", json=body, headers=admin)).status_code == 201
    return await login(client, "cf@example.cn", "Grassland2026")


async def _search(client: httpx.AsyncClient, region: str) -> list[int]:
    reply = await client.get("/api/v1/search/achievements", params={"q": "钕铁硼", "region": region})
    assert reply.status_code == 200, reply.text
    return [hit["listing"]["id"] for hit in reply.json()["items"]]


async def test_a_county_listing_is_accepted_reviewed_by_its_league_office_and_found_under_it(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await _county_organization(client)
    created = await client.post("/api/v1/achievements", json=achievement(region=KUNDULUN), headers=owner)
    assert created.status_code == 201, created.text
    listing = created.json()
    assert listing["region"] == KUNDULUN
    assert (await client.post(f"/api/v1/achievements/{listing['id']}/submit", headers=owner)).status_code == 200

    baotou, chifeng = await login(client, REGION_ADMIN[0]), await _chifeng_office(client)
    queue = {"status": "submitted", "limit": 100}
    baotou_queue = (await client.get("/api/v1/achievements", params=queue, headers=baotou)).json()["items"]
    chifeng_queue = (await client.get("/api/v1/achievements", params=queue, headers=chifeng)).json()["items"]
    assert listing["id"] in [i["id"] for i in baotou_queue]
    assert listing["id"] not in [i["id"] for i in chifeng_queue]
    refused = await client.post(f"/api/v1/achievements/{listing['id']}/approve", headers=chifeng)
    assert refused.status_code in (403, 404), refused.text
    approved = await client.post(f"/api/v1/achievements/{listing['id']}/approve", headers=baotou)
    assert approved.status_code == 200 and approved.json()["status"] == "published", approved.text

    await relay_once(database, app.state.search)
    for region in (KUNDULUN, "150200", "150000"):  # the 旗县 itself, its 盟市, its province
        assert listing["id"] in await _search(client, region), region
    for region in ("150400", QINGSHAN, "110000"):  # another 盟市, another 旗县 of 包头, another province
        assert listing["id"] not in await _search(client, region), region


async def _aggregate(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, str]:
    reply = await client.get("/api/v1/statistics/aggregates", params={**MARCH, **params}, headers=headers)
    assert reply.status_code == 200, reply.text
    return {item["key"]: item["turnover"] for item in reply.json()["items"] if item["contracts"]}


async def test_county_contracts_count_under_their_league(client: httpx.AsyncClient, database: Database) -> None:
    orgs = await organizations(database)
    seller, beijing = orgs.ids["演示稀土研究院"], orgs.ids["北京测试企业"]
    async with database.unit_of_work() as session:
        out_of_province = contract_row(orgs, seller, beijing, total_fen=300_00, seq=1)
        within_baotou = contract_row(orgs, seller, beijing, total_fen=500_00, seq=2)
        out_of_province.seller_region = KUNDULUN
        within_baotou.seller_region, within_baotou.buyer_region = KUNDULUN, QINGSHAN
        session.add_all([out_of_province, within_baotou])
    admin, baotou = await login(client, PLATFORM_ADMIN_EMAIL), await login(client, REGION_ADMIN[0])

    # 输出 and 吸纳 by 盟市: the 旗县 counts under 包头; inside 包头's own view each 旗县 is a row.
    assert await _aggregate(client, admin, by="region", side="seller") == {"150200": "800.00"}
    assert await _aggregate(client, admin, by="region", side="buyer") == {"150200": "500.00"}
    everywhere = await _aggregate(client, admin, by="region", side="buyer", region="all")
    assert everywhere == {"110000": "300.00", "150200": "500.00"}
    assert await _aggregate(client, baotou, by="region", side="seller") == {KUNDULUN: "800.00"}
    assert await _aggregate(client, admin, by="region", side="seller", region="150400") == {}
    # Two 旗县 of one 盟市 trade inside it (区域内), for 包头 and for the province alike.
    assert await _aggregate(client, baotou, by="flow", side="seller") == {
        "in_region": "500.00",
        "out_of_region": "300.00",
    }

    # The incremental rollups, their rebuild in SQL, and a GROUP BY over contracts agree.
    async with database.unit_of_work() as session:
        assert await verify(session) == []
        await rebuild(session)
        assert await verify(session) == []
