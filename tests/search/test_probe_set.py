"""bench/probe-set is scored by ``techmarket eval matching`` like the development set: every label
names a listing of the set, every demand has an answer that solves it, every query kind is there."""

from __future__ import annotations

from pathlib import Path

from search.evaluation.runs import load_labels

PROBE = Path(__file__).resolve().parents[2] / "bench" / "probe-set"
KINDS = {"exact", "synonym", "abbreviation", "traditional", "typo", "pinyin", "mixed_english", "long_phrase"}


def test_the_probe_set_is_complete_and_consistent() -> None:
    labels = load_labels(PROBE)
    achievements = {a["external_id"] for a in labels.achievements}
    demands = {d["external_id"] for d in labels.demands}
    assert len(achievements) == len(labels.achievements) == 120 and len(demands) == 24
    assert set(labels.grades) == demands
    for grades in labels.grades.values():
        assert set(grades) <= achievements and 3 in grades.values()
    assert {q["kind"] for q in labels.queries} == KINDS
    assert all(q["relevant"] and set(q["relevant"]) <= achievements for q in labels.queries)
