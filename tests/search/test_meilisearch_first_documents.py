"""A search that reaches a Meilisearch index in the moment before its first documents land."""

from __future__ import annotations

import uuid

from search.adapters.meilisearch import NOTHING_INDEXED, TEXT_ATTRIBUTES, MeilisearchEngine
from tests.fixtures.meilisearch import MeiliServer
from tests.search.test_conformance import DEMAND


async def test_an_index_empty_when_it_answered_is_empty_even_if_documents_landed_since(
    meili_server: MeiliServer,
) -> None:
    """An import's first batch can land between the refusal and the engine's look at the index:
    that search saw an empty index, not an outage, so it answers nothing rather than 503."""
    engine = MeilisearchEngine(
        meili_server.url, api_key=meili_server.master_key, index_prefix=f"t{uuid.uuid4().hex[:12]}"
    )
    try:
        await engine.ensure_ready()
        search = {"indexUid": engine.uid("demand"), "q": "稀土", "attributesToSearchOn": TEXT_ATTRIBUTES}
        refused = await engine._call("POST", "/multi-search", json={"queries": [search]}, allow=NOTHING_INDEXED)
        assert refused.get("code") == "invalid_search_attributes_to_search_on", refused
        await engine.upsert("demand", [DEMAND])
        assert await engine._nothing_indexed(refused)
    finally:
        await engine.aclose()
