"""The search pipeline every engine shares: analyse the text, ask the adapter for candidates, re-rank
them (BM25F, ``search.rank``) and highlight the page; ``search.service`` hydrates it from the database.

An adapter does only what needs its engine (``SearchEngine.candidates``): the documents matching any
term of the analysed query under the filters, with the total, the facets and the document
frequencies the re-ranker needs. Everything about Chinese text and relevance lives in ``text`` and ``rank``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from search.documents import Kind, SearchDocument
from search.feedback import RELATED_FILL, Ranked, below, related_plan, reread
from search.query import MAX_WINDOW, SearchQuery, Sort
from search.rank import SNIPPET_CHARS, Prepared, highlight, holds_any, score
from search.text import QueryPlan
from search.weights import SearchWeights, active_search

# candidates re-ranked for a relevance query, at least: fewer lose recall on the dev set, more gain none
RERANK_WINDOW = 50
# what matching scores a candidate on, stored in every document (n_*, m_words: text analysed at index time)
CANDIDATE_FIELDS = (
    "id",
    "n_title",
    "n_body",
    "n_keywords",
    "m_words",
    "field",
    "region",
    "transaction_modes",
    "maturity",
    "price_fen",
)


class SearchHit(BaseModel):
    id: int
    score: float
    highlights: dict[str, str] = Field(description="title, body: 原文, 命中处以 <em>…</em> 标出 (已 HTML 转义)")
    document: dict[str, Any] | None = Field(default=None, description="CANDIDATE_FIELDS, for candidates_only")
    related: bool = Field(default=False, description="no query word: like the best matches (search.feedback)")


class SearchResult(BaseModel):
    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    took_ms: float = 0.0
    relaxed: bool = False


@dataclass
class Candidates:
    """What an adapter found for one query: stored documents, and what ranking and paging them needs."""

    docs: Sequence[Mapping[str, Any]]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    df: Mapping[str, int] = field(default_factory=dict)  # documents holding each term (Term.key), in scope
    n_docs: int = 0  # documents in scope
    paged: bool = False  # the engine already applied offset and limit: docs are the requested page


@runtime_checkable
class SearchEngine(Protocol):
    name: str

    async def ensure_ready(self) -> None:
        """Create indexes/tables and settings if missing (idempotent)."""

    async def upsert(self, kind: Kind, docs: Sequence[SearchDocument]) -> None:
        """Add or replace documents by id (idempotent); returns once they are applied. Raises
        ``SearchRejected`` when the engine refused them, ``SearchUnavailable`` when it is out of reach."""

    async def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    async def candidates(self, kind: Kind, query: SearchQuery, plan: QueryPlan) -> Candidates:
        """The engine's part of a search. For a relevance query with text: at least ``RERANK_WINDOW``
        of the best matches (engine order is only a pre-selection); otherwise the page in the sort's
        order. For ``candidates_only``: the page in engine order, with their CANDIDATE_FIELDS."""

    async def search(self, kind: Kind, query: SearchQuery) -> SearchResult:
        """``run(self, kind, query)``: the shared pipeline over this adapter's candidates."""

    @property
    def warms_term_counts(self) -> bool:
        """True when ``warm`` does something (an engine that weighs terms by counts it shares)."""

    async def warm(self, kind: Kind, queries: Sequence[SearchQuery]) -> None:
        """Prepare what these queries will need (term counts), so their first run need not."""

    async def count(self, kind: Kind) -> int: ...

    async def ids(self, kind: Kind) -> set[int]:
        """Every document id in the live index."""

    async def health(self) -> bool:
        """True when the engine answers; never raises."""

    async def rebuild(
        self, kind: Kind, docs: Iterable[SearchDocument] | AsyncIterable[SearchDocument], *, batch_size: int = 500
    ) -> int:
        """Build a fresh index from ``docs`` and swap it in; searches keep being served meanwhile."""

    async def aclose(self) -> None: ...


async def run(engine: SearchEngine, kind: Kind, query: SearchQuery) -> SearchResult:
    """Analyse → candidates → re-rank → page → highlight; the same steps, in this order, for every engine."""
    started = time.perf_counter()
    plan = query.plan()
    found = await engine.candidates(kind, query, plan)
    relaxed = False
    if not found.total and not query.candidates_only and not plan.empty:
        # nothing holds any word as typed or as the lexicons read it: its characters, near each other;
        # unless listings outside the filters hold it (稀土 in another region is still 稀土)
        fallback = plan.relaxed()
        if not fallback.empty and not (query.filtered and await _held_anywhere(engine, kind, query, plan)):
            plan, relaxed = fallback, True
            found = await engine.candidates(kind, query, plan)
    if query.candidates_only:
        result = SearchResult(hits=candidate_hits(found.docs), total=found.total)
    else:
        result = await _page(engine, kind, query, plan, found, relaxed=relaxed)
    result.took_ms = round((time.perf_counter() - started) * 1000, 2)
    result.relaxed = relaxed
    return result


