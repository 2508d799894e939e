"""Every statistics query: rollup sums, yearly totals, targets, reference figures, publications, 登记表 rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from contracts.contract.models import Contract
from contracts.statistics.dimensions import COUNTED_STATUSES
from contracts.statistics.models import ContractFact, Publication, ReferenceFigure, Rollup, Target
from core.pagination import paged
from market.identity.models import Organization

R = Rollup.__table__.c  # type: ignore[attr-defined]


def _scope(prefix: str) -> list[ColumnElement[bool]]:
    return [R.region.like(f"{prefix}%")] if prefix else []


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sums(
        self, *, side: str, dimension: str, prefix: str, start: int, end: int, group: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """(group values…, contracts, total_fen, income_fen) from the rollups."""
        columns = [getattr(R, name) for name in group]
        statement = (
            select(*columns, func.sum(R.contracts), func.sum(R.total_fen), func.sum(R.income_fen))
            .where(R.side == side, R.dimension == dimension, R.period >= start, R.period <= end, *_scope(prefix))
            .group_by(*columns)
            .having(func.sum(R.contracts) != 0)
        )
        return [tuple(row) for row in await self.session.execute(statement)]

    async def yearly(self, *, side: str, prefix: str) -> dict[int, tuple[int, int, int]]:
        rows = await self.sums(side=side, dimension="total", prefix=prefix, start=0, end=999999, group=["period"])
        years: dict[int, list[int]] = {}
        for period, n, total, income in rows:
            acc = years.setdefault(int(period) // 100, [0, 0, 0])
            acc[0], acc[1], acc[2] = acc[0] + int(n), acc[1] + int(total), acc[2] + int(income)
        return {y: (v[0], v[1], v[2]) for y, v in years.items()}

    # --- reference figures and targets ----------------------------------------------------------

    async def reference_figures(self, region: str, metric: str) -> Sequence[ReferenceFigure]:
        statement = select(ReferenceFigure).where(
            col(ReferenceFigure.region) == region, col(ReferenceFigure.metric) == metric
        )
        return (
            (await self.session.execute(statement.order_by(col(ReferenceFigure.year), col(ReferenceFigure.period))))
            .scalars()
            .all()
        )

    async def targets(self, region_prefix: str | None) -> Sequence[Target]:
        return (await self.session.execute(self._targets(region_prefix))).scalars().all()

    async def targets_page(self, region_prefix: str | None, offset: int, limit: int) -> tuple[list[Target], int]:
        return await paged(self.session, self._targets(region_prefix), offset, limit)

    @staticmethod
    def _targets(region_prefix: str | None) -> Select[Target]:
        statement = select(Target).order_by(
            col(Target.region), col(Target.metric), col(Target.target_year), col(Target.id)
        )
        if region_prefix is not None:
            statement = statement.where(col(Target.region).like(f"{region_prefix}%"))
        return statement

    async def target(self, target_id: int) -> Target | None:
        return await self.session.get(Target, target_id)

    async def target_clash(self, region: str, metric: str, year: int, exclude_id: int | None = None) -> bool:
        statement = select(col(Target.id)).where(
            col(Target.region) == region, col(Target.metric) == metric, col(Target.target_year) == year
        )
        if exclude_id is not None:
            statement = statement.where(col(Target.id) != exclude_id)
        return (await self.session.execute(statement)).first() is not None

    async def add(self, *rows: object) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def publications(self, offset: int, limit: int) -> tuple[list[Publication], int]:
        statement = select(Publication).order_by(col(Publication.published_at).desc(), col(Publication.id).desc())
        return await paged(self.session, statement, offset, limit)

    async def publication(self, publication_id: int) -> Publication | None:
        return await self.session.get(Publication, publication_id)

    # --- 登记表 rows ----------------------------------------------------------------------------

    async def registration_rows(
        self, *, side: str, prefix: str, since: datetime, until: datetime, after_id: int, limit: int
    ) -> list[Any]:
        """One keyset page of counted contracts registered in [since, until), with both parties."""
        seller, buyer = aliased(Organization), aliased(Organization)
        region_column = col(Contract.seller_region) if side == "seller" else col(Contract.buyer_region)
        conditions: list[ColumnElement[bool]] = [
            col(Contract.status).in_([s.value for s in COUNTED_STATUSES]),
            col(Contract.registered_at).is_not(None),
            col(Contract.id) > after_id,
            func.coalesce(col(Contract.registered_at), col(Contract.created_at)) >= since,
            func.coalesce(col(Contract.registered_at), col(Contract.created_at)) < until,
        ]
        if prefix:
            conditions.append(region_column.like(f"{prefix}%"))
        statement: Select[*tuple[Any, ...]] = (
            select(
                Contract,
                col(seller.name).label("seller_name"),
                col(seller.uscc).label("seller_uscc"),
                col(buyer.name).label("buyer_name"),
                col(buyer.uscc).label("buyer_uscc"),
                col(ContractFact.ip_type),
            )
            .join(seller, col(seller.id) == col(Contract.seller_org_id))
            .join(buyer, col(buyer.id) == col(Contract.buyer_org_id))
            .outerjoin(ContractFact, col(ContractFact.contract_id) == col(Contract.id))
            .where(and_(*conditions))
            .order_by(col(Contract.id))
            .limit(limit)
        )
        return list(await self.session.execute(statement))

    # --- cross-tabs -----------------------------------------------------------------------------

    async def fact_sums(
        self, *, side: str, prefix: str, start: int, end: int, rows: str, columns: str
    ) -> list[tuple[str, str, int, int, int]]:
        """(row key, column key, contracts, total_fen, income_fen) over the counted contracts' facts, so a
        cross-tab adds up to exactly what the one-dimension rollups hold."""
        facts = ContractFact.__table__.c  # type: ignore[attr-defined]
        region = facts.seller_region if side == "seller" else facts.buyer_region
        column_of = {"type": facts.type, "field": facts.field, "region": region}
        row_column, col_column = column_of[rows], column_of[columns]
        statement = (
            select(row_column, col_column, func.count(), func.sum(facts.total_fen), func.sum(facts.income_fen))
            .where(facts.period >= start, facts.period <= end, *([region.like(f"{prefix}%")] if prefix else []))
            .group_by(row_column, col_column)
        )
        return [
            (str(r), str(c), int(n), int(t or 0), int(i or 0))
            for r, c, n, t, i in await self.session.execute(statement)
        ]
