"""One page shape for every list endpoint, and one pair of limits for all of them.

A list answers ``{items, total, limit, offset}``: ``items`` is the window of ``total`` matching
objects that starts after ``offset`` of them and holds at most ``limit``. ``limit`` defaults to
``DEFAULT_LIMIT``; above ``MAX_LIMIT`` the request is refused with the usual 422 problem
(``validation_error``, field ``query.limit``, code ``less_than_equal``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from core.visibility import Classified, Public

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 100_000  # further than any person pages; a client that far should narrow its filters

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"每页条数 (默认 {DEFAULT_LIMIT}, 最多 {MAX_LIMIT}) · page size")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的条数 · items to skip")]


@dataclass(frozen=True, slots=True)
class PageParams:
    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def window(self, rows: Sequence[T]) -> list[T]:
        """This page of a list already read whole (lists one owner keeps short: keys, messages...)."""
        return list(rows[self.offset : self.offset + self.limit])


def page_params(offset: Offset = 0, limit: Limit = DEFAULT_LIMIT) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageQuery = Annotated[PageParams, Depends(page_params)]


async def paged(session: AsyncSession, statement: Select[T], offset: int, limit: int) -> tuple[list[T], int]:
    """One window of an ordered one-entity select and the count of all its rows, so a list is never read whole.

    The statement must be ordered down to a unique column (end ``order_by`` with the id) or pages may
    overlap or skip rows."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    total = (await session.execute(counted)).scalar_one()
    rows = (await session.execute(statement.offset(offset).limit(limit))).scalars().all()
    return list(rows), int(total)


class Page(Classified, Generic[T]):
    """A window of a longer list. Endpoints subclass ``Page[ItemRead]`` under a name of their own
    (``ContractPage``), which is what OpenAPI and generated clients call it."""

    items: Public[list[T]] = Field(description="本页的对象")
    total: Public[int] = Field(description="符合条件的对象总数 (不止本页)")
    limit: Public[int] = Field(description="本页最多条数")
    offset: Public[int] = Field(description="本页之前跳过的条数")

    @classmethod
    def of(cls, items: Iterable[Any], total: int, page: PageParams, **more: Any) -> Self:
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset, **more)

    @classmethod
    def window(cls, rows: Sequence[Any], page: PageParams, **more: Any) -> Self:
        return cls.of(page.window(rows), len(rows), page, **more)
