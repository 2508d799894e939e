"""One evaluation run: load a labelled folder through the import path into a fresh database, index it
on one engine, score every demand's matches and every search query as the app serves them, then
cross-validate the ranking weights on the same index.

Per engine the index is built once. Matching candidates are fetched once per demand with the shipped
weights (the engine's part); each setting the fit tries only re-ranks them (the app's part: the
demand's profile and ``ranking.rank``). Search re-runs the whole pipeline per setting (20 queries).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core import migrations
from core.db import Database
from core.settings import Settings
from market.listings.files import read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.models import Achievement, Demand
from market.listings.repository import ListingRepository
from search.adapters import build_engine
from search.evaluation.folds import CrossValidation, Fitter, Grid, Metrics, average, cross_validate
from search.evaluation.metrics import BM25, best_in_top, ndcg_at, recall_at, reciprocal_rank
from search.matching.features import StoredText, profile
from search.matching.ranking import Candidate, rank
from search.matching.scoring import Side
from search.matching.service import MatchingService, body_of, engine_queries, field_names, query_profile, side_of
from search.outbox_relay import reindex
from search.pipeline import SearchEngine
from search.query import SearchQuery
from search.semantic.tasks import embed_once, load_encoder
from search.text import normalize, words
from search.weights import MATCH, SEARCH, MatchWeights, SearchWeights, using

# What the fit may change, and to what: a few values around each shipped one (fields the weights do
# not have are skipped, so the grid survives a renamed weight). Nothing here names an item of a set.
MATCHING_GRID: Grid = (
    ("text", (0.55, 0.70, 0.85)),
    ("field", (0.06, 0.12, 0.20)),
    ("fit", (0.08, 0.15, 0.25)),
    ("local", (0.0, 0.03)),
    ("gram", (0.5, 1.0, 1.5)),
    ("semantic", (0.3, 0.5, 0.7)),  # only moves anything when a sentence model is configured
    ("feedback", (1.0, 2.0, 3.0)),
    ("synonym", (0.5, 0.7, 0.9)),
    ("concept", (0.3, 0.5, 0.7)),
    ("solution", (0.4, 0.6, 0.8)),
    ("problem_focus", (1.0, 1.6, 2.2)),
)
SEARCH_GRID: Grid = (
    ("k1", (0.9, 1.2, 1.6)),
    ("coverage_floor", (0.3, 0.5, 0.7)),
    ("fuzzy_discount", (0.6, 0.8, 1.0)),
    ("word_part", (0.3, 0.5, 0.7)),
    ("thesaurus", (0.6, 0.8, 0.95)),
    ("pinyin_reading", (0.7, 0.9, 1.0)),
    ("concept", (0.15, 0.25, 0.35)),
    ("translation", (0.4, 0.6, 0.8)),
    ("feedback", (0.0, 1.0, 2.0)),
)


@dataclass
class Labels:
    achievements: list[dict[str, Any]]
    demands: list[dict[str, Any]]
    grades: dict[str, dict[str, int]]
    queries: list[dict[str, Any]]

    @property
    def judged(self) -> list[dict[str, Any]]:
        return [d for d in self.demands if self.grades.get(d["external_id"])]

    def query_ids(self) -> list[str]:
        return [f"q{index:03d}" for index in range(len(self.queries))]

    def demand_strata(self) -> dict[str, str]:
        return {d["external_id"]: str(d.get("field") or "") for d in self.judged}

    def query_strata(self) -> dict[str, str]:
        return {qid: str(q.get("kind") or "all") for qid, q in zip(self.query_ids(), self.queries, strict=True)}


def load_labels(folder: Path) -> Labels:
    def lines(name: str) -> list[dict[str, Any]]:
        path = folder / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    grades: dict[str, dict[str, int]] = defaultdict(dict)
    for row in lines("qrels.jsonl"):
        grades[row["demand"]][row["achievement"]] = int(row["grade"])
    return Labels(lines("achievements.jsonl"), lines("demands.jsonl"), dict(grades), lines("queries.jsonl"))


def matching_figures(ranked: Mapping[str, Sequence[str]], labels: Labels) -> dict[str, Metrics]:
    """Per judged demand: nDCG@10 (gain 2^grade-1), Recall@10 of grade ≥ 2, MRR of the first grade 3,
    whether a best-graded answer is in the top 3."""
    figures: dict[str, Metrics] = {}
    for demand in labels.judged:
        key = demand["external_id"]
        grades, items = labels.grades[key], list(ranked.get(key, []))
        figures[key] = {
            "ndcg": ndcg_at(items, grades),
            "recall": recall_at(items, {a for a, g in grades.items() if g >= 2}),
            "mrr": reciprocal_rank(items, {a for a, g in grades.items() if g == 3}),
            "top3": float(best_in_top(items, grades)),
        }
    return figures


def search_figures(ranked: Sequence[Sequence[str]], labels: Labels) -> dict[str, Metrics]:
    figures: dict[str, Metrics] = {}
    for qid, query, items in zip(labels.query_ids(), labels.queries, ranked, strict=True):
        relevant = set(query["relevant"])
        figures[qid] = {"recall": recall_at(list(items), relevant), "mrr": reciprocal_rank(list(items), relevant)}
    return figures


@dataclass
class Report:
    """One engine's (or the baseline's) figures: as evaluated with the shipped weights, and held out."""

    name: str
    matching: dict[str, Metrics]
    search: dict[str, Metrics]
    search_kinds: dict[str, str]  # query id → its kind
    matching_cv: CrossValidation[MatchWeights] | None = None
    search_cv: CrossValidation[SearchWeights] | None = None
    notes: list[str] = field(default_factory=list)


def bm25_baseline(labels: Labels) -> Report:
    """The reference: jieba words, demand title + description as query, no field, constraint or
    expansion, no weight to fit (its held-out figures are its figures)."""
    documents = [
        words(normalize(f"{a['title']} {a['summary']} {' '.join(a['keywords'])}")) for a in labels.achievements
    ]
    index = BM25(documents)
    ids = [a["external_id"] for a in labels.achievements]
    ranked = {
        d["external_id"]: [ids[i] for i in index.rank(words(normalize(f"{d['title']} {d['description']}")))[:10]]
        for d in labels.demands
    }
    searched = [[ids[i] for i in index.rank(words(normalize(q["q"])))[:10]] for q in labels.queries]
    return Report(
        "BM25 (jieba)", matching_figures(ranked, labels), search_figures(searched, labels), labels.query_strata()
    )


@dataclass(frozen=True)
class MatchInput:
    external_id: str
    title: str
    body: str
    keywords: tuple[str, ...]
    side: Side
    candidates: tuple[Candidate, ...]
    semantic: tuple[float | None, ...] = ()  # per candidate, its sentence-vector cosine (none: no model)


async def match_inputs(
    engine: SearchEngine, demands: Mapping[str, Achievement | Demand], service: MatchingService | None = None
) -> list[MatchInput]:
    """Each demand's candidates as the matching service fetches them (shipped weights), with their
    sentence-vector nearness when ``service`` reads vectors."""
    inputs = []
    for external_id, row in demands.items():
        query = query_profile(DEMAND, row.title, body_of(row), row.keywords)
        found: dict[int, Candidate] = {}
        for search in engine_queries(query, {}):
            for hit in (await engine.search(ACHIEVEMENT.name, search)).hits:
                document = hit.document or {}
                if hit.id in found or document.get("m_words") is None:
                    continue
                side = Side(
                    document.get("field"),
                    document["region"],
                    tuple(document.get("transaction_modes") or ()),
                    document.get("maturity"),
                    document.get("price_fen"),
                )
                found[hit.id] = Candidate(hit.id, StoredText.of_document(document), side)
        nearness = await service.nearness(DEMAND, row.id or 0, ACHIEVEMENT, list(found)) if service else []
        inputs.append(
            MatchInput(
                external_id,
                row.title,
                body_of(row),
                tuple(row.keywords),
                side_of(row),
                tuple(found.values()),
                tuple(nearness),
            )
        )
    return inputs


def settable(grid: Grid, weights: type) -> Grid:
    """The grid's fields that ``weights`` has."""
    names = set(getattr(weights, "__dataclass_fields__", ()))
    return tuple((name, values) for name, values in grid if name in names)


