"""Auctions, their bids and events (the live stream's source), and the deposits with their ledger.

Every bid and extension of a lot takes the next ``event_seq`` of its auction under the auction's row
lock, so a stream reading events after a cursor sees them in the order they were accepted, from any
API process. A deposit's ledger entries are the only record of money moving: ``paid`` adds, and
``refunded``, ``credited`` and ``forfeited`` take away; a closed auction's deposits each sum to zero.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from contracts.contract.models import ContractSubtype, ContractType
from core.types import UTCDateTime, str_enum, utcnow


class AuctionStatus(StrEnum):
    live = "live"  # scheduled or bidding: its times say which
    unsold = "unsold"  # closed with no bid at or above the reserve
    awarded = "awarded"  # closed; the winner has until sign_due_at to sign the contract draft
    contracted = "contracted"  # the winner signed; the deposit was credited to the first milestone
    failed = "failed"  # the winner (and any runner-up offered the lot) did not sign in time


class Auction(SQLModel, table=True):
    __tablename__ = "auctions"
    __table_args__ = (
        CheckConstraint("start_price_fen > 0 AND increment_fen > 0 AND deposit_fen > 0", name="amounts"),
        CheckConstraint("ends_at > starts_at", name="times"),
    )

    id: int | None = Field(default=None, primary_key=True)
    achievement_id: int = Field(foreign_key="achievements.id", index=True, ondelete="RESTRICT")
    seller_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    created_by: int = Field(foreign_key="users.id", ondelete="RESTRICT")
    title: str = Field(max_length=200)
    contract_type: ContractType = Field(sa_type=str_enum(ContractType, 16), nullable=False)
    contract_subtype: ContractSubtype = Field(sa_type=str_enum(ContractSubtype, 32), nullable=False)
    start_price_fen: int = Field(sa_type=BigInteger)
    reserve_fen: int = Field(sa_type=BigInteger)
    increment_fen: int = Field(sa_type=BigInteger)
    deposit_fen: int = Field(sa_type=BigInteger)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)  # moved by extensions
    scheduled_end_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    extension_minutes: int = Field(default=5)
    sign_days: int = Field(default=10)
    status: AuctionStatus = Field(default=AuctionStatus.live, sa_type=str_enum(AuctionStatus, 16), nullable=False)
    current_price_fen: int | None = Field(default=None, sa_type=BigInteger)
    bid_count: int = Field(default=0)
    event_seq: int = Field(default=0)
    leader_org_id: int | None = Field(default=None, foreign_key="organizations.id", ondelete="RESTRICT")
    winner_bid_id: int | None = Field(default=None)
    winner_org_id: int | None = Field(default=None, foreign_key="organizations.id", ondelete="RESTRICT")
    price_fen: int | None = Field(default=None, sa_type=BigInteger)  # the award price
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", ondelete="RESTRICT")
    runner_up_offered: bool = Field(default=False)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sign_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuctionBid(SQLModel, table=True):
    """An accepted bid; refused bids leave no row. Prices and sequence numbers are unique per lot."""

    __tablename__ = "auction_bids"
    __table_args__ = (
        UniqueConstraint("auction_id", "seq", name="uq_auction_bid_seq"),
        UniqueConstraint("auction_id", "amount_fen", name="uq_auction_bid_amount"),
        UniqueConstraint("auction_id", "organization_id", "idempotency_key", name="uq_auction_bid_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auctions.id", index=True, ondelete="RESTRICT")
    seq: int
    organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    user_id: int = Field(foreign_key="users.id", ondelete="RESTRICT")
    amount_fen: int = Field(sa_type=BigInteger)
    idempotency_key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuctionEvent(SQLModel, table=True):
    """What the live stream sends: bids, extensions, the close (``seq`` is the SSE event id)."""

    __tablename__ = "auction_events"
    __table_args__ = (UniqueConstraint("auction_id", "seq", name="uq_auction_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auctions.id", ondelete="RESTRICT")
    seq: int
    kind: str = Field(max_length=16)  # bid | extended | closed
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DepositStatus(StrEnum):
    pending = "pending"  # intent created, money not received yet
    held = "held"
    refund_due = "refund_due"  # the worker refunds it through the provider
    awaiting_signature = "awaiting_signature"  # the winner's, until the contract is signed or the days run out
    refunded = "refunded"
    credited = "credited"  # to the contract's first milestone
    forfeited = "forfeited"
    failed = "failed"  # the payment failed; no money held


HELD = (DepositStatus.held, DepositStatus.refund_due, DepositStatus.awaiting_signature)  # money with us
RESOLVED = (DepositStatus.refunded, DepositStatus.credited, DepositStatus.forfeited, DepositStatus.failed)


class AuctionDeposit(SQLModel, table=True):
    __tablename__ = "auction_deposits"
    __table_args__ = (UniqueConstraint("auction_id", "organization_id", name="uq_auction_deposit_org"),)

    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auctions.id", index=True, ondelete="RESTRICT")
    organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    amount_fen: int = Field(sa_type=BigInteger)
    status: DepositStatus = Field(default=DepositStatus.pending, sa_type=str_enum(DepositStatus, 24), nullable=False)
    idempotency_key: str = Field(max_length=64, unique=True)
    provider_intent_id: str | None = Field(default=None, max_length=64, unique=True)
    provider_version: int = Field(default=0)
    credited_contract_id: int | None = Field(default=None, foreign_key="contracts.id", ondelete="RESTRICT")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LedgerKind(StrEnum):
    paid = "paid"
    refunded = "refunded"
    credited = "credited"
    forfeited = "forfeited"


class DepositEntry(SQLModel, table=True):
    """The deposit ledger: one row per movement, unique per (deposit, kind); held = paid - the rest."""

    __tablename__ = "auction_deposit_entries"
    __table_args__ = (UniqueConstraint("deposit_id", "kind", name="uq_deposit_entry_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    deposit_id: int = Field(foreign_key="auction_deposits.id", index=True, ondelete="RESTRICT")
    auction_id: int = Field(foreign_key="auctions.id", index=True, ondelete="RESTRICT")
    kind: LedgerKind = Field(sa_type=str_enum(LedgerKind, 16), nullable=False)
    amount_fen: int = Field(sa_type=BigInteger)  # positive; the kind gives the direction
    reference: str | None = Field(default=None, max_length=64)  # provider refund id, contract id
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
