"""Re-ranking a candidate set against one query listing (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from search.matching.features import Profile, StoredText, cosine, gram_vector, matched_terms
from search.matching.scoring import Match, Side, combine
from search.matching.vectors import WordMatrix, fed_back, gram_cosines, word_cosines, word_matrix
from search.weights import MatchWeights, active_match


@dataclass(frozen=True)
class Candidate:
    id: int
    text: StoredText
    side: Side


def rank(
    query: Profile,
    query_side: Side,
    candidates: Sequence[Candidate],
    *,
    query_is_demand: bool,
    field_names: Mapping[str, str],
    weights: MatchWeights | None = None,
    semantic: Sequence[float | None] = (),
) -> list[tuple[Candidate, Match]]:
    """Candidates best first. Text is scaled to the best candidate, so scores compare within a list.
    ``semantic``: per candidate, the cosine of its sentence vector with the query's (None: it has none
    yet); rescaled over the set and blended into the text score by ``weights.semantic``."""
    if not candidates:
        return []
    weights = weights or active_match()
    texts = [c.text for c in candidates]
    # candidates naming none of a demand's subject words: its remedies count less there (word_cosines)
    on_subject = [names_any(query.anchors, text) for text in texts] if query.anchors else [True] * len(texts)
    off_subject = [not named for named in on_subject] if query.remedies else []
    matrix = word_matrix(texts)
    words, shared = word_cosines(query, matrix, off_subject)
    raw = (words + weights.gram * gram_cosines(query, texts)).tolist()
    if query.problem:  # a demand that states a problem: what names neither it nor a remedy is context
        raw = [
            value if addresses(query, text) else weights.unaddressed * value
            for value, text in zip(raw, texts, strict=True)
        ]
    if weights.feedback:
        raw = with_feedback(raw, matrix, weights, on_subject)
    top = max(raw) or 1.0
    scaled = [value / top for value in raw]
    near: Sequence[float | None] = [None] * len(candidates)
    if any(value is not None for value in semantic):
        share, rescaled_near = weights.semantic, rescaled(semantic)
        scaled = [(1 - share) * t + share * n for t, n in zip(scaled, rescaled_near, strict=True)]
        near = rescaled_near
    results = []
    for candidate, text, common, nearness in zip(candidates, scaled, shared, near, strict=True):
        achievement, demand = (candidate.side, query_side) if query_is_demand else (query_side, candidate.side)
        terms = partial(matched_terms, query, common, weights)
        match = combine(text, terms, achievement, demand, field_names, weights, nearness)
        results.append((candidate, match))
    results.sort(key=lambda pair: (-pair[1].score, pair[0].id))
    return results


def with_feedback(
    raw: list[float], matrix: WordMatrix, weights: MatchWeights, on_subject: Sequence[bool]
) -> list[float]:
    """Pseudo-relevance feedback (``vectors.fed_back``): a candidate that reads like the best few gains
    even where it shares no word with the query (a demand says 磁钢退磁, its answers 矫顽力 and 钐钴).
    One naming nothing of a demand's subject speaks with ``feedback_off_subject`` of its voice: six
    look-alike listings of other wastes must not pull their kind above the one about the buyer's catalyst."""
    voice = np.where(on_subject, 1.0, weights.feedback_off_subject)
    return fed_back(np.asarray(raw), matrix, weights.feedback, weights.feedback_depth, voice).tolist()


def rescaled(similarities: Sequence[float | None]) -> list[float]:
    """Cosines to [0, 1] over the set (the least similar 0, the most 1): a model's cosines crowd a
    narrow band whose place differs by model. A candidate without a vector yet (published a moment
    ago, or while the worker encodes a new model's) counts as the mean of the others: neither
    favoured nor pushed down."""
    present = [value for value in similarities if value is not None]
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    scaled = [None if value is None else (value - low) / span for value in similarities]
    middle = sum(value for value in scaled if value is not None) / len(present)
    return [middle if value is None else value for value in scaled]


def addresses(query: Profile, text: StoredText) -> bool:
    """Whether a listing names the problem the query states or one of its remedies."""
    return names_any(query.problem, text)


def names_any(terms: Iterable[str], text: StoredText) -> bool:
    return any(term in text.title or term in text.keywords or term in text.body for term in terms)


def pair(
    query: Profile,
    query_side: Side,
    document: Profile,
    document_side: Side,
    *,
    query_is_demand: bool,
    field_names: Mapping[str, str],
) -> Match:
    """One listing against one query, on an absolute scale (no candidate set to compare with):
    the text part is the mean of the word and bigram cosines, so thresholds mean the same everywhere."""
    text = text_similarity(query, document)
    achievement, demand = (document_side, query_side) if query_is_demand else (query_side, document_side)
    return combine(min(1.0, text), matched_terms(query, document.vector), achievement, demand, field_names)


def text_similarity(query: Profile, document: Profile) -> float:
    """Mean of word and bigram cosines, in [0, 1]."""
    grams = cosine(gram_vector(query.grams, {}, 1.0), gram_vector(document.grams, {}, 1.0))
    return min(1.0, (cosine(query.vector, document.vector) + grams) / 2)
