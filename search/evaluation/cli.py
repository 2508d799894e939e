"""``techmarket eval matching DIR``: the dev-set figures as evaluated, and under k-fold cross-validation.

"as evaluated" scores the shipped weights on the whole set; "k-fold CV" scores each item with the
weights fitted on the other folds only, which is what predicts unseen text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from search.evaluation.folds import CrossValidation, Metrics, average
from search.evaluation.runs import Report, Target, evaluate

eval_app = typer.Typer(help="Measure search and matching quality on a labelled folder.", no_args_is_help=True)


class EngineChoice(StrEnum):
    embedded = "embedded"
    meilisearch = "meilisearch"
    both = "both"


EMBEDDED, MEILISEARCH = "embedded", "Meilisearch"


def targets(engine: EngineChoice, search_url: str | None, search_key: str | None) -> dict[str, Target]:
    """Engine names → where they run. Meilisearch needs a server (``--search-url``, its master key)."""
    chosen: dict[str, Target] = {}
    if engine in (EngineChoice.embedded, EngineChoice.both):
        chosen[EMBEDDED] = Target()
    if engine in (EngineChoice.meilisearch, EngineChoice.both):
        if not search_url:
            raise typer.BadParameter(
                "Meilisearch 需要 --search-url 和 --search-key (主密钥); "
                "在代码仓库中 `python -m tooling.evaluation` 会自行启动一个临时实例",
                param_hint="--search-url",
            )
        chosen[MEILISEARCH] = Target(search_url, search_key)
    return chosen


def _cv(
    figures: Mapping[str, Metrics], cv: CrossValidation[Any] | None, items: Sequence[str] | None = None
) -> dict[str, float]:
    """Held-out means; a report without a fit (the baseline) has nothing to fit, so its figures stand."""
    held_out = cv.held_out if cv is not None else figures
    return average(held_out, items)


def render(folder: Path, reports: Sequence[Report], *, folds: int, seed: int, console: Console) -> None:
    """Per engine a row as evaluated and a row under CV; nDCG's ratio is to BM25 on the same rows."""
    baseline = reports[0]
    table = Table(title=f"matching / search on {folder}: as evaluated, and {folds}-fold CV (seed {seed})")
    table.add_column("", no_wrap=True)
    table.add_column("", no_wrap=True)
    for header in ("nDCG@10 (×BM25)", "MRR", "best in top 3", "search R@10", "search MRR"):
        table.add_column(header, justify="right")
    anchors = {
        "as evaluated": average(baseline.matching)["ndcg"],
        f"{folds}-fold CV": _cv(baseline.matching, baseline.matching_cv)["ndcg"],
    }
    for report in reports:
        rows = (
            ("as evaluated", average(report.matching), average(report.search)),
            (f"{folds}-fold CV", _cv(report.matching, report.matching_cv), _cv(report.search, report.search_cv)),
        )
        for index, (label, matched, searched) in enumerate(rows):
            anchor = anchors[label]
            ratio = f" ({matched['ndcg'] / anchor:.2f}×)" if anchor and report is not baseline else ""
            table.add_row(
                report.name if index == 0 else "",
                label,
                f"{matched['ndcg']:.3f}{ratio}",
                f"{matched['mrr']:.3f}",
                f"{matched['top3']:.0%}",
                f"{searched['recall']:.3f}",
                f"{searched['mrr']:.3f}",
                end_section=index == len(rows) - 1,
            )
    console.print(table)

    kinds = sorted(_kinds(baseline))
    by_kind = Table(
        "query kind (n)",
        *(f"{r.name}\nas eval. / CV" for r in reports),
        title="search Recall@10 by query kind",
    )
    for kind in kinds:
        row = [f"{kind} ({len(_kinds(baseline)[kind])})"]
        for report in reports:
            items = _kinds(report)[kind]
            recall = average(report.search, items).get("recall", 0.0)
            recall_cv = _cv(report.search, report.search_cv, items).get("recall", 0.0)
            row.append(f"{recall:.2f} / {recall_cv:.2f}")
        by_kind.add_row(*row)
    console.print(by_kind)

    for report in reports:
        for name, cv in (("matching", report.matching_cv), ("search", report.search_cv)):
            if cv is not None:
                console.print(f"{report.name} {name}: fitted per fold: {describe(cv)}")
        for note in report.notes:
            console.print(f"[yellow]{note}[/yellow]")


def _kinds(report: Report) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for item, kind in report.search_kinds.items():
        kinds.setdefault(kind, []).append(item)
    return kinds


def describe(cv: CrossValidation[Any]) -> str:
    """What each fold's fit changed from the shipped values (``-``: nothing)."""
    parts = []
    for setting in cv.chosen:
        default = type(setting)()
        changed = [
            f"{f.name}={getattr(setting, f.name)}"
            for f in fields(setting)
            if getattr(setting, f.name) != getattr(default, f.name)
        ]
        parts.append(", ".join(changed) or "-")
    return " | ".join(parts) + f"  ({cv.settings_scored} settings scored)"


@eval_app.command("matching")
def matching(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder like shared/eval/matching-dev")],
    engine: Annotated[EngineChoice, typer.Option(help="embedded, meilisearch or both")] = EngineChoice.embedded,
    search_url: Annotated[str | None, typer.Option(help="Meilisearch to evaluate (creates eval… indexes).")] = None,
    search_key: Annotated[str | None, typer.Option(help="Its master key.")] = None,
    folds: Annotated[int, typer.Option(min=2, help="k of the k-fold cross-validation.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
) -> None:
    """Matching nDCG@10, MRR, best-in-top-3 and search Recall@10 (per query kind), as evaluated and
    under k-fold cross-validation (weights fitted on k-1 folds, scored on the held-out one), next to
    a plain BM25 baseline on the same folds."""
    run(folder, targets(engine, search_url, search_key), folds=folds, seed=seed)


def run(folder: Path, engines: Mapping[str, Target], *, folds: int, seed: int) -> None:
    console = Console()
    started = time.perf_counter()
    reports = asyncio.run(evaluate(folder, engines, folds=folds, seed=seed))
    render(folder, reports, folds=folds, seed=seed, console=console)
    console.print(f"{time.perf_counter() - started:.0f} s")
