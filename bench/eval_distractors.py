"""Matching and search quality when the labelled set is buried in a larger corpus.

The dev set holds 120 achievements, fewer than an engine's candidate pool, so it cannot show what
a pool misses. This copies a labelled folder (default ../shared/eval/matching-dev) into a
temporary one, appends N synthetic achievements from bench/corpus.py (unlabelled distractors,
the corpus of the other benches), and runs ``python -m tooling.evaluation`` on it: both engines and
the BM25 baseline, same run.

Read the figures as a comparison between engines and between versions, not as absolute quality:
some distractors are as relevant to a query as the labelled answers (a synthetic 稀土储氢合金…
title for the query 储氢合金) but count as wrong.

    .venv/bin/python -m bench.eval_distractors [--n 3000] [--folder ../shared/eval/matching-dev]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.corpus import Corpus
from bench.load import machine

KEYS = [
    "external_id",
    "title",
    "summary",
    "field",
    "keywords",
    "maturity",
    "trl",
    "ip_type",
    "transaction_modes",
    "price",
    "region",
    "owner",
    "owner_kind",
]

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="synthetic achievements added (default 3000)")
    parser.add_argument("--folder", type=Path, default=ROOT.parent / "shared" / "eval" / "matching-dev")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="techmarket-distractors-") as workdir:
        folder = Path(workdir)
        for source in args.folder.iterdir():
            shutil.copy(source, folder / source.name)
        with (folder / "achievements.jsonl").open("a", encoding="utf-8") as handle:
            for row in Corpus(seed=args.seed).achievements(args.n):
                handle.write(json.dumps({key: row[key] for key in KEYS}, ensure_ascii=False) + "\n")
        print(f"{args.folder} + {args.n:,} synthetic achievements\n", flush=True)
        subprocess.run([sys.executable, "-m", "tooling.evaluation", str(folder)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
