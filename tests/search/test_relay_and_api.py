"""Listing changes reach the index through the outbox; search answers through the API."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from core.db import Database
from core.outbox import OutboxEvent
from core.settings import Settings
from market.demo import PLATFORM_ADMIN_EMAIL
from search.adapters import build_engine
from search.outbox_relay import ENGINE_DOWN, PROBE_SECONDS, SearchRelay, reindex, relay_once
from search.query import SearchQuery
from tests.fixtures.app import login
from tests.market.test_listings import INSTITUTE, achievement


async def publish(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    owner = await login(client, INSTITUTE)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    created = (await client.post("/api/v1/achievements", json=achievement(**overrides), headers=owner)).json()
    await client.post(f"/api/v1/achievements/{created['id']}/submit", headers=owner)
    reply = await client.post(f"/api/v1/achievements/{created['id']}/approve", headers=admin)
    assert reply.status_code == 200, reply.text
    return created


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    reply = await client.get("/api/v1/search/achievements", params={"q": q, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_published_listing_becomes_findable_and_withdrawn_disappears(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    item = await publish(client)
    assert (await search(client, "钕铁硼"))["total"] == 0  # the request did not wait for the engine
    assert await relay_once(database, app.state.search) >= 1
    found = await search(client, "钕铁硼永磁")
    assert [hit["listing"]["id"] for hit in found["items"]] == [item["id"]]
    assert "<em>" in found["items"][0]["highlights"]["title"]
    assert found["facets"]["field"] == {"new_materials": 1}
    assert await relay_once(database, app.state.search) == 0  # nothing left: each event handled once

    owner = await login(client, INSTITUTE)
    await client.post(f"/api/v1/achievements/{item['id']}/withdraw", headers=owner)
    # Before the relay runs, the API already hides it (the database wins over a lagging index).
    assert (await search(client, "钕铁硼永磁"))["items"] == []
    await relay_once(database, app.state.search)
    assert (await search(client, "钕铁硼永磁"))["total"] == 0


async def test_writes_succeed_while_engine_is_down_and_index_catches_up(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    down = build_engine(
        settings.model_copy(
            update={"search_url": f"http://127.0.0.1:{closed_port}", "search_key": "k", "search_timeout_seconds": 0.5}
        )
    )
    item = await publish(client)  # the write does not touch the engine
    relay = SearchRelay(database, down)
    assert await relay.step() == 0  # failed: kept, not lost
    event = await search_event(database, item["id"])
    assert (event.processed_at, event.attempts, event.last_error) == (None, 1, ENGINE_DOWN)
    calls = 0
    health = down.health

    async def counted_health() -> bool:
        nonlocal calls
        calls += 1
        return await health()

    down.health = counted_health  # type: ignore[method-assign]
    assert [await relay.step() for _ in range(5)] == [0] * 5  # while down: no write attempt, at most one probe
    assert calls <= 1 and (await search_event(database, item["id"])).attempts == 1
    await down.aclose()

    embedded = build_engine(settings)
    await embedded.ensure_ready()
    try:
        relay.engine = embedded  # the engine is back: its health check passes at the next probe
        await asyncio.sleep(PROBE_SECONDS)
        assert await relay.step() >= 1  # at once, no backoff waited out
        assert item["id"] in [hit.id for hit in (await embedded.search("achievement", SearchQuery(text="钕铁硼"))).hits]
    finally:
        await embedded.aclose()


async def search_event(database: Database, listing_id: int) -> OutboxEvent:
    async with database.sessionmaker() as session:
        statement = select(OutboxEvent).where(OutboxEvent.key == f"achievement:{listing_id}").order_by(OutboxEvent.id)  # type: ignore[arg-type]  # the head: the one claimed first
        return (await session.execute(statement)).scalars().first()  # type: ignore[return-value]


async def test_reindex_rebuilds_from_the_database(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    first = await publish(client)
    second = await publish(client, title="稀土抛光粉回收再生技术", keywords=["抛光粉", "回收"])
    assert await reindex(database, app.state.search, "achievement") == 2
    ids = {hit["listing"]["id"] for hit in (await search(client, "稀土"))["items"]}
    assert ids == {first["id"], second["id"]}


async def test_bad_search_input_is_a_clear_4xx(client: httpx.AsyncClient) -> None:
    too_long = await client.get("/api/v1/search/achievements", params={"q": "稀土" * 150})
    assert (too_long.status_code, too_long.json()["code"]) == (422, "query_too_long")
    assert too_long.json()["errors"][0]["field"] == "query.q"
    unknown = await client.get("/api/v1/search/achievements", params={"field": "magic"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "unknown_field"
    injection = await client.get("/api/v1/search/achievements", params={"q": '" OR 1=1 --', "region": "150200"})
    assert injection.status_code == 200
    punctuation = await client.get("/api/v1/search/achievements", params={"q": "!!!，。、"})
    assert punctuation.status_code == 200
    beyond = await client.get("/api/v1/search/achievements", params={"offset": 1000})
    assert beyond.status_code == 200 and beyond.json()["items"] == []


async def test_a_search_few_listings_match_shows_related_ones_after_them_unless_asked_not_to(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    """The API carries the flag a page needs to set related listings apart, and ``related=false``
    gives the matches alone."""
    phosphor = await publish(
        client,
        title="植物补光灯用远红光荧光粉",
        summary="铕掺杂荧光粉发射730纳米远红光, 用于温室植物补光灯, 促进开花。",
        keywords=["远红光", "荧光粉"],
    )
    film = await publish(
        client,
        title="转光农膜",
        summary="农膜中添加远红光荧光粉, 把紫外光转换为作物生长所需的远红光, 大棚番茄增产一成。",
        keywords=["农膜"],
    )
    await relay_once(database, app.state.search)
    found = await search(client, "植物补光")
    assert [(item["listing"]["id"], item["related"]) for item in found["items"]] == [
        (phosphor["id"], False),
        (film["id"], True),
    ]
    assert found["total"] == 2
    alone = await search(client, "植物补光", related="false")
    assert ([item["listing"]["id"] for item in alone["items"]], alone["total"]) == ([phosphor["id"]], 1)
