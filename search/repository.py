"""Queries the search side needs: listings with their owners, by id or all published."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.identity.models import Organization
from market.listings.models import Achievement, Demand, ListingStatus

Row = tuple[Achievement | Demand, Organization]


class SearchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def with_owners(self, model: type[Achievement] | type[Demand], ids: Sequence[int]) -> list[Row]:
        if not ids:
            return []
        statement = (
            select(model, Organization)
            .join(Organization, col(Organization.id) == col(model.owner_id))
            .where(col(model.id).in_(ids))
        )
        # select() over either model types its rows as their common base
        return [cast(Row, (row[0], row[1])) for row in await self.session.execute(statement)]

    async def published_with_owners(
        self, model: type[Achievement] | type[Demand], batch: int = 1000
    ) -> AsyncIterator[Row]:
        """Every published listing in id order, streamed in keyset pages (bounded memory)."""
        last_id = 0
        while True:
            statement = (
                select(model, Organization)
                .join(Organization, col(Organization.id) == col(model.owner_id))
                .where(col(model.status) == ListingStatus.published, col(model.id) > last_id)
                .order_by(col(model.id))
                .limit(batch)
            )
            rows = [cast(Row, (row[0], row[1])) for row in await self.session.execute(statement)]
            if not rows:
                return
            for row in rows:
                yield row
            last_id = rows[-1][0].id or last_id

    async def published_ids(self, model: type[Achievement] | type[Demand]) -> set[int]:
        statement = select(col(model.id)).where(col(model.status) == ListingStatus.published)
        return {i for i in (await self.session.execute(statement)).scalars() if i is not None}

    async def count_published(self, model: type[Achievement] | type[Demand]) -> int:
        statement = select(func.count()).select_from(model).where(col(model.status) == ListingStatus.published)
        return int((await self.session.execute(statement)).scalar_one())
