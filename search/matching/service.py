"""Matches for one listing: engine candidates, re-ranked with reasons (both directions)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import Field

from core import reference
from core.errors import Conflict
from core.pagination import Page, PageParams
from core.visibility import Classified, Public
from market.identity.service import Principal
from market.listings.kinds import ACHIEVEMENT, DEMAND, ListingKind
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.repository import ListingRepository
from market.listings.schemas import AchievementRead, DemandRead
from market.listings.service import ListingService
from search.matching.features import Profile, StoredText, profile
from search.matching.ranking import Candidate, rank
from search.matching.scoring import Match, Side
from search.pipeline import SearchEngine
from search.query import SearchQuery
from search.repository import SearchRepository
from search.semantic.repository import VectorRepository
from search.weights import MatchWeights, active_match

RETRIEVE = 50  # candidates of the engine query of a listing's own key terms
# and of its expansion query: its 16 terms (synonyms, concepts, remedies) each bring a few documents,
# and a demand stated as a problem finds its answers there (Meilisearch's pool of 50 missed them)
RETRIEVE_EXPANSIONS = 100
KEY_TERMS = 16


class ListingNotPublished(Conflict):
    code = "listing_not_published"
    message = "只有已发布的成果或需求可以匹配"


class MatchItem(Classified):
    listing: Public[AchievementRead | DemandRead] = Field(description="按调用者可见的字段返回 (x-visibility)")
    score: Public[float] = Field(ge=0, le=1)
    reasons: Public[list[str]]


class MatchPage(Page[MatchItem]):
    query_terms: Public[list[str]] = Field(description="发送给检索引擎的关键词")
    took_ms: Public[float]


def side_of(row: Achievement | Demand) -> Side:
    if isinstance(row, Achievement):
        return Side(row.field, row.region, tuple(row.transaction_modes), row.maturity.value, row.price_fen)
    return Side(
        row.field,
        row.region,
        tuple(row.transaction_modes),
        row.min_maturity.value if row.min_maturity else None,
        row.budget_max_fen,
    )


def body_of(row: Achievement | Demand) -> str:
    return row.summary if isinstance(row, Achievement) else row.description


def profile_of(row: Achievement | Demand, *, as_query: bool = False) -> Profile:
    if as_query:
        kind = ACHIEVEMENT if isinstance(row, Achievement) else DEMAND
        return query_profile(kind, row.title, body_of(row), row.keywords)
    return _profile(row.title, body_of(row), tuple(row.keywords), None, active_match())


def query_profile(kind: ListingKind, title: str, body: str, keywords: Sequence[str]) -> Profile:
    """A listing's profile as the query of its matches."""
    return _profile(title, body, tuple(keywords), "solution" if kind is ACHIEVEMENT else "problem", active_match())


@lru_cache(maxsize=4096)
def _profile(title: str, body: str, keywords: tuple[str, ...], expand: str | None, weights: MatchWeights) -> Profile:
    """Keyed by the text itself (and the weights), so an edit can never be served a stale profile
    (~25 KB each)."""
    return profile(title, body, keywords, expand=expand, weights=weights)


def field_names() -> dict[str, str]:
    return {code: f.name_zh for code, f in reference.fields().items()}


def engine_queries(query: Profile, filters: dict[str, Any]) -> list[SearchQuery]:
    """The listing's own key terms, and separately its expansion terms, so neither crowds the other
    out of the candidates; each word weighted as in the profile."""
    expansions = sorted(query.expansions, key=lambda t: -query.vector[t])[:KEY_TERMS]
    own = [t for t in query.key_terms(KEY_TERMS) if t not in query.expansions]
    strongest = max(query.vector.values(), default=1.0)
    return [
        SearchQuery(
            text=" ".join(words),
            limit=limit,
            candidates_only=True,
            **filters,
            term_weights={w: query.vector[w] / strongest for w in words},
        )
        for words, limit in ((own, RETRIEVE), (expansions, RETRIEVE_EXPANSIONS))
        if words
    ]


async def warm_match_counts(
    engine: SearchEngine, kind: ListingKind, listings: Sequence[tuple[str, str, Sequence[str]]]
) -> None:
    """Count ahead the terms that matching these newly published listings (title, body, keywords)
    will send to the other kind's index, so their first match need not wait for the counts."""
    if not listings or not engine.warms_term_counts:
        return
    target = DEMAND if kind is ACHIEVEMENT else ACHIEVEMENT

    def build() -> list[SearchQuery]:
        return [
            search
            for title, body, keywords in listings
            for search in engine_queries(query_profile(kind, title, body, keywords), {})
        ]

    await engine.warm(target.name, await asyncio.to_thread(build))


