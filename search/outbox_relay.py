"""From listings to search documents, and the outbox relay that keeps the engine in step.

The relay never trusts an event's payload for content: it re-reads the listing, so replaying an
event (at-least-once delivery) or skipping a superseded one cannot leave stale text in the index.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from core import outbox
from core.db import Database
from core.observability import SearchIndexMetrics
from market.identity.models import Organization
from market.listings.kinds import KINDS
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.service import SEARCH_TOPIC
from search.documents import SearchDocument
from search.errors import SearchRejected, SearchUnavailable
from search.matching.service import body_of, warm_match_counts
from search.pipeline import SearchEngine
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
            kind="achievement",
            body=row.summary,
            maturity=row.maturity.value,
            trl=row.trl,
            ip_type=row.ip_type.value,
            price_fen=row.price_fen,
            **common,
        )
    return SearchDocument(
        kind="demand",
        body=row.description,
        maturity=row.min_maturity.value if row.min_maturity else None,
        price_fen=row.budget_max_fen,
        **common,
    )


ENGINE_DOWN = "search engine unavailable"
LEASE_SECONDS = 120  # longer than one round's engine calls can take (each task wait is bounded at 30 s)
PROBE_SECONDS = 1.0  # while the engine is down, how often the relay asks its health check
SAME_REASON_GIVE_UP = 3  # documents retried alone that fail as their batch did: the whole index refuses


@dataclass
class RelayRound:
    """What one round did: events applied, events the engine refused (id → reason), engine down."""

    handled: int = 0
    rejected: dict[int, str] = field(default_factory=dict)
    engine_down: bool = False


async def _apply(engine: SearchEngine, kind_name: str, live: list[SearchDocument], gone: list[int]) -> dict[int, str]:
    """Write one kind's changes; returns the listing ids the engine refused, with the reason.

    A refused batch is retried document by document, so one document the engine rejects cannot
    hold back the others; when the first few fail alone for the same reason, the index itself
    refuses (a wrong primary key, a full disk) and the rest are not tried one by one."""
    try:
        if live:
            await engine.upsert(kind_name, live)  # type: ignore[arg-type]
        if gone:
            await engine.delete(kind_name, gone)  # type: ignore[arg-type]
        return {}
    except SearchRejected as batch:
        if len(live) + len(gone) <= 1:
            return {listing_id: batch.reason for listing_id in [*(doc.id for doc in live), *gone]}
        refused: dict[int, str] = {}
        singles: list[tuple[int, Callable[[], Awaitable[None]]]] = [
            *((doc.id, lambda doc=doc: engine.upsert(kind_name, [doc])) for doc in live),  # type: ignore[arg-type]
            *((i, lambda i=i: engine.delete(kind_name, [i])) for i in gone),  # type: ignore[arg-type]
        ]
        for position, (listing_id, write) in enumerate(singles):
            try:
                await write()
            except SearchRejected as alone:
                refused[listing_id] = alone.reason
                if len(refused) == position + 1 == SAME_REASON_GIVE_UP and set(refused.values()) == {batch.reason}:
                    refused.update({other: batch.reason for other, _ in singles[position + 1 :]})
                    break
        return refused


async def relay_round(
    database: Database, engine: SearchEngine, *, limit: int = 200, metrics: SearchIndexMetrics | None = None
) -> RelayRound:
    """Claim due events, bring the engine in line with the database, mark them done.

    The events are leased in a short transaction and settled in another; the engine is written in
    between with no transaction open (on SQLite any open transaction holds the one write lock, and
    a write now waits for the engine's task outcome). Only an applied change marks its event done:
    a refused one backs off with the engine's reason in ``last_error``; with the engine out of reach
    the events stay due and the caller waits for its health check (``SearchRelay``). Then count
    ahead the terms the published listings' matches will need (a cache: skipping costs a count)."""
    result = RelayRound()
    published: dict[str, list[tuple[str, str, list[str]]]] = {}
    changes: dict[str, tuple[list[SearchDocument], list[int]]] = {}
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [SEARCH_TOPIC], limit=limit)
        if not events:
            return result
        outbox.lease(events, LEASE_SECONDS)
        ids_by_kind: dict[str, set[int]] = defaultdict(set)
        for event in events:
            ids_by_kind[event.payload["kind"]].add(int(event.payload["id"]))
        repository = SearchRepository(session)
        for kind_name, ids in ids_by_kind.items():
            rows = await repository.with_owners(KINDS[kind_name].model, sorted(ids))
            rows = [(row, owner) for row, owner in rows if row.status == ListingStatus.published]
            live = [document_for(row, owner) for row, owner in rows]
            published[kind_name] = [(row.title, body_of(row), list(row.keywords)) for row, _ in rows]
            changes[kind_name] = (live, sorted(ids - {doc.id for doc in live}))
        event_ids = [(int(event.id or 0), str(event.payload["kind"]), int(event.payload["id"])) for event in events]
    refused: dict[tuple[str, int], str] = {}
    try:
        for kind_name, (live, gone) in changes.items():
            for listing_id, reason in (await _apply(engine, kind_name, live, gone)).items():
                refused[(kind_name, listing_id)] = reason
            if metrics is not None:
                kind_refused = sum(1 for kind, _ in refused if kind == kind_name)
                metrics.index_writes.labels(kind_name, "applied").inc(len(live) + len(gone) - kind_refused)
                metrics.index_writes.labels(kind_name, "rejected").inc(kind_refused)
    except SearchUnavailable:
        result.engine_down = True
    async with database.unit_of_work() as session:
        done: list[int] = []
        leased = {event.id: event for event in await outbox.by_ids(session, [event_id for event_id, _, _ in event_ids])}
        for event_id, kind_name, listing_id in event_ids:
            held = leased.get(event_id)
            if held is None or held.processed_at is not None:
                continue
            if result.engine_down:
                outbox.release(held, ENGINE_DOWN)
            elif (kind_name, listing_id) in refused:
                reason = refused[(kind_name, listing_id)]
                outbox.schedule_retry(held, f"rejected by the search engine: {reason}")
                result.rejected[event_id] = reason
            else:
                done.append(event_id)
        await outbox.mark_processed(session, done)
    result.handled = len(done)
    if result.engine_down:
        log.warning("search_relay_engine_unavailable", events=len(event_ids))
        return result
    if result.rejected:
        log.error(
            "search_relay_rejected", events=len(result.rejected), reasons=sorted(set(result.rejected.values()))[:5]
        )
    for kind_name, listings in published.items():
        if len(listings) > WARM_AT_MOST:
            continue  # a bulk import: ~2.5 ms of analysis per listing; their first matches count instead
        try:
            await warm_match_counts(engine, KINDS[kind_name], listings)
        except SearchUnavailable:
            log.warning("search_relay_counts_skipped", kind=kind_name, listings=len(listings))
    return result


