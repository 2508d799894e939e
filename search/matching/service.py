"""Matches for one listing: engine candidates, re-ranked with reasons (both directions)."""

from __future__ import annotations

import asyncio
import time
from functools import lru_cache
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from core import reference
from core.errors import Conflict
from market.identity.models import Organization
from market.identity.service import Principal
from market.listings.kinds import ACHIEVEMENT, DEMAND, ListingKind
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.repository import ListingRepository
from market.listings.service import ListingService
from search.engine import SearchEngine, SearchQuery
from search.matching.features import Profile, profile
from search.matching.ranking import Candidate, rank
from search.matching.scoring import Side
from search.repository import SearchRepository

RETRIEVE = 100  # candidates per engine query
KEY_TERMS = 16


class ListingNotPublished(Conflict):
    code = "listing_not_published"
    message = "只有已发布的成果或需求可以匹配"


class MatchItem(BaseModel):
    listing: dict[str, Any]
    score: float = Field(ge=0, le=1)
    reasons: list[str]


class MatchPage(BaseModel):
    items: list[MatchItem]
    total: int
    query_terms: list[str] = Field(description="发送给检索引擎的关键词")
    took_ms: float


def side_of(row: Achievement | Demand) -> Side:
    if isinstance(row, Achievement):
        return Side(row.field, row.region, tuple(row.transaction_modes), row.maturity.value, row.price_fen)
    return Side(
        row.field, row.region, tuple(row.transaction_modes), row.min_maturity.value if row.min_maturity else None, row.budget_max_fen
    )


def profile_of(row: Achievement | Demand, *, as_query: bool = False) -> Profile:
    body = row.summary if isinstance(row, Achievement) else row.description
    expand = ("solution" if isinstance(row, Achievement) else "problem") if as_query else None
    return _profile(row.title, body, tuple(row.keywords), expand)


@lru_cache(maxsize=4096)
def _profile(title: str, body: str, keywords: tuple[str, ...], expand: str | None) -> Profile:
    """Keyed by the text itself, so an edit can never be served a stale profile (~25 KB each)."""
    return profile(title, body, keywords, expand=expand)


def field_names() -> dict[str, str]:
    return {code: f.name_zh for code, f in reference.fields().items()}


class MatchingService:
    def __init__(self, engine: SearchEngine, listings: ListingRepository) -> None:
        self.engine = engine
        self.listings = listings
        self.search = SearchRepository(listings.session)

    async def matches(
        self, principal: Principal | None, kind: ListingKind, listing_id: int, *, limit: int, filters: dict[str, Any]
    ) -> MatchPage:
        started = time.perf_counter()
        row = await ListingService(self.listings).get(principal, kind, listing_id)
        if row.status != ListingStatus.published:
            raise ListingNotPublished()
        target = DEMAND if kind is ACHIEVEMENT else ACHIEVEMENT
        query = profile_of(row, as_query=True)
        terms = query.key_terms(KEY_TERMS)
        ids = await self._candidate_ids(target, query, terms, filters)
        rows = await self.search.with_owners(target.model, sorted(ids))
        candidates, owners = self._candidates(rows)
        ranked = rank(query, side_of(row), candidates, query_is_demand=kind is DEMAND, field_names=field_names())
        page = ranked[:limit]
        return MatchPage(
            items=[
                MatchItem(
                    listing=target.to_read(owners[c.id][0], owners[c.id][1].name, internals=False).model_dump(mode="json"),
                    score=match.score,
                    reasons=match.reasons,
                )
                for c, match in page
            ],
            total=len(ranked),
            query_terms=terms,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def _candidate_ids(self, target: ListingKind, query: Profile, terms: list[str], filters: dict[str, Any]) -> set[int]:
        """Own key terms, and separately the expansion terms, so neither crowds the other out."""
        expansions = [t for t in sorted(query.expansions, key=lambda t: -query.vector[t])][:KEY_TERMS]
        own = [t for t in terms if t not in query.expansions]
        results = await asyncio.gather(
            *(
                self.engine.search(
                    target.name,  # type: ignore[arg-type]
                    SearchQuery(text=" ".join(words), limit=RETRIEVE, highlight=False, **filters),
                )
                for words in (own, expansions)
                if words
            )
        )
        return {hit.id for result in results for hit in result.hits}

    @staticmethod
    def _candidates(rows: Sequence[tuple[Achievement | Demand, Organization]]) -> tuple[list[Candidate], dict[int, Any]]:
        candidates, owners = [], {}
        for row, owner in rows:
            if row.status != ListingStatus.published or row.id is None:
                continue
            candidates.append(Candidate(row.id, profile_of(row), side_of(row)))
            owners[row.id] = (row, owner)
        return candidates, owners
