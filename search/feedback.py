"""Pseudo-relevance feedback for search: a query's best few matches stand for what it means in the
words listings use (the same idea as matching's ``ranking.with_feedback``).

- ``reread``: each match gains its likeness to them, so a listing that holds the query only through
  a synonym or a part of it, but reads like the best answers, rises above one that shares a common
  word of the query and nothing else.
- ``related_plan``: a query that few listings match gets related listings, found by the words that
  set its best matches apart (植物补光 → a 稀土转光农膜 that shares 稀土 and 红光 with the 补光
  phosphor that matched). The pipeline places them after every match, flagged ``related``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from search.lexicon import idf_table
from search.matching.features import StoredText
from search.matching.vectors import centroid_cosines, word_matrix
from search.text import Group, QueryPlan, Term
from search.weights import SearchWeights

Ranked = list[tuple[Mapping[str, Any], float]]
RELATED_FILL = 10  # a query matching fewer listings than this gets related ones up to this many results


def reread(ranked: Ranked, weights: SearchWeights) -> Ranked:
    """Matches in relevance order, each score plus ``feedback`` × the best's score × the cosine of its
    word vector (tf-idf, jieba IDF) with the blend of the best ``feedback_depth``, each weighted by
    its score. Needs as many matches outside the best few as in them: among five, all are "best"."""
    depth = weights.feedback_depth
    if not weights.feedback or len(ranked) < 2 * depth or ranked[0][1] <= 0:
        return ranked
    scores = np.asarray([value for _, value in ranked])
    top = float(scores.max())
    best = np.argsort(-scores, kind="stable")[:depth]
    shares = np.zeros(len(ranked))
    shares[best] = scores[best] / top
    matrix = word_matrix([StoredText.of_document(doc) for doc, _ in ranked])
    gained = scores + weights.feedback * top * centroid_cosines(matrix, shares)
    order = np.argsort(-gained, kind="stable")  # ties keep the order they came in (newest first)
    return [(ranked[i][0], float(gained[i])) for i in order.tolist()]


def related_plan(plan: QueryPlan, best: Sequence[Mapping[str, Any]], weights: SearchWeights) -> QueryPlan:
    """The ``related_words`` words the best ``feedback_depth`` matches weigh most together (the sum of
    their unit tf-idf vectors), none an everyday word; words of the query, or holding one, are left
    out, since a listing holding them is a match already."""
    table, median = idf_table()
    summed: Counter[str] = Counter()
    for doc in best[: weights.feedback_depth]:
        counts = Counter((doc.get("m_words") or "").split())
        values = {word: (1 + math.log(n)) * table.get(word, median) for word, n in counts.items()}
        length = math.sqrt(sum(v * v for v in values.values())) or 1.0
        summed.update({word: value / length for word, value in values.items()})
    asked = [term.text for term in plan.terms if term.field == "text"]
    chosen = [
        word
        for word, _ in summed.most_common()
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
