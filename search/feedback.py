"""Pseudo-relevance feedback for search: a query's best few matches stand for what it means in the
words listings use (the same idea as matching's ``ranking.with_feedback``).

- ``reread``: each match gains its likeness to them, so a listing that holds the query only through
  a synonym or a part of it, but reads like the best answers, rises above one that shares a common
  word of the query and nothing else.
- ``related_plan``: a query that few listings match gets related listings, found by the words that
  set its best matches apart (植物补光 → a 转光农膜 that shares 远红光 and 荧光粉 with the
  phosphor that matched). The pipeline places them after every match, flagged ``related``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from search.lexicon import idf_table
from search.matching.features import StoredText
from search.matching.vectors import fed_back, feedback_applies, word_matrix
from search.text import Group, QueryPlan, Term
from search.weights import SearchWeights

Ranked = list[tuple[Mapping[str, Any], float]]
RELATED_FILL = 10  # a query matching fewer listings than this gets related ones up to this many results


def reread(ranked: Ranked, weights: SearchWeights) -> Ranked:
    """Matches in relevance order after feedback from the best ``feedback_depth`` (``vectors.fed_back``:
    tf-idf word cosines, jieba IDF, with ``feedback`` in units of the best's score)."""
    if not feedback_applies(len(ranked), weights.feedback, weights.feedback_depth):
        return ranked  # before building the word matrix
    matrix = word_matrix([StoredText.of_document(doc) for doc, _ in ranked])
    gained = fed_back(np.asarray([value for _, value in ranked]), matrix, weights.feedback, weights.feedback_depth)
    order = np.argsort(-gained, kind="stable")  # ties keep the order they came in (newest first)
    return [(ranked[i][0], float(gained[i])) for i in order.tolist()]


def related_plan(plan: QueryPlan, best: Sequence[Mapping[str, Any]], weights: SearchWeights) -> QueryPlan:
    """The ``related_words`` words the best ``feedback_depth`` matches weigh most together (the sum of
    their unit tf-idf vectors; ties by the word), none an everyday word; words of the query, or holding
    one, are left out, since a listing holding them is a match already."""
    matrix = word_matrix([StoredText.of_document(doc) for doc in best[: weights.feedback_depth]])
    summed = np.bincount(matrix.word, weights=matrix.unit, minlength=len(matrix.vocabulary)).tolist()
    table, median = idf_table()
    asked = [term.text for term in plan.terms if term.field == "text"]
    chosen = [
        word
        for weight, word in sorted(zip(summed, matrix.vocabulary, strict=True), key=lambda pair: (-pair[0], pair[1]))
        if table.get(word, median) >= weights.related_min_idf and not any(a in word or word in a for a in asked)
    ]
    return QueryPlan(
        plan.text, [Group(word, [Term(word, 1.0, exact=True)]) for word in chosen[: weights.related_words]]
    )


def below(matches: Ranked, related: Ranked, share: float) -> Ranked:
    """Related listings in their own order, scored under the last match (the best at ``share`` of it)."""
    floor = matches[-1][1] if matches else 1.0
    top = related[0][1] if related and related[0][1] > 0 else 1.0
    return [(doc, floor * share * value / top) for doc, value in related if value > 0]
