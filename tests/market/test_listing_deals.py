"""A listing follows the contracts on it: a completed transfer closes it as 已转让 and out of search, a
completed licence is recorded and keeps it open, a signed contract holds its price. Both dialects;
the index is the embedded engine, and Meilisearch once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col

from contracts.contract.models import Milestone, MilestoneStatus
from core.db import Database
from core.types import utcnow
from market.demo import PLATFORM_ADMIN_EMAIL
from market.listings.schemas import china_today
from search.adapters.meilisearch import MeilisearchEngine
from search.outbox_relay import relay_once
from search.pipeline import SearchEngine
from search.query import SearchQuery
from tests.contracts.conftest import org_id
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, noticed, transfer_contract
from tests.fixtures.app import login
from tests.fixtures.meilisearch import MeiliServer
from tests.search.test_relay_and_api import publish

CONTRACTS = "/api/v1/contracts"
TERM = "镝铽双合金"  # in no demo listing: what the index holds under it is this test's achievement
LICENCE = {"type": "license", "subtype": "ordinary_license", "title": "钕铁硼晶界扩散专利实施许可合同"}


@pytest.fixture
async def meili(meili_server: MeiliServer) -> AsyncIterator[MeilisearchEngine]:
    engine = MeilisearchEngine(
        meili_server.url, api_key=meili_server.master_key, index_prefix=f"ld{uuid.uuid4().hex[:10]}"
    )
    await engine.ensure_ready()
    yield engine
    await engine.aclose()


async def _relayed(database: Database, engine: SearchEngine) -> list[int]:
    while await relay_once(database, engine):
        pass
    return [hit.id for hit in (await engine.search("achievement", SearchQuery(text=TERM))).hits]


async def _listed(client: httpx.AsyncClient) -> dict[str, Any]:
    return await publish(client, title=f"{TERM}晶界扩散钕铁硼技术")


async def _signed(client: httpx.AsyncClient, database: Database, item: dict[str, Any], **overrides: Any) -> int:
    seller, buyer = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    body = transfer_contract(item["id"], await org_id(database, ENTERPRISE), **overrides)
    created = await client.post(CONTRACTS, json=body, headers=seller)
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    await noticed(client, seller, body)
    for side in (seller, buyer):
        signed = await client.post(f"{CONTRACTS}/{cid}/sign", headers=side)
    assert signed.json()["status"] == "signed", signed.text
    return cid


async def _completed(client: httpx.AsyncClient, database: Database, cid: int) -> None:
    """Performing, every milestone paid (as the payment webhooks record it), claimed and confirmed."""
    seller, buyer = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    moved = await client.post(f"{CONTRACTS}/{cid}/transitions", json={"to": "performing"}, headers=seller)
    assert moved.status_code == 200, moved.text
    async with database.unit_of_work() as session:
        paid = {"status": MilestoneStatus.paid, "paid_at": utcnow()}
        await session.execute(update(Milestone).where(col(Milestone.contract_id) == cid).values(**paid))
    assert (await client.post(f"{CONTRACTS}/{cid}/completion/claim", headers=seller)).status_code == 200
    confirmed = await client.post(f"{CONTRACTS}/{cid}/completion/confirm", headers=buyer)
    assert confirmed.json()["status"] == "completed", confirmed.text


async def _transfer_closes(client: httpx.AsyncClient, database: Database, engine: SearchEngine) -> None:
    owner = await login(client, INSTITUTE)
    item = await _listed(client)
    url = f"/api/v1/achievements/{item['id']}"
    assert item["id"] in await _relayed(database, engine)
    cid = await _signed(client, database, item)
    await _completed(client, database, cid)

    closed = (await client.get(url, headers=owner)).json()
    assert closed["status"] == "transferred"
    assert (await client.get(url)).status_code == 404  # no longer on the market
    assert item["id"] not in await _relayed(database, engine)
    found = await client.get("/api/v1/search/achievements", params={"q": TERM})
    assert item["id"] not in [hit["listing"]["id"] for hit in found.json()["items"]]
    # final: nothing to submit, edit or close any more
    assert (await client.post(f"{url}/submit", headers=owner)).status_code == 409
    assert (await client.patch(url, json={"title": "再次发布"}, headers=owner)).status_code == 409
    trail = (await client.get(f"{url}/audit", headers=await login(client, PLATFORM_ADMIN_EMAIL))).json()["items"]
    assert (trail[-1]["action"], trail[-1]["from_status"], trail[-1]["to_status"]) == (
        "transferred",
        "published",
        "transferred",
    )


async def test_a_completed_transfer_closes_the_achievement_and_takes_it_out_of_search(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    await _transfer_closes(client, database, app.state.search)


async def test_a_completed_transfer_leaves_meilisearch_too(
    client: httpx.AsyncClient, database: Database, meili: MeilisearchEngine
) -> None:
    await _transfer_closes(client, database, meili)


async def test_a_completed_licence_is_recorded_and_the_achievement_stays_open(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await login(client, INSTITUTE)
    item = await _listed(client)
    url = f"/api/v1/achievements/{item['id']}"
    assert (await client.get(url)).json()["licence_count"] == 0
    await _completed(client, database, await _signed(client, database, item, **LICENCE))

    public = (await client.get(url)).json()
    assert public["status"] == "published"
    assert public["licences"] == [
        {"subtype": "ordinary_license", "label": "专利实施许可 (普通)", "granted_on": china_today().isoformat()}
    ]
    assert public["licence_count"] == 1
    assert item["id"] in await _relayed(database, app.state.search)
    # the licence is performed: the price is free again for the next licensee
    reply = await client.patch(url, json={"price": "800000"}, headers=owner)
    assert reply.status_code == 200 and reply.json()["pending_revision"]["price"] == "800000.00"

    await _completed(client, database, await _signed(client, database, item, **LICENCE))
    assert (await client.get(url)).json()["licence_count"] == 2


async def test_a_signed_contract_holds_the_price_until_it_ends(client: httpx.AsyncClient, database: Database) -> None:
    owner, admin = await login(client, INSTITUTE), await login(client, PLATFORM_ADMIN_EMAIL)
    item = await _listed(client)
    url = f"/api/v1/achievements/{item['id']}"
    proposed = await client.patch(url, json={"price": "900000"}, headers=owner)  # proposed before the deal
    assert proposed.status_code == 200
    cid = await _signed(client, database, item, **LICENCE)

    held = await client.patch(url, json={"price": "1"}, headers=owner)
    assert held.status_code == 409 and held.json()["code"] == "price_held_by_contract"
    assert "价格" in held.json()["title"]
    refused = await client.post(f"{url}/approve", headers=admin)  # the earlier proposal cannot land now
    assert refused.status_code == 409 and refused.json()["code"] == "price_held_by_contract"
    assert (await client.get(url)).json()["price"] == item["price"]
    # other edits go on as usual, and so does an unchanged price
    assert (await client.patch(url, json={"title": f"{TERM}扩散技术 (许可中)"}, headers=owner)).status_code == 200
    assert (await client.patch(url, json={"price": item["price"]}, headers=owner)).status_code == 200

    seller = await login(client, INSTITUTE)
    ended = await client.post(f"{CONTRACTS}/{cid}/transitions", json={"to": "terminated"}, headers=seller)
    assert ended.json()["status"] == "terminated", ended.text
    freed = await client.patch(url, json={"price": "700000"}, headers=owner)
    assert freed.status_code == 200 and freed.json()["pending_revision"]["price"] == "700000.00"
