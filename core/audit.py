"""Append-only audit trail: who did what to which record, when, from which state to which, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    entity_type: str = Field(max_length=32)
    entity_id: int
    action: str = Field(max_length=32)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=1000)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def audit_row(
    entity_type: str,
    entity_id: int,
    action: str,
    *,
    actor_user_id: int | None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_user_id=actor_user_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        changes=changes or {},
    )


async def record(session: AsyncSession, entity_type: str, entity_id: int, action: str, **fields: Any) -> AuditEntry:
    entry = audit_row(entity_type, entity_id, action, **fields)
    session.add(entry)
    await session.flush()
    return entry
