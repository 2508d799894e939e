"""Smoke test: the real Meilisearch server fixture starts and handles Chinese text."""

from __future__ import annotations

import httpx

from search.adapters.shared import DocumentFrequencies
from tests.fixtures.meilisearch import MeiliServer, wait_for_task


async def test_meilisearch_indexes_and_searches_chinese(meili_server: MeiliServer) -> None:
    async with httpx.AsyncClient(
        base_url=meili_server.url,
        headers={"Authorization": f"Bearer {meili_server.master_key}"},
        timeout=10.0,
        trust_env=False,
    ) as client:
        health = await client.get("/health")
        assert health.json() == {"status": "available"}

        created = await client.post("/indexes", json={"uid": "smoke", "primaryKey": "id"})
        assert created.status_code == 202, created.text
        await wait_for_task(client, created.json()["taskUid"])

        added = await client.post(
            "/indexes/smoke/documents",
            json=[
                {"id": 1, "title": "稀土永磁材料制备技术", "summary": "高性能钕铁硼磁体"},
                {"id": 2, "title": "智能灌溉控制系统", "summary": "基于物联网的节水农业方案"},
            ],
        )
        assert added.status_code == 202, added.text
        await wait_for_task(client, added.json()["taskUid"])

        hits = (await client.post("/indexes/smoke/search", json={"q": "永磁材料"})).json()["hits"]
        assert hits, "expected at least one hit for 永磁材料"
        assert hits[0]["id"] == 1

        other = (await client.post("/indexes/smoke/search", json={"q": "灌溉"})).json()["hits"]
        assert [hit["id"] for hit in other] == [2]


def test_document_frequencies_are_recounted_after_their_ttl_and_stay_bounded() -> None:
    frequencies = DocumentFrequencies(ttl=60, size=2)
    frequencies.put(("idx", "[]", "稀土"), 12, now=0)
    assert frequencies.get(("idx", "[]", "稀土"), now=59) == 12
    assert frequencies.get(("idx", "[]", "稀土"), now=61) is None  # stale: the engine counts it again
    frequencies.put(("idx", "[]", "a"), 1, now=100)
    frequencies.put(("idx", "[]", "b"), 2, now=100)
    frequencies.get(("idx", "[]", "a"), now=100)  # a is now the most recently used
    frequencies.put(("idx", "[]", "c"), 3, now=100)
    assert frequencies.get(("idx", "[]", "b"), now=100) is None
    assert frequencies.get(("idx", "[]", "a"), now=100) == 1 and frequencies.get(("idx", "[]", "c"), now=100) == 3
