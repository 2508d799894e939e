"""Search as users see it: engine hits hydrated from the database, so a listing withdrawn a moment
ago never shows even if the index has not caught up yet."""

from __future__ import annotations

import time

from pydantic import Field

from core.pagination import Page
from core.visibility import Classified, Public
from market.listings.kinds import ListingKind
from market.listings.models import ListingStatus
from market.listings.schemas import AchievementRead, DemandRead
from search.pipeline import SearchEngine
from search.query import SearchQuery
from search.repository import SearchRepository


class SearchItem(Classified):
    listing: Public[AchievementRead | DemandRead] = Field(description="按调用者可见的字段返回 (x-visibility)")
    score: Public[float]
    highlights: Public[dict[str, str]] = Field(description="原文片段, 命中处以 <em>…</em> 标出 (已 HTML 转义)")
    related: Public[bool] = Field(
        default=False,
        description="不含查询词, 由最相关几条命中的特征词找到的相关条目 (命中不足 10 条时补在其后, 总数含之)",
    )


class SearchPage(Page[SearchItem]):
    facets: Public[dict[str, dict[str, int]]] = Field(description="各分面的命中条数 (不计相关条目)")
    took_ms: Public[float]
    relaxed: Public[bool] = Field(
        default=False,
        description="没有条目含查询词时为 true: 结果按查询词的单字给出 (相近且顺序一致者优先), 如 冻车 → 敞车防冻液",
    )


class SearchService:
    def __init__(self, engine: SearchEngine, rows: SearchRepository) -> None:
        self.engine = engine
        self.rows = rows

    async def search(self, kind: ListingKind, query: SearchQuery) -> SearchPage:
        started = time.perf_counter()
        result = await self.engine.search(kind.name, query)
        found = await self.rows.with_owners(kind.model, [hit.id for hit in result.hits])
        rows = {row.id: (row, owner) for row, owner in found}
        items = []
        for hit in result.hits:
            row, owner = rows.get(hit.id, (None, None))
            if row is None or owner is None or row.status != ListingStatus.published:
                continue  # the index lags the database by a moment; the database wins
            listing = kind.to_read(row, owner.name, internals=False, owner_region=owner.region)
            items.append(SearchItem(listing=listing, score=hit.score, highlights=hit.highlights, related=hit.related))
        return SearchPage(
            items=items,
            total=result.total,
            limit=query.limit,
            offset=query.offset,
            facets=result.facets,
            relaxed=result.relaxed,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )
