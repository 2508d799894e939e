"""Matching's candidate pool on Meilisearch leaves out the sub-queries that cannot reach it, and
finds exactly the same candidates without them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from search.adapters import meilisearch as adapter
from search.adapters.meilisearch import MeilisearchEngine, outranked
from search.query import SearchQuery
from search.text import Term
from tests.fixtures.meilisearch import MeiliServer
from tests.search.test_conformance import doc


def test_a_phrase_filling_the_pool_outranks_terms_below_its_floor() -> None:
    strong, middle, weak = Term("稀土", 1.0), Term("永磁", 1.0), Term("材料", 1.0)
    weights = {strong.key: 1.0, middle.key: 0.6, weak.key: 0.4}
    assert outranked([strong, middle, weak], weights, {strong.key: 50, middle.key: 5, weak.key: 900}, 50) == {weak.key}
    # in fewer documents than the pool holds, it leaves room for every other term
    assert outranked([strong, middle, weak], weights, {strong.key: 49, middle.key: 5, weak.key: 900}, 50) == set()


def test_a_word_that_may_carry_typos_outranks_nothing() -> None:
    typed, other = Term("battery", 1.0), Term("材料", 1.0)
    assert typed.typo_budget  # its matches with a typo score lower than any phrase's
    assert outranked([typed, other], {typed.key: 1.0, other.key: 0.1}, {typed.key: 500, other.key: 500}, 50) == set()


async def test_the_pool_is_the_same_without_the_outranked_sub_queries(
    meili_server: MeiliServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MeilisearchEngine(
        meili_server.url, api_key=meili_server.master_key, index_prefix=f"p{uuid.uuid4().hex[:10]}", wait_for_tasks=True
    )
    sent: list[int] = []
    original = engine._call

    async def record(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if "federation" in (kwargs.get("json") or {}):
            sent.append(len(kwargs["json"]["queries"]))
        return await original(method, path, **kwargs)

    engine._call = record  # type: ignore[method-assign]
    try:
        await engine.ensure_ready()
        rare = [doc(i, f"稀土抛光粉回收 {i}", "回收工艺") for i in range(1, 61)]
        common = [doc(i, f"复合材料 {i}", "材料性能") for i in range(61, 141)]
        await engine.upsert("achievement", rare + common)
        query = SearchQuery(text="稀土 材料", candidates_only=True, limit=50, term_weights={"稀土": 1.0, "材料": 0.3})
        pooled = [hit.id for hit in (await engine.search("achievement", query)).hits]
        monkeypatch.setattr(adapter, "outranked", lambda *args: set())
        everything = [hit.id for hit in (await engine.search("achievement", query)).hits]
    finally:
        await engine.aclose()
    assert sent == [1, 2]  # 材料 was left out, then sent
    assert pooled == everything and len(pooled) == 50 and set(pooled) <= {d.id for d in rare}
