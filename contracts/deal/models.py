"""Deals (意向): an enterprise's interest in an achievement, or an answer to a demand, and their messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class DealStatus(StrEnum):
    open = "open"
    converted = "converted"  # became a contract
    dropped = "dropped"


class DealOrigin(StrEnum):
    achievement_interest = "achievement_interest"  # 企业对成果表达意向
    demand_answer = "demand_answer"  # 院所响应需求


class Deal(SQLModel, table=True):
    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint("(achievement_id IS NULL) <> (demand_id IS NULL)", name="one_listing"),
        CheckConstraint("seller_org_id <> buyer_org_id", name="two_parties"),
    )

    id: int | None = Field(default=None, primary_key=True)
    origin: DealOrigin = Field(sa_type=str_enum(DealOrigin, 32), nullable=False)
    achievement_id: int | None = Field(default=None, foreign_key="achievements.id", index=True, ondelete="RESTRICT")
    demand_id: int | None = Field(default=None, foreign_key="demands.id", index=True, ondelete="RESTRICT")
    seller_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    buyer_org_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    status: DealStatus = Field(default=DealStatus.open, sa_type=str_enum(DealStatus, 16), nullable=False)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    drop_reason: str | None = Field(default=None, max_length=1000)


class DealMessage(SQLModel, table=True):
    __tablename__ = "deal_messages"

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    author_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    body: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
