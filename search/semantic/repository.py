"""Queries for sentence vectors: which listings need one, storing them, reading a candidate set's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
from sqlalchemy import Integer, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.listings.models import Achievement, Demand, ListingStatus
from search.semantic.models import ListingVector


@dataclass(frozen=True)
class Computed:
    listing_id: int
    updated_at: datetime
    digest: str
    vector: np.ndarray | None  # None: the text is unchanged, only the time is brought up to date


def stored_form(vector: np.ndarray) -> bytes:
    """Half precision: a 512-wide vector takes 1 KB and stays in its row (at 2 KB PostgreSQL moves it
    out of line, and reading a candidate set's took 8 ms instead of 3); cosines move by ~1e-3."""
    return vector.astype(np.float16).tobytes()


class VectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _on_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def pending(
        self, model_class: type[Achievement] | type[Demand], kind: str, model: str, limit: int
    ) -> list[tuple[Achievement | Demand, str | None]]:
        """Published listings whose vector is missing, from another model, or older than their text,
        each with the digest of the text its vector of this model was computed from (None: none)."""
        statement = (
            select(model_class, col(ListingVector.model), col(ListingVector.digest))
            .outerjoin(
                ListingVector,
                and_(col(ListingVector.kind) == kind, col(ListingVector.listing_id) == col(model_class.id)),
            )
            .where(
                col(model_class.status) == ListingStatus.published,
                or_(
                    col(ListingVector.listing_id).is_(None),
                    col(ListingVector.model) != model,
                    col(ListingVector.source_updated_at) != col(model_class.updated_at),
                ),
            )
            .order_by(col(model_class.id))
            .limit(limit)
        )
        return [
            (cast(Achievement | Demand, row), digest if vector_model == model else None)
            for row, vector_model, digest in await self.session.execute(statement)
        ]

    async def save(self, kind: str, model: str, rows: Sequence[Computed]) -> None:
        """Upserts: two workers that computed one listing wrote the same vector."""
        insert = pg_insert if self._on_postgres else sqlite_insert
        for row in rows:
            if row.vector is None:
                await self.session.execute(
                    update(ListingVector)
                    .where(col(ListingVector.kind) == kind, col(ListingVector.listing_id) == row.listing_id)
                    .values(source_updated_at=row.updated_at)
                )
                continue
            values = {
                "model": model,
                "digest": row.digest,
                "source_updated_at": row.updated_at,
                "vector": stored_form(row.vector),
            }
            statement = insert(ListingVector).values(kind=kind, listing_id=row.listing_id, **values)
            await self.session.execute(
                statement.on_conflict_do_update(index_elements=["kind", "listing_id"], set_=values)
            )

    async def vectors(self, kind: str, model: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        listing_id = col(ListingVector.listing_id)
        # PostgreSQL: one array parameter, so every candidate set is the same prepared statement (an
        # IN list is a new statement, parsed and planned, for each count of candidates: 7 ms, not 1)
        wanted = (
            listing_id == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
            if self._on_postgres
            else listing_id.in_(ids)
        )
        statement = select(listing_id, col(ListingVector.vector)).where(
            col(ListingVector.kind) == kind, col(ListingVector.model) == model, wanted
        )
        return {
            listing_id: np.frombuffer(vector, dtype=np.float16).astype(np.float32)
            for listing_id, vector in await self.session.execute(statement)
        }