async def relay_once(
    database: Database, engine: SearchEngine, *, limit: int = 200, metrics: SearchIndexMetrics | None = None
) -> int:
    """One round; returns how many events were applied."""
    return (await relay_round(database, engine, limit=limit, metrics=metrics)).handled


class SearchRelay:
    """The worker's relay: after the engine was out of reach it waits for the engine's health check,
    asked every ``PROBE_SECONDS``, and relays the pending events the moment it passes (they never
    back off for an outage, so recovery does not wait out a backoff)."""

    def __init__(self, database: Database, engine: SearchEngine, *, metrics: SearchIndexMetrics | None = None) -> None:
        self.database = database
        self.engine = engine
        self.metrics = metrics
        self.engine_down = False
        self._probe_at = 0.0

    async def step(self) -> int:
        if self.engine_down:
            if time.monotonic() < self._probe_at:
                return 0
            if not await self.engine.health():
                self._probe_at = time.monotonic() + PROBE_SECONDS
                return 0
            self.engine_down = False
            log.info("search_engine_back")
        outcome = await relay_round(self.database, self.engine, metrics=self.metrics)
        if outcome.engine_down:
            self.engine_down = True
            self._probe_at = time.monotonic() + PROBE_SECONDS
        return outcome.handled


async def published_documents(database: Database, kind_name: str) -> AsyncIterator[SearchDocument]:
    async with database.sessionmaker() as session:
        async for row, owner in SearchRepository(session).published_with_owners(KINDS[kind_name].model):
            yield document_for(row, owner)


async def reindex(
    database: Database, engine: SearchEngine, kind_name: str, progress: Callable[[int], None] | None = None
) -> int:
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
