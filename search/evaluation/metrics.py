"""Ranking metrics of the evaluation, and the plain BM25 baseline they are compared with."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence


def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """nDCG with gain 2^grade - 1."""
    dcg = sum((2 ** grades.get(item, 0) - 1) / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    for rank, item in enumerate(ranked, start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def best_in_top(ranked: Sequence[str], grades: Mapping[str, int], k: int = 3) -> bool:
    best = max(grades.values(), default=0)
    return best > 0 and any(grades.get(item, 0) == best for item in ranked[:k])


class BM25:
    """Okapi BM25 over pre-tokenised documents (the baseline, deliberately plain)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.count = len(documents)
        self.lengths = [len(doc) for doc in documents]
        self.average = sum(self.lengths) / self.count if self.count else 0.0
        self.frequencies = [Counter(doc) for doc in documents]
        self.document_frequency = Counter(term for doc in documents for term in set(doc))
        self.k1, self.b = k1, b

    def idf(self, term: str) -> float:
        n = self.document_frequency.get(term, 0)
        return math.log(1 + (self.count - n + 0.5) / (n + 0.5))

    def score(self, query: Sequence[str], index: int) -> float:
        frequencies, length, total = self.frequencies[index], self.lengths[index], 0.0
        for term in set(query):
            f = frequencies.get(term, 0)
            if f:
                norm = self.k1 * (1 - self.b + self.b * length / (self.average or 1))
                total += self.idf(term) * f * (self.k1 + 1) / (f + norm)
        return total

    def rank(self, query: Sequence[str]) -> list[int]:
        scores = [(self.score(query, i), i) for i in range(self.count)]
        return [i for s, i in sorted(scores, key=lambda pair: (-pair[0], pair[1]))]
