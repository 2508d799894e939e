"""Payments per milestone, their refunds, and the inbox of provider webhook events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class PaymentStatus(StrEnum):
    pending = "pending"  # intent created, not confirmed
    processing = "processing"
    succeeded = "succeeded"
    failed = "failed"


class Payment(SQLModel, table=True):
    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="RESTRICT")
    milestone_id: int = Field(foreign_key="contract_milestones.id", unique=True, ondelete="RESTRICT")
    amount_fen: int = Field(sa_type=BigInteger)
    attempt: int = Field(default=1)
    idempotency_key: str = Field(max_length=64, unique=True)
    provider_intent_id: str | None = Field(default=None, max_length=64, unique=True)
    provider_version: int = Field(default=0)
    status: PaymentStatus = Field(default=PaymentStatus.pending, sa_type=str_enum(PaymentStatus, 16), nullable=False)
    refunded_fen: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    succeeded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentRefund(SQLModel, table=True):
    __tablename__ = "payment_refunds"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True, ondelete="RESTRICT")
    provider_refund_id: str = Field(max_length=64, unique=True)
    amount_fen: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# Results of an event whose intent snapshot was not applied because it does not match what we created.
REFUSED_RESULTS = frozenset(
    {"unknown_intent", "conflicting_intent", "amount_mismatch", "currency_mismatch", "unknown_payout"}
)


class WebhookEvent(SQLModel, table=True):
    """Inbox: every provider event is stored once (unique id) before it is processed."""

    __tablename__ = "payment_webhook_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    result: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=2000)
