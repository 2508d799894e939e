"""The periodic consistency check: published ids in the database against ids in the index.

The relay applies every change, but an index can still drift: a document deleted or added behind
the platform's back, a restored engine backup, an index rebuilt by hand. So now and then one
worker (a lease on the kind's row, so several workers never check at once) reads the index's ids,
then the database's published ids and the listings whose changes are still on their way (pending
search events, which the relay will apply: they are left alone), indexes what is missing and
deletes what is extra, and records the figures (``search_index_checks``, the
``techmarket_search_index_drift`` gauge, ``techmarket reindex --check``).

The index is read before the database: a listing published in between is then in the database
but maybe not in the snapshot of the index, and is written again from the database (harmless);
a listing withdrawn in between still has its event pending, or the relay already deleted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col

from core import outbox
from core.db import Database
from core.observability import SearchIndexMetrics
from core.types import UTCDateTime, utcnow
from market.listings.kinds import KINDS
from market.listings.models import ListingStatus
from market.listings.service import SEARCH_TOPIC
from search.outbox_relay import document_for
from search.pipeline import SearchEngine
from search.repository import SearchRepository

log = structlog.get_logger("techmarket.search.consistency")
CHECK_EVERY = timedelta(minutes=10)
LEASE = timedelta(minutes=10)  # a worker that dies mid-check frees the kind after this
REPAIR_BATCH = 500


class SearchIndexCheck(SQLModel, table=True):
    """One row per kind: the last check's figures, and the lease of the worker running one."""

    __tablename__ = "search_index_checks"

    kind: str = Field(primary_key=True, max_length=32)
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    running_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published: int = Field(default=0, nullable=False)
    indexed: int = Field(default=0, nullable=False)
    missing: int = Field(default=0, nullable=False, description="published, not indexed (then indexed)")
    extra: int = Field(default=0, nullable=False, description="indexed, not published (then deleted)")


@dataclass
class CheckReport:
    kind: str
    published: int
    indexed: int
    missing: list[int]
    extra: list[int]
    repaired: bool


async def _take_turn(database: Database, kind_name: str, every: timedelta) -> bool:
    """Lease the kind's row if its check is due and no one runs it: one atomic UPDATE."""
    now = utcnow()
    table = SearchIndexCheck.__table__  # type: ignore[attr-defined]
    async with database.unit_of_work() as session:
        insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(table)
            .values(kind=kind_name, published=0, indexed=0, missing=0, extra=0)
            .on_conflict_do_nothing(index_elements=["kind"])
        )
        taken = await session.execute(
            update(table)
            .where(table.c.kind == kind_name)
            .where(or_(table.c.running_until.is_(None), table.c.running_until < now))
            .where(or_(table.c.checked_at.is_(None), table.c.checked_at <= now - every))
            .values(running_until=now + LEASE)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


async def check_index(
    database: Database,
    engine: SearchEngine,
    kind_name: str,
    *,
    repair: bool = True,
    metrics: SearchIndexMetrics | None = None,
) -> CheckReport:
    """Compare one kind's published ids with its indexed ids and, with ``repair``, fix the index."""
    model = KINDS[kind_name].model
    indexed = await engine.ids(kind_name)  # type: ignore[arg-type]
    async with database.sessionmaker() as session:
        published = await SearchRepository(session).published_ids(model)
        in_flight = await outbox.pending_keys(session, SEARCH_TOPIC, prefix=f"{kind_name}:")
    settled = {int(key.split(":", 1)[1]) for key in in_flight}
    missing = sorted(published - indexed - settled)
    extra = sorted(indexed - published - settled)
    if repair and (missing or extra):
        for start in range(0, len(missing), REPAIR_BATCH):
            async with database.sessionmaker() as session:
                rows = await SearchRepository(session).with_owners(model, missing[start : start + REPAIR_BATCH])
            docs = [document_for(row, owner) for row, owner in rows if row.status == ListingStatus.published]
            await engine.upsert(kind_name, docs)  # type: ignore[arg-type]
        for start in range(0, len(extra), REPAIR_BATCH):
            await engine.delete(kind_name, extra[start : start + REPAIR_BATCH])  # type: ignore[arg-type]
        log.warning(
            "search_index_repaired",
            kind=kind_name,
            missing=len(missing),
            extra=len(extra),
            missing_ids=missing[:20],
            extra_ids=extra[:20],
        )
    if metrics is not None:
        metrics.drift.labels(kind_name, "missing").set(len(missing))
        metrics.drift.labels(kind_name, "extra").set(len(extra))
        if repair:
            metrics.repairs.labels(kind_name, "indexed").inc(len(missing))
            metrics.repairs.labels(kind_name, "deleted").inc(len(extra))
        metrics.checked.labels(kind_name).set(utcnow().timestamp())
    return CheckReport(kind_name, len(published), len(indexed), missing, extra, repair)


async def _record(database: Database, report: CheckReport | None, kind_name: str) -> None:
    async with database.unit_of_work() as session:
        row = await session.get(SearchIndexCheck, kind_name)
        if row is None:
            return
        row.running_until = None
        if report is not None:
            row.checked_at = utcnow()
            row.published, row.indexed = report.published, report.indexed
            row.missing, row.extra = len(report.missing), len(report.extra)


async def check_when_due(
    database: Database,
    engine: SearchEngine,
    *,
    every: timedelta = CHECK_EVERY,
    metrics: SearchIndexMetrics | None = None,
) -> int:
    """The worker step: check (and repair) each kind whose turn has come; returns how many it checked
    (0 when none was due, so an idle worker sleeps)."""
    checked = 0
    for kind_name in KINDS:
        if not await _take_turn(database, kind_name, every):
            continue
        report: CheckReport | None = None
        try:
            report = await check_index(database, engine, kind_name, metrics=metrics)
            checked += 1
        finally:
            await _record(database, report, kind_name)  # a failed check frees the lease and stays due
        log.info(
            "search_index_checked",
            kind=kind_name,
            published=report.published,
            indexed=report.indexed,
            missing=len(report.missing),
            extra=len(report.extra),
        )
    return checked


async def last_checks(database: Database) -> list[SearchIndexCheck]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(SearchIndexCheck).order_by(col(SearchIndexCheck.kind)))).scalars())
