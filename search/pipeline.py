"""The search engine interface, its query/result types, and the engine-agnostic steps every
adapter shares (query analysis, re-ranking of candidates, highlights).

An adapter only has to do what needs the engine: store documents, return the candidates that
match any term of the analysed query under the filters (with per-term document frequencies),
sort, count and facet. Everything about Chinese text and relevance lives in ``text`` and ``rank``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from search.documents import Kind, Maturity, OwnerKind, SearchDocument
from search.errors import QueryTooLong
from search.matching.features import weighted_words
from search.rank import SNIPPET_CHARS, Prepared, highlight, score
from search.text import MAX_QUERY_CHARS, QueryPlan, analyze_document, analyze_query

Sort = Literal["relevance", "newest", "price_asc", "price_desc"]
FacetName = Literal["field", "region", "maturity", "ip_type", "transaction_modes", "owner_kind"]
FACETS: tuple[FacetName, ...] = ("field", "region", "maturity", "ip_type", "transaction_modes", "owner_kind")
MAX_WINDOW = 1000  # deepest result reachable by paging (offset + limit), both engines
# candidates re-ranked for a relevance query, at least (both engines): 40, 50 and 100 give the same
# search Recall@10/MRR on the dev set, alone and among 3,000 distractors; 20 loses some
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
_CODE = r"^[A-Za-z0-9_\-]{1,64}$"


class SearchQuery(BaseModel):
    """What a caller may ask. Values are checked here too, but adapters still quote/bind them."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    fields: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="GB/T 2260; 150000 matches every 盟市 in it")
    maturity: list[Maturity] = Field(default_factory=list)
    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    transaction_modes: list[str] = Field(default_factory=list, description="any of")
    price_min_fen: int | None = Field(default=None, ge=0)
    price_max_fen: int | None = Field(default=None, ge=0)
    ip_types: list[str] = Field(default_factory=list)
    owner_kinds: list[OwnerKind] = Field(default_factory=list)
    sort: Sort = "relevance"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=20, ge=1, le=100)
    facets: list[FacetName] = Field(default_factory=list)
    highlight: bool = Field(default=True, description="False skips snippets")
    candidates_only: bool = Field(
        default=False,
        description="matching: the engine's candidates with their stored CANDIDATE_FIELDS, in engine order, "
        "without the BM25 re-rank, facets or snippets (matching ranks them itself); "
        "the words are taken as given, not expanded again",
    )
    term_weights: dict[str, float] = Field(
        default_factory=dict,
        description="candidates_only: how much each word of text matters (0-1], so an engine that merges "
        "per-word matches gives the strong words more of its candidates",
    )

    @field_validator("text")
    @classmethod
    def _not_too_long(cls, value: str) -> str:
        if len(value) > MAX_QUERY_CHARS:
            raise QueryTooLong(MAX_QUERY_CHARS)  # a DomainError passes through pydantic untouched
        return value

    @field_validator("regions")
    @classmethod
    def _region_codes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not (len(value) == 6 and value.isdigit()):
                raise ValueError("地区代码应为 6 位数字")
        return values

    @field_validator("fields", "transaction_modes", "ip_types")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        import re

        for value in values:
            if not re.match(_CODE, value):
                raise ValueError("代码格式无效")
        return values

    @property
    def window(self) -> int:
        return min(self.offset + self.limit, MAX_WINDOW)

    def plan(self) -> QueryPlan:
        """The analysed text: expanded (synonyms, pinyin, sub-words), except matching's words."""
        return analyze_query(self.text, expand=not self.candidates_only)


class SearchHit(BaseModel):
    id: int
    score: float
    highlights: dict[str, str] = Field(description="title, body: 原文, 命中处以 <em>…</em> 标出 (已 HTML 转义)")
    document: dict[str, Any] | None = Field(default=None, description="CANDIDATE_FIELDS, for candidates_only")


class SearchResult(BaseModel):
    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    took_ms: float = 0.0


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

    async def search(self, kind: Kind, query: SearchQuery) -> SearchResult: ...

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


# ---------------------------------------------------------------- shared by adapters


class DocumentFrequencies:
    """How many documents hold each term, per index and filter, kept for ``ttl`` seconds.

    BM25 needs them, and Meilisearch needs them before it asks for candidates: each term's share
    of the pool is weighted by its IDF, or a common word's title matches crowd out the rare words
    that say what the query is about (3,000 extra listings on the dev set: matching nDCG@10 0.69 →
    0.74). IDF moves slowly, so a term counted a minute ago need not be counted again. This is each
    process's own first level; behind it, Meilisearch shares counts without filters through the
    database (``search.term_counts``)."""

    def __init__(self, ttl: float, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], tuple[float, int]] = OrderedDict()

    def get(self, key: tuple[str, ...], now: float) -> int | None:
        entry = self._entries.get(key)
        if entry is None or now - entry[0] > self.ttl:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[str, ...], value: int, now: float) -> None:
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def index_fields(doc: SearchDocument) -> dict[str, Any]:
    """A document as every engine stores it: the contract's fields plus the derived ones."""
    data = doc.model_dump(mode="json")
    data.update(
        province=doc.province,
        prefecture=doc.region[:4] + "00",
        published_ts=int(doc.published_at.timestamp() * 1_000_000),
    )
    data.update(analyze_document(doc.title, doc.body, doc.keywords, doc.owner_name))
    data["m_words"] = " ".join(weighted_words(data["n_title"], data["n_body"], data["n_keywords"]))
    return data


def region_filters(codes: Sequence[str]) -> list[tuple[str, str]]:
    """(attribute, value) pairs: a province code filters on ``province``, a 盟市 on ``prefecture``."""
    pairs: list[tuple[str, str]] = []
    for code in codes:
        if code.endswith("0000"):
            pairs.append(("province", code))
        elif code.endswith("00"):
            pairs.append(("prefecture", code))
        else:
            pairs.append(("region", code))
    return pairs


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
) -> list[tuple[Mapping[str, Any], float]]:
    """Candidates in final order with their scores (re-ranked for relevance, else by the sort)."""
    docs = {int(c["id"]): c for c in candidates}
    prepared = [Prepared.of(c) for c in docs.values()]
    scores = score(plan, prepared, df, n_docs)
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
    plan: QueryPlan, page: Iterable[tuple[Mapping[str, Any], float]], *, highlights: bool = True
) -> list[SearchHit]:
    return [
        SearchHit(
            id=int(doc["id"]),
            score=round(value, 6),
            highlights={
                "title": highlight(plan, doc.get("title") or ""),
                "body": highlight(plan, doc.get("body") or "", crop=SNIPPET_CHARS),
            }
            if highlights
            else {},
        )
        for doc, value in page
    ]


def count_facets(names: Sequence[str], docs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for doc in docs:
        for name in names:
            value = doc.get(name)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    counts[name][str(item)] = counts[name].get(str(item), 0) + 1
    return counts


async def aiter_docs(docs: Iterable[SearchDocument] | AsyncIterable[SearchDocument]) -> AsyncIterator[SearchDocument]:
    """One async iteration over a plain or async iterable (rebuilds accept both)."""
    if isinstance(docs, AsyncIterable):
        async for doc in docs:
            yield doc
    else:
        for doc in docs:
            yield doc
