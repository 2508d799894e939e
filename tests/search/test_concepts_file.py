"""Format checks for search/data/concepts.txt (problem-side => solution-side concept lexicon)."""

from __future__ import annotations

from pathlib import Path

CONCEPTS = Path(__file__).resolve().parents[2] / "search" / "data" / "concepts.txt"
MAX_TERMS_PER_LINE = 40
MIN_LINES = 500


def _association_lines() -> list[tuple[int, str]]:
    text = CONCEPTS.read_text(encoding="utf-8")
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rows.append((number, line))
    return rows


def _split(line: str) -> tuple[list[str], list[str]]:
    assert line.count("=>") == 1, f"expected exactly one '=>' in {line!r}"
    left, right = line.split("=>")
    # Terms are separated by single spaces; each side is padded by one space around "=>".
    return left.strip().split(" "), right.strip().split(" ")


def test_file_exists_and_is_utf8() -> None:
    assert CONCEPTS.is_file()
    CONCEPTS.read_bytes().decode("utf-8")


def test_minimum_number_of_association_lines() -> None:
    assert len(_association_lines()) >= MIN_LINES


def test_every_line_has_both_sides_and_clean_terms() -> None:
    for number, line in _association_lines():
        left, right = _split(line)
        assert left and right, f"line {number}: empty side"
        for term in left + right:
            assert term, f"line {number}: empty term (double space?) in {line!r}"
            assert not any(ch.isspace() for ch in term), f"line {number}: whitespace in {term!r}"
            assert term != "=>", f"line {number}: stray separator"
        assert len(left) + len(right) <= MAX_TERMS_PER_LINE, f"line {number}: too many terms"


def test_no_duplicate_lines() -> None:
    seen: dict[str, int] = {}
    for number, line in _association_lines():
        key = " ".join(line.split())
        assert key not in seen, f"line {number} duplicates line {seen[key]}: {line!r}"
        seen[key] = number


def test_no_association_starts_from_or_leads_to_a_place_name() -> None:
    """Where a listing is says nothing of what it needs: a 包头 dairy farm is not a rare-earth buyer.
    Place names are not matching words (features.place_names), so no lexicon may bring them back."""
    from search.lexicon import concepts, problems
    from search.matching.features import place_names

    places = place_names()
    for entry in (*concepts(), *problems()):
        assert places.isdisjoint(entry.triggers + entry.targets), entry
