"""`python -m tooling.evaluation DIR`: ``techmarket eval matching`` from the repository, with a
throwaway Meilisearch started for the run (``tooling.meili_process``) unless ``--search-url`` is given."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from search.evaluation.cli import EngineChoice, run, targets
from search.evaluation.runs import Report, Target, evaluate
from tooling.meili_process import running_meilisearch

__all__ = ["Report", "Target", "evaluate", "main"]


def main(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder like shared/eval/matching-dev")],
    engine: Annotated[EngineChoice, typer.Option(help="embedded, meilisearch or both")] = EngineChoice.both,
    search_url: Annotated[str | None, typer.Option(help="Use this Meilisearch instead of a temporary one.")] = None,
    search_key: Annotated[str | None, typer.Option(help="Its master key.")] = None,
    folds: Annotated[int, typer.Option(min=2, help="k of the k-fold cross-validation.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
) -> None:
    """As ``techmarket eval matching``; both engines by default."""
    with ExitStack() as stack:
        if engine is not EngineChoice.embedded and not search_url:
            server = stack.enter_context(running_meilisearch())
            search_url, search_key = server.url, server.master_key
        run(folder, targets(engine, search_url, search_key), folds=folds, seed=seed)


if __name__ == "__main__":
    typer.run(main)
