"""认定登记 requests, their rounds of 补正, and the serial counters of registration numbers.

A request is the seller's application for one contract. The registrar registers it, returns it for
correction (补正, with a reason per item) or refuses it (不予登记, final for that request). Each
submission is a round: a return closes the round with its items, the seller's resubmission opens the
next one, and every round stays. What the registrar determines before registering (the approved
技术交易额, a corrected contract type) waits on the request and is applied to the contract when it is
registered. Registration numbers take their serial from a counter row per (seller's region, year).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from contracts.contract.models import ContractSubtype, ContractType
from core.types import UTCDateTime, str_enum, utcnow


class RegistrationStatus(StrEnum):
    pending = "pending"  # 待审查: submitted or resubmitted, waiting for the registrar
    returned = "returned"  # 退回补正: waiting for the seller
    registered = "registered"  # 已登记
    refused = "refused"  # 不予登记 (final for this request)


OPEN_STATUSES = (RegistrationStatus.pending, RegistrationStatus.returned)


class RegistrationRequest(SQLModel, table=True):
    __tablename__ = "registration_requests"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True, ondelete="CASCADE")
    status: RegistrationStatus = Field(
        default=RegistrationStatus.pending, sa_type=str_enum(RegistrationStatus, 16), nullable=False, index=True
    )
    round: int = Field(default=1, description="当前轮次 (每次退回补正后重新提交加一)")
    requested_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    submitted_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True, description="本轮提交时间"
    )
    approved_income_fen: int | None = Field(default=None, sa_type=BigInteger, description="核定的技术交易额")
    type: ContractType | None = Field(default=None, sa_type=str_enum(ContractType, 16), description="认定的合同类型")
    subtype: ContractSubtype | None = Field(default=None, sa_type=str_enum(ContractSubtype, 32))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    refusal_reason: str | None = Field(default=None, max_length=1000)
    registration_number: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RegistrationRound(SQLModel, table=True):
    __tablename__ = "registration_rounds"
    __table_args__ = (UniqueConstraint("request_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="registration_requests.id", index=True, ondelete="CASCADE")
    round: int
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    submitted_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    note: str | None = Field(default=None, max_length=1000, description="卖方对补正意见的说明")
    terms_digest: str | None = Field(default=None, max_length=64, description="提交时的合同条款摘要")
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    returned_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    return_note: str | None = Field(default=None, max_length=1000)
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class RegistrationCounter(SQLModel, table=True):
    """The last serial given in a region's year; incremented atomically by an upsert."""

    __tablename__ = "registration_counters"

    region: str = Field(primary_key=True, max_length=6)
    year: int = Field(primary_key=True)
    last_serial: int = Field(default=0)
