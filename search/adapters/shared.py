"""What both adapters share below the pipeline: the stored form of a document, region filters,
facet counting, the per-process document-frequency cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from search.documents import SearchDocument
from search.matching.features import weighted_words
from search.text import analyze_document


class DocumentFrequencies:
    """How many documents hold each term, per index and filter, kept for ``ttl`` seconds: BM25 (and
    Meilisearch's pool weights) need them and IDF moves slowly. Each process's own first level; behind
    it, Meilisearch shares counts without filters through the database (``search.term_counts``)."""

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
