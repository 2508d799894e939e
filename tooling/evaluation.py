"""`python -m tooling.evaluation DIR`: load a labelled folder through the import path into a fresh
database, index it, run every demand's matches and every search query on each engine, and score
them next to a plain BM25 baseline computed in the same run."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core import migrations
from core.db import Database
from core.settings import Settings
from market.listings.files import read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.repository import ListingRepository
from search.adapters import build_engine
from search.matching.service import MatchingService
from search.outbox_relay import reindex
from search.query import SearchQuery
from search.text import normalize, words
from tooling.eval_metrics import BM25, best_in_top, ndcg_at, recall_at, reciprocal_rank
from tooling.meili_process import running_meilisearch


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


class EngineName(StrEnum):
    embedded = "embedded"
    meilisearch = "meilisearch"


def main(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder like shared/eval/matching-dev")],
    engines: Annotated[
        list[EngineName] | None, typer.Option("--engine", help="Engines to score (default: both).")
    ] = None,
    search_url: Annotated[
        str | None, typer.Option(help="Use this Meilisearch instead of starting a temporary one.")
    ] = None,
    search_key: Annotated[str | None, typer.Option(help="Its master key.")] = None,
) -> None:
    """Score matching (nDCG@10, Recall@10, MRR, best-in-top-3) and search (Recall@10, MRR) per engine vs BM25."""
    chosen = engines or list(EngineName)
    with ExitStack() as stack:
        configs: dict[str, dict[str, str]] = {}
        for engine in chosen:
            if engine is EngineName.embedded:
                configs["embedded (SQLite FTS5)"] = {}
            elif search_url:
                configs["Meilisearch"] = {"search_url": search_url, "search_key": search_key or ""}
            else:
                server = stack.enter_context(running_meilisearch())
                configs["Meilisearch 1.21"] = {"search_url": server.url, "search_key": server.master_key}
        results = asyncio.run(evaluate(folder, configs))
    table = Table(
        "",
        "nDCG@10",
        "Recall@10",
        "MRR",
        "best in top 3",
        "search R@10",
        "search MRR",
        title=f"matching / search on {folder}",
    )
    baseline = next(iter(results.values()))
    for name, scores in results.items():
        ratio = f" ({scores.ndcg / baseline.ndcg:.2f}x)" if baseline.ndcg and scores is not baseline else ""
        table.add_row(
            name,
            f"{scores.ndcg:.3f}{ratio}",
            f"{scores.recall:.3f}",
            f"{scores.mrr:.3f}",
            f"{scores.top3:.0%}",
            f"{scores.search_recall:.3f}",
            f"{scores.search_mrr:.3f}",
        )
    Console().print(table)
    kinds = Table("search query kind", *results.keys(), title="search Recall@10 / MRR by query kind")
    for kind in baseline.per_kind:
        kinds.add_row(
            kind,
            *(
                f"{s.per_kind.get(kind, (0, 0))[0]:.2f} / {s.per_kind.get(kind, (0, 0))[1]:.2f}"
                for s in results.values()
            ),
        )
    Console().print(kinds)


if __name__ == "__main__":
    typer.run(main)
