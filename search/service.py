"""Search as users see it: engine hits hydrated from the database, so a listing withdrawn a moment
ago never shows even if the index has not caught up yet."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationError

from core import reference
from core.errors import FieldError, ValidationFailed
from core.money import yuan_to_fen
from core.problems import field_errors_from_pydantic
from core.visibility import Classified, Public
from market.identity.service import Principal
from market.listings.kinds import ListingKind
from market.listings.models import ListingStatus
from market.listings.schemas import AchievementRead, DemandRead
from search.pipeline import SearchEngine, SearchQuery
from search.repository import SearchRepository


class SearchItem(Classified):
    listing: Public[AchievementRead | DemandRead] = Field(description="按调用者可见的字段返回 (x-visibility)")
    score: Public[float]
    highlights: Public[dict[str, str]] = Field(description="原文片段, 命中处以 <em>…</em> 标出 (已 HTML 转义)")


class SearchPage(Classified):
    items: Public[list[SearchItem]]
    total: Public[int]
    facets: Public[dict[str, dict[str, int]]]
    took_ms: Public[float]


class SearchService:
    def __init__(self, engine: SearchEngine, rows: SearchRepository) -> None:
        self.engine = engine
        self.rows = rows

    async def search(self, principal: Principal | None, kind: ListingKind, params: dict[str, Any]) -> SearchPage:
        started = time.perf_counter()
        query = build_query(params)
        result = await self.engine.search(kind.name, query)  # type: ignore[arg-type]
        found = await self.rows.with_owners(kind.model, [hit.id for hit in result.hits])
        rows = {row.id: (row, owner) for row, owner in found}
        items = []
        for hit in result.hits:
            row, owner = rows.get(hit.id, (None, None))
            if row is None or owner is None or row.status != ListingStatus.published:
                continue  # the index lags the database by a moment; the database wins
            listing = kind.to_read(row, owner.name, internals=False, owner_region=owner.region)
            items.append(SearchItem(listing=listing, score=hit.score, highlights=hit.highlights))
        return SearchPage(
            items=items,
            total=result.total,
            facets=result.facets,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )


def build_query(params: dict[str, Any]) -> SearchQuery:
    """Query parameters → engine query; unknown codes are refused field by field (never sent on)."""
    problems: list[FieldError] = []
    for code in params.get("field") or []:
        if code not in reference.fields():
            problems.append(FieldError(field="query.field", code="unknown_field", message=f"未知的技术领域代码 {code}"))
    for code in params.get("region") or []:
        if code not in reference.regions():
            problems.append(
                FieldError(field="query.region", code="unknown_region", message=f"未知的行政区划代码 {code}")
            )
    low, high = params.get("price_min"), params.get("price_max")
    if low is not None and high is not None and Decimal(low) > Decimal(high):
        problems.append(FieldError(field="query.price_min", code="range_inverted", message="最低价不能高于最高价"))
    if params.get("trl_min") and params.get("trl_max") and params["trl_min"] > params["trl_max"]:
        problems.append(
            FieldError(field="query.trl_min", code="range_inverted", message="最低技术就绪度不能高于最高值")
        )
    if problems:
        raise ValidationFailed(errors=problems)
    try:
        return SearchQuery(
            text=(params.get("q") or "").strip(),
            fields=params.get("field") or [],
            regions=params.get("region") or [],
            maturity=params.get("maturity") or [],
            trl_min=params.get("trl_min"),
            trl_max=params.get("trl_max"),
            transaction_modes=params.get("mode") or [],
            price_min_fen=None if low is None else yuan_to_fen(low),
            price_max_fen=None if high is None else yuan_to_fen(high),
            ip_types=params.get("ip_type") or [],
            owner_kinds=params.get("owner_kind") or [],
            sort=params.get("sort") or "relevance",
            offset=params.get("offset", 0),
            limit=params.get("limit", 20),
            facets=params.get("facets") or [],
        )
    except ValidationError as exc:
        raise ValidationFailed(errors=field_errors_from_pydantic(list(exc.errors()))) from exc
