"""Every listing query, for both kinds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import AuditEntry
from market.identity.models import Organization
from market.listings.models import Achievement, Demand, ListingStatus

ListingModel = type[Achievement] | type[Demand]


class Owner(NamedTuple):
    name: str
    region: str


@dataclass
class Visibility:
    """What a caller may see besides published listings: their organization's, and those of the
    organizations of their 盟市 (by the owner's region, not the listing's)."""

    own_organization_id: int | None = None
    scope_prefix: str | None = None


@dataclass
class ListingFilters:
    status: ListingStatus | None = None
    field: str | None = None
    region_prefix: str | None = None
    owner_id: int | None = None
    visibility: Visibility | None = None  # None: everything (platform admins)


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *rows: Any) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def get(
        self, model: ListingModel, listing_id: int, *, for_update: bool = False
    ) -> Achievement | Demand | None:
        statement = select(model).where(model.id == listing_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def all_published(self, model: ListingModel) -> Sequence[Achievement | Demand]:
        statement = select(model).where(model.status == ListingStatus.published).order_by(model.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()

    async def owners(self, owner_ids: Iterable[int]) -> dict[int, Owner]:
        ids = set(owner_ids)
        if not ids:
            return {}
        statement = select(Organization.id, Organization.name, Organization.region).where(Organization.id.in_(ids))  # type: ignore[union-attr]
        return {row.id: Owner(row.name, row.region) for row in await self.session.execute(statement)}

    async def owner_region(self, owner_id: int) -> str | None:
        statement = select(Organization.region).where(Organization.id == owner_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, model: ListingModel, filters: ListingFilters, *, offset: int, limit: int
    ) -> tuple[Sequence[Achievement | Demand], int]:
        statement = select(model)
        if filters.visibility is not None:
            visible = model.status == ListingStatus.published
            if filters.visibility.own_organization_id is not None:
                visible = visible | (model.owner_id == filters.visibility.own_organization_id)
            if filters.visibility.scope_prefix is not None:
                governed = select(Organization.id).where(
                    Organization.region.startswith(filters.visibility.scope_prefix)
                )  # type: ignore[attr-defined]
                visible = visible | model.owner_id.in_(governed)  # type: ignore[attr-defined]
            statement = statement.where(visible)
        if filters.status is not None:
            statement = statement.where(model.status == filters.status)
        if filters.field:
            statement = statement.where(model.field == filters.field)
        if filters.region_prefix:
            statement = statement.where(model.region.startswith(filters.region_prefix))  # type: ignore[attr-defined]
        if filters.owner_id is not None:
            statement = statement.where(model.owner_id == filters.owner_id)
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(model.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
        return (await self.session.execute(page)).scalars().all(), total

    async def audit_trail(self, entity_type: str, entity_id: int) -> Sequence[AuditEntry]:
        statement = (
            select(AuditEntry)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        )
        return (await self.session.execute(statement)).scalars().all()

    async def existing_external_ids(self, model: ListingModel, external_ids: Iterable[str]) -> set[str]:
        ids = [e for e in external_ids if e]
        if not ids:
            return set()
        rows = await self.session.execute(select(model.external_id).where(model.external_id.in_(ids)))  # type: ignore[union-attr]
        return {row[0] for row in rows}

    async def insert_many(self, model: ListingModel, rows: list[dict[str, Any]]) -> list[int]:
        """Bulk insert in one statement batch; returns the new ids in input order."""
        if not rows:
            return []
        # render_nulls: one INSERT per batch; otherwise rows are grouped by which columns are NULL
        # (a null price splits a 1000-row batch into hundreds of statements).
        statement = insert(model).returning(model.id, sort_by_parameter_order=True).execution_options(render_nulls=True)  # type: ignore[arg-type]
        result = await self.session.execute(statement, rows)
        return [row[0] for row in result]