class MatchingService:
    """``vector_model``: the fingerprint of the sentence-embedding model whose stored listing vectors
    join the text score (``search.semantic``); None: text features only."""

    def __init__(self, engine: SearchEngine, listings: ListingRepository, *, vector_model: str | None = None) -> None:
        self.engine = engine
        self.listings = listings
        self.search = SearchRepository(listings.session)
        self.vector_model = vector_model

    async def matches(
        self,
        principal: Principal | None,
        kind: ListingKind,
        listing_id: int,
        *,
        limit: int,
        filters: dict[str, Any],
        offset: int = 0,
    ) -> MatchPage:
        started = time.perf_counter()
        row = await ListingService(self.listings).get(principal, kind, listing_id)
        if row.status != ListingStatus.published:
            raise ListingNotPublished()
        target = DEMAND if kind is ACHIEVEMENT else ACHIEVEMENT
        query = profile_of(row, as_query=True)
        terms = query.key_terms(KEY_TERMS)
        candidates = await self._candidates(target, query, filters)
        nearness = await self.nearness(kind, listing_id, target, [c.id for c in candidates])
        ranked = rank(
            query,
            side_of(row),
            candidates,
            query_is_demand=kind is DEMAND,
            field_names=field_names(),
            semantic=nearness,
        )
        items = await self._page(target, ranked[offset:], limit)
        took_ms = round((time.perf_counter() - started) * 1000, 2)
        return MatchPage.of(items, len(ranked), PageParams(offset, limit), query_terms=terms, took_ms=took_ms)

    async def _candidates(self, target: ListingKind, query: Profile, filters: dict[str, Any]) -> list[Candidate]:
        """The engine's candidates for ``engine_queries``, merged.

        Candidates are scored on the text analysis stored in their engine documents; a document
        indexed before that analysis existed is read from the database instead (until the next
        reindex)."""
        queries = engine_queries(query, filters)
        if not filters:  # one look-up of the term counts both searches need, not one each
            await self.engine.warm(target.name, queries)
        searches = [asyncio.ensure_future(self.engine.search(target.name, search)) for search in queries]
        try:
            answers = await asyncio.gather(*searches)
        finally:
            for search in searches:
                search.cancel()  # only still pending if the other one failed
        found: dict[int, Candidate | None] = {}  # None: to read from the database
        for answer in answers:
            for hit in answer.hits:
                document = hit.document
                if hit.id in found:
                    continue
                if document is None or document.get("m_words") is None:
                    found[hit.id] = None
                    continue
                side = Side(
                    document.get("field"),
                    document["region"],
                    tuple(document.get("transaction_modes") or ()),
                    document.get("maturity"),
                    document.get("price_fen"),
                )
                found[hit.id] = Candidate(hit.id, StoredText.of_document(document), side)
        candidates = [c for c in found.values() if c is not None]
        legacy = sorted(i for i, c in found.items() if c is None)
        for row, _ in await self.search.with_owners(target.model, legacy):
            if row.status == ListingStatus.published and row.id is not None:
                candidates.append(
                    Candidate(row.id, StoredText.of_listing(row.title, body_of(row), row.keywords), side_of(row))
                )
        return candidates

    async def nearness(
        self, kind: ListingKind, listing_id: int, target: ListingKind, candidate_ids: Sequence[int]
    ) -> list[float | None]:
        """Per candidate, the cosine of its stored sentence vector with the listing's (None: it has no
        vector yet); empty when no model is configured or the listing's own vector is not computed yet."""
        if self.vector_model is None or not candidate_ids:
            return []
        vectors = VectorRepository(self.listings.session)
        own = (await vectors.vectors(kind.name, self.vector_model, [listing_id])).get(listing_id)
        if own is None:
            return []
        theirs = await vectors.vectors(target.name, self.vector_model, candidate_ids)
        return [None if (v := theirs.get(i)) is None else float(v @ own) for i in candidate_ids]

    async def _page(
        self, target: ListingKind, ranked: Sequence[tuple[Candidate, Match]], limit: int
    ) -> list[MatchItem]:
        """The first ``limit`` ranked listings that the database confirms are still published (the
        index may lag a withdrawal by a moment); only those rows are read."""
        items: list[MatchItem] = []
        start = 0
        while len(items) < limit and start < len(ranked):
            chunk = ranked[start : start + limit - len(items) + 2]
            start += len(chunk)
            rows = {
                row.id: (row, owner)
                for row, owner in await self.search.with_owners(target.model, [c.id for c, _ in chunk])
            }
            for candidate, match in chunk:
                found = rows.get(candidate.id)
                if found is None or found[0].status != ListingStatus.published or len(items) >= limit:
                    continue
                listing = target.to_read(found[0], found[1].name, internals=False, owner_region=found[1].region)
                items.append(MatchItem(listing=listing, score=match.score, reasons=match.reasons))
        return items
