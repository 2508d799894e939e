"""Regression on the dev search queries (../shared/eval/matching-dev): Recall@10 and MRR on both
engines, next to a plain BM25 baseline (jieba tokens over title + summary + keywords).

Run with ``-s`` to see the table. Floors sit just under the measured figures so a regression fails;
nothing here is tuned to individual queries (a larger hidden set of the same kinds judges).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from search.adapters.embedded import EmbeddedEngine
from search.adapters.meilisearch import MeilisearchEngine
from search.documents import SearchDocument
from search.pipeline import SearchEngine
from search.query import SearchQuery
from tests.fixtures.meilisearch import MeiliServer
from tests.prerequisites import EVAL_SET, needs

EVAL_DIR = EVAL_SET
FLOOR_RECALL = 0.95
FLOOR_MRR = 0.90

pytestmark = needs((EVAL_DIR / "queries.jsonl").is_file(), f"dev evaluation set not found at {EVAL_DIR}")


def _jsonl(name: str) -> list[dict[str, Any]]:
    with (EVAL_DIR / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_documents() -> list[SearchDocument]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        SearchDocument(
            id=index,
            kind="achievement",
            external_id=row["external_id"],
            title=row["title"],
            body=row["summary"],
            keywords=row["keywords"],
            field=row["field"],
            region=row["region"],
            maturity=row["maturity"],
            trl=row["trl"],
            ip_type=row["ip_type"],
            transaction_modes=row["transaction_modes"],
            price_fen=None if row["price"] is None else row["price"] * 100,
            owner_id=int(hashlib.sha256(row["owner"].encode()).hexdigest()[:8], 16),
            owner_name=row["owner"],
            owner_kind=row["owner_kind"],
            published_at=start + timedelta(days=index),
        )
        for index, row in enumerate(_jsonl("achievements.jsonl"), start=1)
    ]


def bm25_baseline(docs: list[SearchDocument]) -> Any:
    """Plain BM25 (k1 1.2, b 0.75) over stock jieba words (lowercased), without synonyms, 繁→简,
    pinyin or typo handling."""
    import jieba

    def words(text: str) -> list[str]:
        return [t for t in jieba.lcut(text.lower()) if t.strip() and any(c.isalnum() for c in t)]

    tokens = {d.id: words(" ".join([d.title, d.body, *d.keywords])) for d in docs}
    df: Counter[str] = Counter(t for ts in tokens.values() for t in set(ts))
    average = sum(len(ts) for ts in tokens.values()) / len(tokens)

    def rank(query: str) -> list[int]:
        scores: dict[int, float] = {}
        terms = words(query)
        for doc_id, ts in tokens.items():
            counts = Counter(ts)
            value = 0.0
            for term in terms:
                if counts[term]:
                    idf = math.log(1 + (len(tokens) - df[term] + 0.5) / (df[term] + 0.5))
                    value += idf * counts[term] * 2.2 / (counts[term] + 1.2 * (0.25 + 0.75 * len(ts) / average))
            if value:
                scores[doc_id] = value
        return sorted(scores, key=lambda i: -scores[i])[:10]

    return rank


def metrics(rankings: dict[str, list[str]], queries: list[dict[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """Recall@10 and MRR overall and per query kind."""
    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for query in queries:
        relevant = set(query["relevant"])
        got = rankings[query["q"]][:10]
        recall = len(relevant & set(got)) / len(relevant)
        rr = next((1 / rank for rank, ext in enumerate(got, start=1) if ext in relevant), 0.0)
        per_kind[query["kind"]].append((recall, rr))
        per_kind["ALL"].append((recall, rr))
    return {
        kind: (sum(r for r, _ in v) / len(v), sum(m for _, m in v) / len(v), len(v)) for kind, v in per_kind.items()
    }


@pytest.fixture(params=["embedded", "meilisearch"])
async def loaded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SearchEngine, list[SearchDocument]]]:
    if request.param == "embedded":
        engine: SearchEngine = EmbeddedEngine(tmp_path / "search.db")
    else:
        server: MeiliServer = request.getfixturevalue("meili_server")
        engine = MeilisearchEngine(
            server.url, api_key=server.master_key, index_prefix=f"queries{uuid.uuid4().hex[:8]}", wait_for_tasks=True
        )
    docs = load_documents()
    await engine.ensure_ready()
    await engine.upsert("achievement", docs)
    yield engine, docs
    await engine.aclose()


async def test_dev_queries_recall_and_mrr(loaded: tuple[SearchEngine, list[SearchDocument]]) -> None:
    engine, docs = loaded
    queries = _jsonl("queries.jsonl")
    external = {d.id: d.external_id or "" for d in docs}
    baseline = bm25_baseline(docs)
    ours: dict[str, list[str]] = {}
    plain: dict[str, list[str]] = {}
    for query in queries:
        result = await engine.search("achievement", SearchQuery(text=query["q"], limit=10))
        ours[query["q"]] = [external[hit.id] for hit in result.hits]
        plain[query["q"]] = [external[i] for i in baseline(query["q"])]
    mine, base = metrics(ours, queries), metrics(plain, queries)
    print(f"\n{engine.name}: {len(queries)} queries, {len(docs)} achievements")
    print(f"{'kind':<14}{'n':>3}  {'R@10':>6} {'MRR':>6}   {'BM25 R@10':>9} {'MRR':>6}")
    for kind in sorted(mine, key=lambda k: (k == "ALL", k)):
        (recall, mrr, n), (b_recall, b_mrr, _) = mine[kind], base[kind]
        print(f"{kind:<14}{n:>3}  {recall:>6.3f} {mrr:>6.3f}   {b_recall:>9.3f} {b_mrr:>6.3f}")
    recall, mrr, _ = mine["ALL"]
    assert recall >= FLOOR_RECALL and mrr >= FLOOR_MRR, (recall, mrr)
    assert recall > base["ALL"][0]
