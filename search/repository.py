"""Queries the search side needs: listings with their owners, by id or all published."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
            select(model, Organization).join(Organization, Organization.id == model.owner_id).where(model.id.in_(ids))
        )  # type: ignore[union-attr]
        return [(row[0], row[1]) for row in await self.session.execute(statement)]

    async def published_with_owners(
        self, model: type[Achievement] | type[Demand], batch: int = 1000
    ) -> AsyncIterator[Row]:
        """Every published listing in id order, streamed in keyset pages (bounded memory)."""
        last_id = 0
        while True:
            statement = (
                select(model, Organization)
                .join(Organization, Organization.id == model.owner_id)
                .where(model.status == ListingStatus.published, model.id > last_id)  # type: ignore[operator]
                .order_by(model.id)  # type: ignore[arg-type]
                .limit(batch)
            )
            rows = [(row[0], row[1]) for row in await self.session.execute(statement)]
            if not rows:
                return
            for row in rows:
                yield row
            last_id = rows[-1][0].id or last_id

    async def published_ids(self, model: type[Achievement] | type[Demand]) -> set[int]:
        statement = select(model.id).where(model.status == ListingStatus.published)
        return {int(i) for i in (await self.session.execute(statement)).scalars()}

    async def count_published(self, model: type[Achievement] | type[Demand]) -> int:
        statement = select(func.count()).select_from(model).where(model.status == ListingStatus.published)
        return int((await self.session.execute(statement)).scalar_one())
