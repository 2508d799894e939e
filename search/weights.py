"""Every tunable weight and threshold of search ranking, query expansion and matching, in one place.

The defaults (``SEARCH``, ``MATCH``) are what the app runs with; evaluation (cross-validation) fits
alternatives and passes them in (``weights=`` parameters, or ``using(...)`` around code that reaches
them only through an engine). Nothing else should hold a copy of these numbers. Expansion weights
say how far each source is trusted: the word as typed counts 1, the project's own domain thesaurus
a little less, a broad general-language dictionary much less, so it widens recall without drowning
an exact match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


def _text_fields() -> Mapping[str, tuple[float, float]]:
    return {"title": (3.0, 0.5), "keywords": (2.5, 0.3), "body": (1.0, 0.75), "owner": (1.0, 0.3)}


@dataclass(frozen=True)
class SearchWeights:
    """Search: BM25F re-rank (search/rank.py) and query expansion (search/text.py)."""

    text_fields: Mapping[str, tuple[float, float]] = field(default_factory=_text_fields)  # weight, b per field
    k1: float = 1.2
    fuzzy_discount: float = 0.8  # an ASCII word matched within its typo budget
    coverage_floor: float = 0.5  # a document matching one concept of many keeps this share of its score
    # expansion: trust per source
    word_part: float = 0.5  # 植物补光 → 植物, 补光
    pinyin_reading: float = 0.9  # an ASCII word read as pinyin
    typo_correction: float = 0.9  # a misspelt English word → the dictionary word
    phrase_correction: float = 0.9  # rare erth / rareearth → rare earth
    thesaurus: float = 0.8  # search/data/thesaurus.txt (domain, hand-checked)
    concept: float = 0.25  # search/data/concepts.txt: how people word a problem → its technical terms
    contained_term: float = 0.5  # 太阳能 → 太阳能电池's group (光伏 ...): a narrower term's synonyms
    broad_synonym: float = 0.45  # search/data/synonyms_cnsyn.txt (general language, unchecked)
    broad_group_max: int = 6  # larger groups of the broad dictionary list related things, not synonyms
    abbreviation: float = 0.6  # 性控 → 性别控制 (1st + 3rd character of a 4-character thesaurus term)
    translation: float = 0.6  # an English word or phrase the thesaurus lacks → CC-CEDICT's Chinese (ecg → 心电图)
    fallback_below: int = 2  # contained_term and broad_synonym: only for words with fewer synonyms
    narrower_min_idf: float = 6.0  # an everyday word (处理, 利用: jieba IDF below) reaches no narrower term
    # an alternative never weighs more per match than the typed word would (its idf is capped at the
    # typed word's), so a rare synonym cannot outrank the documents that hold what was typed
    cap_alternative_idf: bool = True
    # pseudo-relevance feedback (search/feedback.py): likeness to the best few matches, in units of
    # the best's score; and for a query few listings match, related listings found by their words
    feedback: float = 1.0
    feedback_depth: int = 5
    related_words: int = 5  # the best matches' words asked for
    related_min_idf: float = 6.0  # no everyday word (jieba IDF)
    related_share: float = 0.5  # the best related listing's score, of the last match's


@dataclass(frozen=True)
class MatchWeights:
    """Matching: the query listing's profile (features.py) and the re-rank (ranking.py, scoring.py)."""

    synonym: float = 0.7  # thesaurus synonym, of the strongest own words' weight
    broad_synonym: float = 0.15  # broad dictionary synonym (of title and keyword words the thesaurus lacks)
    concept: float = 0.5  # data/concepts.txt: problem phrasing → technical vocabulary
    solution: float = 0.6  # data/problems.txt: a stated problem → the property that solves it
    problem_focus: float = 1.6  # a stated problem's cue weighs this much more (what fails: its root)
    # share of the text score kept by a listing that names neither a stated problem nor a remedy (1: off;
    # 0.7 ranks remedies first on problem-style demands but costs the dev set where a remedy misfits)
    unaddressed: float = 1.0
    gram: float = 1.0  # character bigrams next to words (苦咸/苦咸水)
    # share of the text score given to sentence-vector similarity when vectors exist (search/semantic/)
    semantic: float = 0.5
    # pseudo-relevance feedback (ranking.with_feedback): likeness to the best few candidates' words,
    # in units of the best's text score; the development set scores alike from 0.3 to 5
    feedback: float = 2.0
    feedback_depth: int = 5
    feedback_off_subject: float = 0.25  # share of a feedback candidate naming nothing of the subject
    # the final score, each part over their sum: text dominates, a perfect fit that does not solve
    # the problem is useless
    text: float = 0.70
    field: float = 0.12
    fit: float = 0.15  # shared by maturity, price and mode
    local: float = 0.03
    reason_min_idf: float = 6.0  # a shared word is named in reasons only above this jieba IDF


SEARCH = SearchWeights()
MATCH = MatchWeights()
_search: ContextVar[SearchWeights] = ContextVar("search_weights", default=SEARCH)
_match: ContextVar[MatchWeights] = ContextVar("match_weights", default=MATCH)


def active_search() -> SearchWeights:
    return _search.get()


def active_match() -> MatchWeights:
    return _match.get()


@contextmanager
def using(search: SearchWeights | None = None, match: MatchWeights | None = None) -> Iterator[None]:
    """Run the enclosed code (and the tasks it starts) with these weights where none are passed."""
    search_token = _search.set(search) if search is not None else None
    match_token = _match.set(match) if match is not None else None
    try:
        yield
    finally:
        if match_token is not None:
            _match.reset(match_token)
        if search_token is not None:
            _search.reset(search_token)
