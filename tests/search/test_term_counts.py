"""Term counts shared through the database: a fresh process does not count again what another one
counted, and publishing a listing counts ahead what its matches will need. PostgreSQL only: on
SQLite a search's own request transaction holds the write lock, so counts stay per process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.db import Database
from core.settings import Settings
from market.listings.kinds import ACHIEVEMENT
from search.adapters import build_engine
from search.adapters.meilisearch import MeilisearchEngine
from search.matching.service import engine_queries, query_profile
from search.outbox_relay import relay_once
from search.query import SearchQuery
from search.term_counts import TermCounts
from search.text import analyze_query
from tests.fixtures.meilisearch import MeiliServer
from tests.search.test_conformance import DOCS, doc
from tests.search.test_relay_and_api import publish


@pytest.fixture
async def engines(meili_server: MeiliServer, database: Database) -> AsyncIterator[Any]:
    """Engines on one Meilisearch index set of their own, each with an empty cache, as fresh processes."""
    prefix = f"tc{uuid.uuid4().hex[:10]}"
    made: list[MeilisearchEngine] = []

    def make(*, shared: bool = True) -> MeilisearchEngine:
        engine = MeilisearchEngine(
            meili_server.url,
            api_key=meili_server.master_key,
            index_prefix=prefix,
            wait_for_tasks=True,
            term_counts=TermCounts(database) if shared else None,
        )
        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.aclose()
    async with httpx.AsyncClient(base_url=meili_server.url, headers=meili_server.headers) as client:
        for kind in ("achievement", "demand"):
            await client.delete(f"/indexes/{prefix}_{kind}")


def count_requests(engine: MeilisearchEngine) -> list[list[str]]:
    """Records the count-only requests the engine sends (its candidate pools are federated)."""
    sent: list[list[str]] = []
    original = engine._call

    async def record(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = kwargs.get("json") or {}
        if path == "/multi-search" and "federation" not in body:
            sent.append([query["q"] for query in body["queries"]])
        return await original(method, path, **kwargs)

    engine._call = record  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_a_fresh_process_uses_the_counts_another_one_made(engines: Any) -> None:
    first = engines()
    await first.ensure_ready()
    await first.upsert("achievement", [*DOCS, doc(9, "稀土抛光粉回收技术", "废旧抛光粉中稀土的回收。")])
    query = SearchQuery(text="稀土 回收", related=False)  # one query's counts, no related listings
    expected = [hit.id for hit in (await first.search("achievement", query)).hits]

    fresh = engines()
    sent = count_requests(fresh)
    assert [hit.id for hit in (await fresh.search("achievement", query)).hits] == expected
    assert sent == []  # every count came from the database

    alone = engines(shared=False)  # the same, without the shared counts: it has to count first
    sent_alone = count_requests(alone)
    assert [hit.id for hit in (await alone.search("achievement", query)).hits] == expected
    assert len(sent_alone) == 1 and '"稀 土"' in sent_alone[0]

    filtered = SearchQuery(
        text="稀土 回收", regions=["150000"], related=False
    )  # counts under a filter stay per process
    sent_filtered = count_requests(fresh)
    await fresh.search("achievement", filtered)
    assert len(sent_filtered) == 1


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_publishing_counts_ahead_what_its_matches_will_need(
    app: FastAPI, client: httpx.AsyncClient, database: Database, engines: Any
) -> None:
    relay = engines()
    await relay.ensure_ready()
    await relay.upsert("demand", [doc(50, "风电叶片回收需求", "退役风电叶片堆积, 寻求回收利用技术。", kind="demand")])
    item = await publish(client, title="风电叶片复合材料回收利用技术", keywords=["风电叶片", "复合材料"])
    assert await relay_once(database, relay) >= 1  # indexes the achievement, then counts its match terms

    searches = engine_queries(query_profile(ACHIEVEMENT, item["title"], item["summary"], item["keywords"]), {})
    terms = {term.key for search in searches for term in analyze_query(search.text, expand=False).terms}
    stored = await TermCounts(database).get(relay.uid("demand"), sorted(terms))
    assert set(stored) == terms  # against the demands it will be matched with

    fresh = engines()
    sent = count_requests(fresh)
    for search in searches:
        await fresh.search("demand", search)
    assert sent == []  # its first match did not wait for a count


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_on_sqlite_counts_stay_per_process(database: Database, meili_server: MeiliServer) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        TermCounts(database)
    settings = Settings(search_url=meili_server.url, search_key=meili_server.master_key, search_index_prefix="tcsqlite")
    engine = build_engine(settings, database)
    try:
        assert engine.warms_term_counts is False  # nothing shared, nothing counted ahead
    finally:
        await engine.aclose()
