"""`techmarket eval matching DIR`: load a labelled folder through the import path into a fresh
database, index it, run every demand's matches and every search query on each engine, and score
them next to a plain BM25 baseline computed in the same run."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from core import migrations
from core.db import Database
from core.settings import Settings
from market.listings.files import read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.repository import ListingRepository
from search.engine import SearchQuery
from search.engines import build_engine
from search.indexing import reindex
from search.matching.metrics import BM25, best_in_top, ndcg_at, recall_at, reciprocal_rank
from search.matching.service import MatchingService
from search.text import normalize, words


@dataclass
class Scores:
    ndcg: float = 0.0
    recall: float = 0.0
    mrr: float = 0.0
    top3: float = 0.0
    search_recall: float = 0.0
    search_mrr: float = 0.0
    per_kind: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class Labels:
    achievements: list[dict]
    demands: list[dict]
    grades: dict[str, dict[str, int]]
    queries: list[dict]


def load_labels(folder: Path) -> Labels:
    def lines(name: str) -> list[dict]:
        path = folder / name
        return (
            [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if path.exists()
            else []
        )

    grades: dict[str, dict[str, int]] = defaultdict(dict)
    for row in lines("qrels.jsonl"):
        grades[row["demand"]][row["achievement"]] = int(row["grade"])
    return Labels(lines("achievements.jsonl"), lines("demands.jsonl"), dict(grades), lines("queries.jsonl"))


def matching_scores(ranked: dict[str, list[str]], labels: Labels) -> Scores:
    scores, judged = Scores(), [d["external_id"] for d in labels.demands if labels.grades.get(d["external_id"])]
    for demand in judged:
        grades, items = labels.grades[demand], ranked.get(demand, [])
        scores.ndcg += ndcg_at(items, grades)
        scores.recall += recall_at(items, {a for a, g in grades.items() if g >= 2})
        scores.mrr += reciprocal_rank(items, {a for a, g in grades.items() if g == 3})
        scores.top3 += best_in_top(items, grades)
    n = len(judged) or 1
    scores.ndcg, scores.recall, scores.mrr, scores.top3 = (
        v / n for v in (scores.ndcg, scores.recall, scores.mrr, scores.top3)
    )
    return scores


def search_scores(scores: Scores, ranked: list[list[str]], labels: Labels) -> None:
    by_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for query, items in zip(labels.queries, ranked, strict=True):
        relevant = set(query["relevant"])
        by_kind[query.get("kind", "all")].append((recall_at(items, relevant), reciprocal_rank(items, relevant)))
    pairs = [p for values in by_kind.values() for p in values]
    if pairs:
        scores.search_recall = sum(p[0] for p in pairs) / len(pairs)
        scores.search_mrr = sum(p[1] for p in pairs) / len(pairs)
    scores.per_kind = {
        k: (sum(p[0] for p in v) / len(v), sum(p[1] for p in v) / len(v)) for k, v in sorted(by_kind.items())
    }


def bm25_baseline(labels: Labels) -> Scores:
    """The reference: jieba words, demand title + description as query, no field or constraint."""
    documents = [
        words(normalize(f"{a['title']} {a['summary']} {' '.join(a['keywords'])}")) for a in labels.achievements
    ]
    index = BM25(documents)
    ids = [a["external_id"] for a in labels.achievements]
    ranked = {
        d["external_id"]: [ids[i] for i in index.rank(words(normalize(f"{d['title']} {d['description']}")))[:10]]
        for d in labels.demands
    }
    scores = matching_scores(ranked, labels)
    search_scores(scores, [[ids[i] for i in index.rank(words(normalize(q["q"])))[:10]] for q in labels.queries], labels)
    return scores


async def engine_scores(folder: Path, labels: Labels, settings: Settings) -> Scores:
    url = settings.resolved_database_url
    await asyncio.to_thread(migrations.upgrade, url)
    database = Database.from_settings(settings)
    engine = build_engine(settings)
    try:
        for kind, name in ((ACHIEVEMENT, "achievements.jsonl"), (DEMAND, "demands.jsonl")):
            rows = read_rows(name, (folder / name).read_bytes())
            await Importer(database, kind).run(rows, publish=True, create_organizations=True)
        await engine.ensure_ready()
        for kind_name in ("achievement", "demand"):
            await reindex(database, engine, kind_name)
        async with database.sessionmaker() as session:
            listings = ListingRepository(session)
            external = {row.id: row.external_id for row in await listings.all_published(ACHIEVEMENT.model)}
            demand_ids = {row.external_id: row.id for row in await listings.all_published(DEMAND.model)}
            service = MatchingService(engine, listings)
            ranked = {}
            for demand in labels.demands:
                page = await service.matches(None, DEMAND, demand_ids[demand["external_id"]], limit=10, filters={})
                ranked[demand["external_id"]] = [item.listing.external_id for item in page.items]
        scores = matching_scores(ranked, labels)
        searched = []
        for query in labels.queries:
            result = await engine.search("achievement", SearchQuery(text=query["q"], limit=10))
            searched.append([external.get(hit.id, "") for hit in result.hits])
        search_scores(scores, searched, labels)
        return scores
    finally:
        await engine.aclose()
        await database.dispose()


async def evaluate(folder: Path, engines: dict[str, dict[str, str]]) -> dict[str, Scores]:
    """``engines``: name → extra settings (e.g. search_url/search_key for Meilisearch)."""
    labels = load_labels(folder)
    results = {"BM25 (jieba)": bm25_baseline(labels)}
    for name, extra in engines.items():
        with tempfile.TemporaryDirectory(prefix="techmarket-eval-") as workdir:
            settings = Settings(
                env="development",
                data_dir=Path(workdir),
                search_index_prefix=f"eval{abs(hash(workdir)) % 10**8}",
                **extra,
            )
            results[name] = await engine_scores(folder, labels, settings)
    return results
