"""bench/probe-set … probe-set-4 are scored by ``techmarket eval matching`` like the
development set: every label names a listing of the set, every demand has an answer that solves it,
every query kind is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.evaluation.runs import load_labels

BENCH = Path(__file__).resolve().parents[2] / "bench"
KINDS = {"exact", "synonym", "abbreviation", "traditional", "typo", "pinyin", "mixed_english", "long_phrase"}


@pytest.mark.parametrize("name", ["probe-set", "probe-set-2", "probe-set-3", "probe-set-4"])
def test_the_probe_set_is_complete_and_consistent(name: str) -> None:
    labels = load_labels(BENCH / name)
    achievements = {a["external_id"] for a in labels.achievements}
    demands = {d["external_id"] for d in labels.demands}
    assert len(achievements) == len(labels.achievements) == 120 and len(demands) == 24
    assert set(labels.grades) == demands
    for grades in labels.grades.values():
        assert set(grades) <= achievements and 3 in grades.values()
    assert {q["kind"] for q in labels.queries} == KINDS
    assert all(q["relevant"] and set(q["relevant"]) <= achievements for q in labels.queries)
