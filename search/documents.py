"""The one document shape both listing kinds (achievement, demand) are indexed as.

Listings map themselves onto this contract; engines only ever see SearchDocument, so adding a
listing field to search means touching this file and the mapper, never an engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["achievement", "demand"]
KINDS: tuple[Kind, ...] = ("achievement", "demand")
Maturity = Literal["research", "lab", "pilot", "industrialized"]
OwnerKind = Literal["university", "institute", "enterprise", "agency", "government"]


class SearchDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = Field(ge=1)
    kind: Kind
    external_id: str | None = None
    title: str
    body: str = Field(default="", description="成果简介或需求描述")
    keywords: list[str] = Field(default_factory=list)
    field: str | None = None
    region: str = Field(pattern=r"^\d{6}$")
    maturity: Maturity | None = Field(default=None, description="成果成熟度; 需求为最低成熟度")
    trl: int | None = Field(default=None, ge=1, le=9)
    ip_type: str | None = None
    transaction_modes: list[str] = Field(default_factory=list)
    price_fen: int | None = Field(default=None, ge=0, description="成果价格或需求预算上限 (分); None 为面议")
    owner_id: int
    owner_name: str
    owner_kind: OwnerKind
    published_at: datetime

    @field_validator("published_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def province(self) -> str:
        """So a filter on 150000 matches every 盟市 of the province."""
        return self.region[:2] + "0000"