async def engine_report(
    name: str, folder: Path, labels: Labels, settings: Settings, *, folds: int, seed: int
) -> Report:
    url = settings.resolved_database_url
    await asyncio.to_thread(migrations.upgrade, url)
    database = Database.from_settings(settings)
    engine = build_engine(settings)
    try:
        for kind, file_name in ((ACHIEVEMENT, "achievements.jsonl"), (DEMAND, "demands.jsonl")):
            rows = read_rows(file_name, (folder / file_name).read_bytes())
            await Importer(database, kind).run(rows, publish=True, create_organizations=True)
        await engine.ensure_ready()
        for kind_name in ("achievement", "demand"):
            await reindex(database, engine, kind_name)
        encoder = load_encoder(settings.embedding_model) if settings.embedding_model else None
        while encoder is not None and await embed_once(database, encoder):
            pass
        async with database.sessionmaker() as session:
            listings = ListingRepository(session)
            external = {row.id: row.external_id for row in await listings.all_published(ACHIEVEMENT.model)}
            published = {row.external_id: row for row in await listings.all_published(DEMAND.model)}
            demands = {d["external_id"]: published[d["external_id"]] for d in labels.judged}
            service = MatchingService(engine, listings, vector_model=encoder.model if encoder else None)
            served: dict[str, list[str]] = {}
            for key, row in demands.items():
                assert row.id is not None
                page = await service.matches(None, DEMAND, row.id, limit=10, filters={})
                served[key] = [item.listing.external_id or "" for item in page.items]
            inputs = await match_inputs(engine, demands, service)

        names = field_names()

        async def rematch(weights: MatchWeights) -> Mapping[str, Metrics]:
            ranked = {}
            with using(match=weights):
                for item in inputs:
                    query = profile(item.title, item.body, item.keywords, expand="problem")
                    order = rank(
                        query,
                        item.side,
                        item.candidates,
                        query_is_demand=True,
                        field_names=names,
                        semantic=item.semantic,
                    )
                    ranked[item.external_id] = [external.get(c.id) or "" for c, _ in order[:10]]
            return matching_figures(ranked, labels)

        async def research(weights: SearchWeights) -> Mapping[str, Metrics]:
            searched = []
            with using(search=weights):
                for query in labels.queries:
                    result = await engine.search(ACHIEVEMENT.name, SearchQuery(text=query["q"], limit=10))
                    searched.append([external.get(hit.id) or "" for hit in result.hits])
            return search_figures(searched, labels)

        report = Report(name, matching_figures(served, labels), dict(await research(SEARCH)), labels.query_strata())
        replayed = await rematch(MATCH)
        if average(replayed).get("ndcg") != average(report.matching).get("ndcg"):
            report.notes.append(f"{name}: re-ranking the fetched candidates differs from the served matches")
        matching = Fitter[MatchWeights](rematch, lambda m: m["ndcg"], settable(MATCHING_GRID, MatchWeights))
        report.matching_cv = await cross_validate(matching, MATCH, labels.demand_strata(), k=folds, seed=seed)
        searching = Fitter[SearchWeights](
            research, lambda m: m["recall"] + m["mrr"], settable(SEARCH_GRID, SearchWeights)
        )
        report.search_cv = await cross_validate(searching, SEARCH, labels.query_strata(), k=folds, seed=seed)
        return report
    finally:
        await engine.aclose()
        await database.dispose()


