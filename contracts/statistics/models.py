"""Statistics tables: per-contract facts, monthly rollups, targets, reference figures, publications.

``statistics_contract_facts`` holds exactly what each counted contract contributes (its dimensions at
the time it was counted and its amounts); ``statistics_rollups`` is the sum of those facts per
(side, dimension, region, month, key). Both are maintained in the same transaction as the contract
change by the flush listener in :mod:`contracts.statistics.rollups`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, utcnow


class ContractFact(SQLModel, table=True):
    """What one counted contract contributes to the rollups (absent when the contract is not counted).

    No foreign key on purpose: when a contract row is deleted the listener still finds the fact to
    subtract.
    """

    __tablename__ = "statistics_contract_facts"

    contract_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    period: int = Field(description="YYYYMM of the registration date (Asia/Shanghai)")
    seller_region: str = Field(max_length=6)
    buyer_region: str = Field(max_length=6)
    type: str = Field(max_length=16)
    field: str = Field(max_length=32)
    seller_kind: str = Field(max_length=16)
    buyer_kind: str = Field(max_length=16)
    ip_type: str = Field(max_length=32)
    total_fen: int = Field(sa_type=BigInteger)
    income_fen: int = Field(sa_type=BigInteger)


class Rollup(SQLModel, table=True):
    """Counts and sums per side (seller = 输出, buyer = 吸纳), dimension, region, month and key."""

    __tablename__ = "statistics_rollups"
    __table_args__ = (Index("ix_statistics_rollups_query", "side", "dimension", "period", "region"),)

    side: str = Field(primary_key=True, max_length=8)
    dimension: str = Field(primary_key=True, max_length=16)
    region: str = Field(primary_key=True, max_length=6)
    period: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    key: str = Field(primary_key=True, max_length=32)
    contracts: int = Field(default=0, sa_type=BigInteger)
    total_fen: int = Field(default=0, sa_type=BigInteger)
    income_fen: int = Field(default=0, sa_type=BigInteger)


class Target(SQLModel, table=True):
    __tablename__ = "statistics_targets"
    __table_args__ = (UniqueConstraint("region", "metric", "target_year"),)

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6)
    metric: str = Field(max_length=32)
    target_year: int
    target_value_fen: int = Field(sa_type=BigInteger)
    annual_growth_bp: int | None = Field(default=None, description="planned annual growth in basis points (2500 = 25%)")
    source_note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class ReferenceFigure(SQLModel, table=True):
    """Figures published before the platform existed (official statistics), with their 口径 break flag."""

    __tablename__ = "statistics_reference_figures"
    __table_args__ = (UniqueConstraint("region", "period", "metric"),)

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6)
    period: str = Field(max_length=8, description="2018 (full year) or 2023H1")
    year: int
    metric: str = Field(max_length=32)
    value_fen: int = Field(sa_type=BigInteger)
    contracts: int | None = None
    break_before: bool = Field(default=False)
    source_note: str = Field(default="", max_length=500)


class Publication(SQLModel, table=True):
    """A summary the platform chose to publish: a frozen snapshot anyone may read."""

    __tablename__ = "statistics_publications"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    region: str = Field(max_length=6)
    start_period: int
    end_period: int
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    published_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


__all__ = ["ContractFact", "Publication", "ReferenceFigure", "Rollup", "Target"]
