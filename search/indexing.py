"""From listings to search documents, and the outbox relay that keeps the engine in step.

The relay never trusts an event's payload for content: it re-reads the listing, so replaying an
event (at-least-once delivery) or skipping a superseded one cannot leave stale text in the index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable

import structlog

from core import outbox
from core.db import Database
from market.identity.models import Organization
from market.listings.kinds import KINDS
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.service import SEARCH_TOPIC
from search.documents import SearchDocument
from search.engine import SearchEngine
from search.errors import SearchUnavailable
from search.matching.service import body_of, warm_match_counts
from search.repository import SearchRepository

log = structlog.get_logger("techmarket.search.relay")
WARM_AT_MOST = 20  # listings of one kind per relayed batch whose match terms are counted ahead


def document_for(row: Achievement | Demand, owner: Organization) -> SearchDocument:
    common = {
        "id": row.id,
        "external_id": row.external_id,
        "title": row.title,
        "keywords": row.keywords,
        "field": row.field,
        "region": row.region,
        "transaction_modes": row.transaction_modes,
        "owner_id": row.owner_id,
        "owner_name": owner.name,
        "owner_kind": owner.kind.value,
        "published_at": row.published_at or row.updated_at,
    }
    if isinstance(row, Achievement):
        return SearchDocument(
            kind="achievement", body=row.summary, maturity=row.maturity.value, trl=row.trl,
            ip_type=row.ip_type.value, price_fen=row.price_fen, **common,
        )
    return SearchDocument(
        kind="demand", body=row.description, maturity=row.min_maturity.value if row.min_maturity else None,
        price_fen=row.budget_max_fen, **common,
    )


async def relay_once(database: Database, engine: SearchEngine, *, limit: int = 200) -> int:
    """Claim due events, bring the engine in line with the database, mark them done. Returns how many.

    Then, outside the transaction, count ahead the terms the published listings' matches will need
    (a cache: failing or skipping costs their first match a count round trip, nothing else)."""
    published: dict[str, list[tuple[str, str, list[str]]]] = {}
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [SEARCH_TOPIC], limit=limit)
        if not events:
            return 0
        ids_by_kind: dict[str, set[int]] = defaultdict(set)
        for event in events:
            ids_by_kind[event.payload["kind"]].add(int(event.payload["id"]))
        repository = SearchRepository(session)
        try:
            for kind_name, ids in ids_by_kind.items():
                rows = await repository.with_owners(KINDS[kind_name].model, sorted(ids))
                rows = [(row, owner) for row, owner in rows if row.status == ListingStatus.published]
                live = [document_for(row, owner) for row, owner in rows]
                published[kind_name] = [(row.title, body_of(row), list(row.keywords)) for row, _ in rows]
                gone = sorted(ids - {doc.id for doc in live})
                if live:
                    await engine.upsert(kind_name, live)  # type: ignore[arg-type]
                if gone:
                    await engine.delete(kind_name, gone)  # type: ignore[arg-type]
        except SearchUnavailable as exc:
            for event in events:
                outbox.schedule_retry(event, exc.title)
            log.warning("search_relay_engine_unavailable", events=len(events), retry_in_s=2 ** events[0].attempts)
            return 0
        await outbox.mark_processed(session, [event.id for event in events if event.id is not None])
    for kind_name, listings in published.items():
        if len(listings) > WARM_AT_MOST:
            continue  # a bulk import: ~2.5 ms of analysis per listing; their first matches count instead
        try:
            await warm_match_counts(engine, KINDS[kind_name], listings)
        except SearchUnavailable:
            log.warning("search_relay_counts_skipped", kind=kind_name, listings=len(listings))
    return len(events)


async def published_documents(database: Database, kind_name: str) -> AsyncIterator[SearchDocument]:
    async with database.sessionmaker() as session:
        async for row, owner in SearchRepository(session).published_with_owners(KINDS[kind_name].model):
            yield document_for(row, owner)


async def reindex(database: Database, engine: SearchEngine, kind_name: str, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild one kind's index from the database and swap it in (searches keep working)."""

    async def counted() -> AsyncIterator[SearchDocument]:
        async for doc in published_documents(database, kind_name):
            if progress:
                progress(1)
            yield doc

    return await engine.rebuild(kind_name, counted())  # type: ignore[arg-type]


async def count_published(database: Database, kind_name: str) -> int:
    async with database.sessionmaker() as session:
        return await SearchRepository(session).count_published(KINDS[kind_name].model)