@dataclass(frozen=True)
class Target:
    """An engine to evaluate: embedded without a URL, else the Meilisearch there (master key: the run
    creates its own ``eval…`` indexes)."""

    search_url: str | None = None
    search_key: str | None = None


async def evaluate(folder: Path, engines: Mapping[str, Target], *, folds: int = 5, seed: int = 0) -> list[Report]:
    """The baseline, then each engine."""
    labels = load_labels(folder)
    reports = [bm25_baseline(labels)]
    for name, target in engines.items():
        prefix = f"eval{secrets.token_hex(4)}"
        with tempfile.TemporaryDirectory(prefix="techmarket-eval-") as workdir:
            settings = Settings(
                env="development",
                data_dir=Path(workdir),
                search_index_prefix=prefix,
                search_url=target.search_url,
                search_key=target.search_key,
            )
            try:
                reports.append(await engine_report(name, folder, labels, settings, folds=folds, seed=seed))
            finally:
                if target.search_url:
                    await drop_indexes(target.search_url, target.search_key, prefix)
    return reports


async def drop_indexes(url: str, key: str | None, prefix: str) -> None:
    """Delete the run's indexes from a Meilisearch that outlives it. The run's last tasks may still be
    queued (an index is listed only once its creation ran), so settle before listing and after deleting."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as client:
        await settle(client, prefix)
        listed = (await client.get("/indexes", params={"limit": 1000})).json().get("results", [])
        for index in listed:
            if str(index.get("uid", "")).startswith(f"{prefix}_"):
                await client.delete(f"/indexes/{index['uid']}")
        await settle(client, prefix)


async def settle(client: httpx.AsyncClient, prefix: str, *, timeout: float = 600.0) -> None:
    """Wait until no task on an index of the run is enqueued or processing; minutes on a busy machine."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pending = (
            (await client.get("/tasks", params={"statuses": "enqueued,processing", "limit": 1000}))
            .json()
            .get("results", [])
        )
        if not any(str(task.get("indexUid") or "").startswith(f"{prefix}_") for task in pending):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"Meilisearch tasks on {prefix}_* still pending after {timeout:.0f} s")
        await asyncio.sleep(0.1)
