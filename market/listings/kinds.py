"""What differs between achievements and demands, in one table, so the rest is shared."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from core import reference
from core.money import fen_to_yuan, yuan_to_fen
from market.listings.models import Achievement, Demand
from market.listings.schemas import (
    AchievementCreate,
    AchievementRead,
    AchievementUpdate,
    DemandCreate,
    DemandRead,
    DemandRequest,
    DemandUpdate,
    listing_subject,
)

KindName = Literal["achievement", "demand"]


@dataclass(frozen=True)
class ListingKind:
    name: KindName
    label_zh: str
    model: type[Achievement] | type[Demand]
    create_schema: type[AchievementCreate] | type[DemandCreate]
    update_schema: type[AchievementUpdate] | type[DemandUpdate]
    read_schema: type[AchievementRead] | type[DemandRead]
    money_field: str  # API name (yuan)
    money_column: str  # DB column (fen)
    request_schema: type[AchievementCreate] | type[DemandCreate]  # what a person posts: ``create_schema`` and more

    def to_columns(self, data: BaseModel) -> dict[str, Any]:
        """Validated API data → column values (yuan → fen, nested models → JSON)."""
        exclude = {self.money_field, "external_id", "region"}
        python, json = data.model_dump(exclude=exclude), data.model_dump(mode="json", exclude=exclude)
        # Lists and objects go to JSON columns (Decimal shares as text); dates and enums stay typed.
        values = {name: json[name] if isinstance(value, list | dict) else value for name, value in python.items()}
        amount: Decimal | None = getattr(data, self.money_field)
        values[self.money_column] = None if amount is None else yuan_to_fen(amount)
        return values

    def to_api(self, row: Achievement | Demand) -> dict[str, Any]:
        """Column values → the create-schema shape (used to merge edits and to render)."""
        names = set(self.create_schema.model_fields) - {self.money_field}
        values = {name: getattr(row, name) for name in names}
        fen = getattr(row, self.money_column)
        values[self.money_field] = None if fen is None else fen_to_yuan(fen)
        return values

    def to_read(
        self, row: Achievement | Demand, owner_name: str, *, internals: bool, owner_region: str | None
    ) -> AchievementRead | DemandRead:
        """The API view; review notes and pending edits only for the owner and the reviewers.

        ``owner_region`` names the admins who govern the listing: its fields are rendered per caller."""
        read = self.read_schema.model_validate(
            {
                **self.to_api(row),
                "id": row.id,
                "external_id": row.external_id,
                "owner_id": row.owner_id,
                "owner_name": owner_name,
                "status": row.status,
                "review_reason": row.review_reason if internals else None,
                "pending_revision": row.pending_revision if internals else None,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "published_at": row.published_at,
                **_licences(row),
            }
        )
        return read.about(listing_subject(row.owner_id, owner_region))

    def revision_to_columns(self, revision: dict[str, Any]) -> dict[str, Any]:
        data = self.create_schema.model_validate(revision)
        return {**self.to_columns(data), "region": data.region}


def _licences(row: Achievement | Demand) -> dict[str, Any]:
    if not isinstance(row, Achievement):
        return {}
    licences = [
        {
            "subtype": entry["subtype"],
            "label": reference.label_of("contract_subtypes", entry["subtype"]) or entry["subtype"],
            "granted_on": entry["granted_on"],
        }
        for entry in row.licences
    ]
    return {"pricing_mode": row.pricing_mode, "licences": licences, "licence_count": len(licences)}


ACHIEVEMENT = ListingKind(
    name="achievement",
    label_zh="科技成果",
    model=Achievement,
    create_schema=AchievementCreate,
    update_schema=AchievementUpdate,
    read_schema=AchievementRead,
    money_field="price",
    money_column="price_fen",
    request_schema=AchievementCreate,
)
DEMAND = ListingKind(
    name="demand",
    label_zh="技术需求",
    model=Demand,
    create_schema=DemandCreate,
    update_schema=DemandUpdate,
    read_schema=DemandRead,
    money_field="budget_max",
    money_column="budget_max_fen",
    request_schema=DemandRequest,
)
KINDS: dict[str, ListingKind] = {"achievement": ACHIEVEMENT, "demand": DEMAND}