async def _page(
    engine: SearchEngine, kind: Kind, query: SearchQuery, plan: QueryPlan, found: Candidates, *, relaxed: bool
) -> SearchResult:
    """The requested page of the matches in order; for a query few listings match (as typed, not
    relaxed), then related listings up to ``RELATED_FILL`` results (``search.feedback``)."""
    relevance = query.sort == "relevance" and not plan.empty and not found.paged
    few = query.related and relevance and not relaxed and 0 < found.total < RELATED_FILL
    if query.offset >= min(found.total, MAX_WINDOW):
        if not few:
            return SearchResult(hits=[], total=found.total, facets=found.facets)
        # the page lies among the related listings, which the matches lead to
        found = await engine.candidates(kind, query.model_copy(update={"offset": 0}), plan)
    ranked = rank_candidates(plan, query, found.docs, found.df, found.n_docs)
    if relevance:
        ranked = reread(ranked, active_search())
    if found.paged:
        return SearchResult(
            hits=to_hits(plan, ranked, highlights=query.highlight), total=found.total, facets=found.facets
        )
    start, stop = query.offset, query.window
    hits = to_hits(plan, ranked[start:stop], highlights=query.highlight)
    wider, related = await _related(engine, kind, query, plan, ranked) if few else (plan, [])
    shown = related[max(start - len(ranked), 0) : max(stop - len(ranked), 0)]
    hits += to_hits(wider, shown, highlights=query.highlight, related=True)
    return SearchResult(hits=hits, total=found.total + len(related), facets=found.facets)


async def _related(
    engine: SearchEngine, kind: Kind, query: SearchQuery, plan: QueryPlan, matches: Ranked
) -> tuple[QueryPlan, Ranked]:
    """The listings the best matches' words find (within the query's filters), up to ``RELATED_FILL``
    results in all, with the plan of those words (their highlights)."""
    weights = active_search()
    # a match through a word part or a loose expansion only does not speak for the query
    best = [doc for doc, _ in matches[: weights.feedback_depth] if holds_any(plan, doc, trusted=weights.thesaurus)]
    wider = related_plan(plan, best, weights)
    if wider.empty:
        return wider, []
    found = await engine.candidates(kind, query.model_copy(update={"offset": 0, "facets": []}), wider)
    matched = {int(doc["id"]) for doc, _ in matches}
    others = [doc for doc in found.docs if int(doc["id"]) not in matched]
    scored = rank_candidates(wider, query, others, found.df, found.n_docs)[: RELATED_FILL - len(matches)]
    return wider, below(matches, scored, weights.related_share)


async def _held_anywhere(engine: SearchEngine, kind: Kind, query: SearchQuery, plan: QueryPlan) -> bool:
    unfiltered = SearchQuery(text=query.text, limit=1, sort="newest", highlight=False)
    return (await engine.candidates(kind, unfiltered, plan)).total > 0


def sort_key(sort: Sort) -> Any:
    """Python sort key over stored documents, identical to what adapters ask their engine for."""
    if sort == "price_asc":
        return lambda d: (d.get("price_fen") is None, d.get("price_fen") or 0, d["id"])
    if sort == "price_desc":
        return lambda d: (d.get("price_fen") is None, -(d.get("price_fen") or 0), -d["id"])
    return lambda d: (-d["published_ts"], -d["id"])


def rank_candidates(
    plan: QueryPlan,
    query: SearchQuery,
    candidates: Iterable[Mapping[str, Any]],
    df: Mapping[str, int],
    n_docs: int,
    weights: SearchWeights | None = None,
) -> list[tuple[Mapping[str, Any], float]]:
    """Candidates in final order with their scores (re-ranked for relevance, else by the sort)."""
    docs = {int(c["id"]): c for c in candidates}
    prepared = [Prepared.of(c) for c in docs.values()]
    scores = score(plan, prepared, df, n_docs, weights)
    if query.sort == "relevance" and not plan.empty:
        newest = sort_key("newest")
        ordered = sorted(docs.values(), key=lambda d: (-scores[int(d["id"])], newest(d)))
    else:
        ordered = sorted(docs.values(), key=sort_key(query.sort))
    return [(d, scores[int(d["id"])]) for d in ordered]


def candidate_hits(docs: Iterable[Mapping[str, Any]]) -> list[SearchHit]:
    """Built without validation: the engine's own documents, ~100 per match."""
    return [
        SearchHit.model_construct(
            id=int(doc["id"]), score=0.0, highlights={}, document={name: doc.get(name) for name in CANDIDATE_FIELDS}
        )
        for doc in docs
    ]


def to_hits(
    plan: QueryPlan,
    page: Iterable[tuple[Mapping[str, Any], float]],
    *,
    highlights: bool = True,
    related: bool = False,
) -> list[SearchHit]:
    return [
        SearchHit(
            id=int(doc["id"]),
            score=round(value, 6),
            related=related,
            highlights={
                "title": highlight(plan, doc.get("title") or ""),
                "body": highlight(plan, doc.get("body") or "", crop=SNIPPET_CHARS),
            }
            if highlights
            else {},
        )
        for doc, value in page
    ]
