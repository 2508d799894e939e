"""Lists paged in the database: walking every page of a list longer than one page gives back the
whole list, in its order, each row once, with the same total on every page (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import httpx

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from tests.contracts.conftest import published_achievement
from tests.contracts.helpers import INSTITUTE, headers_of
from tests.fixtures.app import login
from tests.market.test_listings import ENTERPRISE, demand
from tests.search.test_matching import _published


async def walk(client: httpx.AsyncClient, url: str, headers: dict[str, str], limit: int) -> list[dict[str, Any]]:
    """Every item of the list, page by page; each page's total must be the length of the whole."""
    whole = (await client.get(url, params={"limit": 100}, headers=headers)).json()
    assert whole["total"] == len(whole["items"]) > limit
    walked: list[dict[str, Any]] = []
    for offset in range(0, whole["total"] + limit, limit):
        reply = await client.get(url, params={"limit": limit, "offset": offset}, headers=headers)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        assert (page["total"], page["limit"], page["offset"]) == (whole["total"], limit, offset)
        assert len(page["items"]) == max(0, min(limit, whole["total"] - offset))
        walked += page["items"]
    assert walked == whole["items"]
    return walked


async def test_api_keys_page_in_creation_order(client: httpx.AsyncClient) -> None:
    headers = await login(client, INSTITUTE)
    names = [f"同步 {n}" for n in range(7)]
    for name in names:
        assert (await client.post("/api/v1/api-keys", json={"name": name}, headers=headers)).status_code == 201
    items = await walk(client, "/api/v1/api-keys", headers, 3)
    assert [k["name"] for k in items][-7:] == names


async def test_subscriptions_page_in_creation_order(client: httpx.AsyncClient) -> None:
    headers = await login(client, ENTERPRISE)
    queries = [f"稀土永磁 {n}" for n in range(5)]
    for query in queries:
        body = {"query": query, "target_kind": "achievement", "threshold": 0.5}
        assert (await client.post("/api/v1/subscriptions", json=body, headers=headers)).status_code == 201
    items = await walk(client, "/api/v1/subscriptions", headers, 2)
    assert [s["query"] for s in items] == queries


async def test_deal_messages_and_deals_page_in_order(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    deals = []
    for _ in range(3):
        achievement = await published_achievement(database, INSTITUTE)
        reply = await client.post(
            "/api/v1/deals", json={"achievement_id": achievement, "message": "有意购买"}, headers=h["buyer"]
        )
        assert reply.status_code == 201, reply.text
        deals.append(reply.json()["id"])
    bodies = [f"报价 {n} 万元" for n in range(6)]
    for body in bodies:
        url = f"/api/v1/deals/{deals[0]}/messages"
        assert (await client.post(url, json={"body": body}, headers=h["seller"])).status_code == 201
    messages = await walk(client, f"/api/v1/deals/{deals[0]}/messages", h["buyer"], 4)
    assert [m["body"] for m in messages][-6:] == bodies
    listed = await walk(client, "/api/v1/deals", h["buyer"], 2)
    assert [d["id"] for d in listed] == sorted(deals, reverse=True)


async def test_listing_audit_trail_pages_in_order(client: httpx.AsyncClient) -> None:
    owner, admin = await login(client, ENTERPRISE), await login(client, PLATFORM_ADMIN_EMAIL)
    listing = await _published(client, owner, "demands", demand())
    entries = await walk(client, f"/api/v1/demands/{listing['id']}/audit", admin, 1)
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
