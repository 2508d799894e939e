"""Every listing query, for both kinds."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.audit import AuditEntry
from core.pagination import paged
from market.identity.models import Organization
from market.listings.models import Achievement, Demand, ListingStatus

ListingModel = type[Achievement] | type[Demand]
Listing = Achievement | Demand  # select() over either model types its rows as their common base


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
        statement = select(model).where(col(model.id) == listing_id)
        if for_update:
            statement = statement.with_for_update()
        return cast(Listing | None, (await self.session.execute(statement)).scalars().first())

    async def all_published(self, model: ListingModel) -> Sequence[Achievement | Demand]:
        statement = select(model).where(col(model.status) == ListingStatus.published).order_by(col(model.id))
        return cast(Sequence[Listing], (await self.session.execute(statement)).scalars().all())

    async def owners(self, owner_ids: Iterable[int]) -> dict[int, Owner]:
        ids = set(owner_ids)
        if not ids:
            return {}
        statement = select(col(Organization.id), col(Organization.name), col(Organization.region)).where(
            col(Organization.id).in_(ids)
        )
        return {row.id: Owner(row.name, row.region) for row in await self.session.execute(statement)}

    async def owner_region(self, owner_id: int) -> str | None:
        statement = select(col(Organization.region)).where(col(Organization.id) == owner_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, model: ListingModel, filters: ListingFilters, *, offset: int, limit: int
    ) -> tuple[Sequence[Achievement | Demand], int]:
        statement = select(model)
        if filters.visibility is not None:
            visible = col(model.status) == ListingStatus.published
            if filters.visibility.own_organization_id is not None:
                visible = visible | (col(model.owner_id) == filters.visibility.own_organization_id)
            if filters.visibility.scope_prefix is not None:
                governed = select(col(Organization.id)).where(
                    col(Organization.region).startswith(filters.visibility.scope_prefix)
                )
                visible = visible | col(model.owner_id).in_(governed)
            statement = statement.where(visible)
        if filters.status is not None:
            statement = statement.where(col(model.status) == filters.status)
        if filters.field:
            statement = statement.where(col(model.field) == filters.field)
        if filters.region_prefix:
            statement = statement.where(col(model.region).startswith(filters.region_prefix))
        if filters.owner_id is not None:
            statement = statement.where(col(model.owner_id) == filters.owner_id)
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(col(model.id).desc()).offset(offset).limit(limit)
        return cast(Sequence[Listing], (await self.session.execute(page)).scalars().all()), total

    async def audit_trail(
        self, entity_type: str, entity_id: int, offset: int, limit: int
    ) -> tuple[Sequence[AuditEntry], int]:
        statement = (
            select(AuditEntry)
            .where(col(AuditEntry.entity_type) == entity_type, col(AuditEntry.entity_id) == entity_id)
            .order_by(col(AuditEntry.id))
        )
        return await paged(self.session, statement, offset, limit)

    async def existing_external_ids(self, model: ListingModel, external_ids: Iterable[str]) -> set[str]:
        ids = [e for e in external_ids if e]
        if not ids:
            return set()
        rows = await self.session.execute(select(col(model.external_id)).where(col(model.external_id).in_(ids)))
        return {external_id for (external_id,) in rows if external_id is not None}

    async def insert_many(self, model: ListingModel, rows: builtins.list[dict[str, Any]]) -> builtins.list[int]:
        """Bulk insert in one statement batch; returns the new ids in input order."""
        if not rows:
            return []
        # render_nulls: one INSERT per batch; otherwise rows are grouped by which columns are NULL
        # (a null price splits a 1000-row batch into hundreds of statements).
        returning = insert(model).returning(col(model.id), sort_by_parameter_order=True)
        statement = returning.execution_options(render_nulls=True)
        result = await self.session.execute(statement, rows)
        return [new_id for (new_id,) in result if new_id is not None]  # a returned primary key is never NULL
