"""Transactional outbox: a change and the event announcing it commit together.

Workers claim due events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several can run at once),
hand them to a handler, and mark them done; a failure schedules a retry with backoff. Delivery is
at-least-once, so handlers must be idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import Field, SQLModel, col

from core.types import UTCDateTime, utcnow

MAX_BACKOFF = timedelta(minutes=10)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_due", "processed_at", "available_at"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=64)
    key: str = Field(max_length=128, index=True, description="aggregate the event belongs to; order is kept per key")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    available_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0, nullable=False)
    last_error: str | None = Field(default=None, max_length=2000)


async def enqueue(session: AsyncSession, topic: str, key: str, payload: dict[str, Any]) -> OutboxEvent:
    event = OutboxEvent(topic=topic, key=key, payload=payload)
    session.add(event)
    await session.flush()
    return event


async def claim_due(session: AsyncSession, topics: list[str], limit: int = 100) -> list[OutboxEvent]:
    """The oldest unprocessed event of each (topic, key), if due; locked for this transaction on PostgreSQL.

    Only a key's head event is claimable, and a worker holds its row lock until it commits, so
    events of one key are handled one after another even with several workers.
    """
    earlier = aliased(OutboxEvent)
    earlier_pending = (
        select(col(earlier.id))
        .where(col(earlier.topic) == OutboxEvent.topic, col(earlier.key) == OutboxEvent.key)
        .where(col(earlier.processed_at).is_(None), col(earlier.id) < OutboxEvent.id)
        .exists()
    )
    statement = (
        select(OutboxEvent)
        .where(col(OutboxEvent.topic).in_(topics))
        .where(col(OutboxEvent.processed_at).is_(None))
        .where(col(OutboxEvent.available_at) <= utcnow())
        .where(~earlier_pending)
        .order_by(col(OutboxEvent.id))
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=OutboxEvent)
    return list((await session.execute(statement)).scalars())


async def by_ids(session: AsyncSession, event_ids: list[int]) -> list[OutboxEvent]:
    if not event_ids:
        return []
    statement = select(OutboxEvent).where(col(OutboxEvent.id).in_(event_ids))
    return list((await session.execute(statement)).scalars())


async def pending_keys(session: AsyncSession, topic: str, *, prefix: str = "") -> set[str]:
    """Keys of a topic with an event not yet processed (their change is still on its way)."""
    statement = (
        select(col(OutboxEvent.key))
        .where(col(OutboxEvent.topic) == topic, col(OutboxEvent.processed_at).is_(None))
        .where(col(OutboxEvent.key).startswith(prefix))
        .distinct()
    )
    return set((await session.execute(statement)).scalars())


async def mark_processed(session: AsyncSession, event_ids: list[int]) -> None:
    if event_ids:
        await session.execute(
            update(OutboxEvent).where(col(OutboxEvent.id).in_(event_ids)).values(processed_at=utcnow())
        )


def schedule_retry(event: OutboxEvent, error: str) -> None:
    event.attempts += 1
    event.last_error = error[:2000]
    event.available_at = utcnow() + min(MAX_BACKOFF, timedelta(seconds=2**event.attempts))


def release(event: OutboxEvent, error: str) -> None:
    """Give a leased event back, due at once, counting the attempt: the failure was not the event's
    (a dependency out of reach), so the caller decides when to try again, not a backoff."""
    event.attempts += 1
    event.last_error = error[:2000]
    event.available_at = utcnow()


def lease(events: list[OutboxEvent], seconds: float) -> None:
    """Hide claimed events for ``seconds`` so the work (e.g. an HTTP call) can run outside the
    transaction; a worker that dies mid-way leaves them to be claimed again when the lease ends."""
    until = utcnow() + timedelta(seconds=seconds)
    for event in events:
        event.available_at = until
