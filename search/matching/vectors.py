"""Text similarity of a whole candidate set at once, for the re-ranker.

Scored one candidate at a time (a bigram counter, an IDF lookup and a product per bigram, in
Python), the ~90 candidates of a match at 100k listings cost ~19 ms; the same arithmetic on numpy
arrays, reasons included, ~5 ms. The definitions are the plain ones: the cosine of tf-idf word
vectors (jieba IDF), and the cosine of character-bigram vectors weighted by each bigram's IDF over
the candidate set. A test holds this module to those definitions computed with dictionaries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from search.lexicon import idf_table
from search.matching.features import Profile, StoredText

_ASCII_TOKEN = re.compile(r"[a-z0-9]{2,}")  # what features' bigram list keeps of a Latin run
_CJK_FIRST, _CJK_LAST = 0x4E00, 0x9FFF
_CHAR_BITS = 21  # a code point fits in 21 bits, a CJK bigram in 42
_TOKEN_FLAG = 1 << 42  # a Latin token's code: its hash under this flag, apart from every bigram
_TOKEN_MASK = (1 << 40) - 1
_SEP = "\n"  # not CJK and not Latin: no bigram or token spans two parts
_WORD_BASE = 0x9E3779B97F4A7C15  # odd (no bit lost mod 2**64): two words share a code about as rarely as a hash


@dataclass(frozen=True)
class WordMatrix:
    """The tf-idf word weights of a candidate set (jieba IDF), one (text, word, value) triple a
    word a text holds: built once, read by the query's cosines and by the feedback's."""

    vocabulary: list[str]
    text: np.ndarray  # per triple: the text's index
    word: np.ndarray  # per triple: the word's index in ``vocabulary``
    value: np.ndarray  # per triple: (1 + log tf) × idf
    norm: np.ndarray  # per text: its vector's length

    @property
    def unit(self) -> np.ndarray:
        """Each triple's value in its text's unit vector."""
        lengths = self.norm[self.text]
        return np.divide(self.value, lengths, out=np.zeros(len(self.value)), where=lengths > 0)


def word_matrix(texts: Sequence[StoredText]) -> WordMatrix:
    n = len(texts)
    codes, owner, starts, lengths, joined = _word_codes([t.words for t in texts])
    keys, slot = np.unique(codes, return_inverse=True)  # no return_index: it needs a stable sort
    occurrence = np.empty(len(keys), np.int64)
    occurrence[slot] = np.arange(len(slot))  # an occurrence of each word (any: they are equal)
    vocabulary = [
        joined[start : start + length]
        for start, length in zip(starts[occurrence].tolist(), lengths[occurrence].tolist(), strict=True)
    ]
    table, median = idf_table()
    idf = np.fromiter(map(table.get, vocabulary, repeat(median)), np.float64, len(vocabulary))
    stride = max(len(vocabulary), 1)  # one (text, word) pair a number: text × stride + word
    pairs, counts = np.unique(owner * stride + slot, return_counts=True)
    pair_text, pair_slot = np.divmod(pairs, stride)
    values = (1 + np.log(counts)) * idf[pair_slot]
    norms = np.sqrt(np.bincount(pair_text, weights=values * values, minlength=n))
    return WordMatrix(vocabulary, pair_text, pair_slot, values, norms)


def _word_codes(parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Every word of the space-separated ``parts`` (``m_words``) as a 64-bit code of its characters
    (Σ code point × base^position, wrapping), with the index of its part and its start and length in
    the joined text. Computed on the code points at once: splitting and hashing each word in Python
    costs 1.7x as much."""
    joined = _SEP.join(parts)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    at = np.flatnonzero(points > 0x20)  # a word holds no space or control character
    empty = np.zeros(0, np.int64)
    if not len(at):
        return empty.astype(np.uint64), empty, empty, empty, joined
    first = np.flatnonzero(np.diff(at, prepend=-2) != 1)  # in ``at``: each word's first character
    lengths = np.diff(first, append=len(at))
    position = np.arange(len(at)) - np.repeat(first, lengths)
    powers = np.cumprod(np.full(int(lengths.max()), _WORD_BASE, dtype=np.uint64))
    codes = np.add.reduceat(points[at].astype(np.uint64) * powers[position], first)
    starts = at[first]
    owner = _part_of(parts, starts)
    return codes, owner, starts, lengths, joined


def word_cosines(
    query: Profile, matrix: WordMatrix, off_subject: Sequence[bool] = ()
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """cosine(query.vector, unit tf-idf vector of each text's words), and per text the words it
    shares with the query with their (unnormalised) weight there, for the reasons. In a text flagged
    ``off_subject`` (it names nothing of a demand's subject) each of the query's remedies counts
    1/k, k the number of texts naming it: 矫顽力, named by one listing, keeps its weight there;
    资源化, named by dozens, is what everyone sells and says little about a listing that names it
    for another waste."""
    n, vocabulary = len(matrix.norm), matrix.vocabulary
    if not vocabulary:
        return np.zeros(n), [{} for _ in range(n)]
    pair_text, pair_slot, values = matrix.text, matrix.word, matrix.value
    wanted = np.fromiter(map(query.vector.get, vocabulary, repeat(0.0)), np.float64, len(vocabulary))
    wanted_pair = wanted[pair_slot]
    if any(off_subject):  # a remedy k candidates name counts 1/k where the subject is not named
        remedies = query.remedies
        is_remedy = np.fromiter((word in remedies for word in vocabulary), bool, len(vocabulary))
        discounted = np.asarray(off_subject, dtype=bool)[pair_text] & is_remedy[pair_slot]
        naming = np.bincount(pair_slot, minlength=len(vocabulary))[pair_slot]
        wanted_pair = np.where(discounted, wanted_pair / naming, wanted_pair)
    dots = np.bincount(pair_text, weights=values * wanted_pair, minlength=n)
    shared: list[dict[str, float]] = [{} for _ in range(n)]
    hit = np.flatnonzero(wanted_pair)
    for text, word, value in zip(pair_text[hit].tolist(), pair_slot[hit].tolist(), values[hit].tolist(), strict=True):
        shared[text][vocabulary[word]] = value
    return np.divide(dots, matrix.norm, out=np.zeros(n), where=matrix.norm > 0), shared


def centroid_cosines(matrix: WordMatrix, shares: np.ndarray) -> np.ndarray:
    """cosine of each text's word vector with Σ shares[i] × unit vector of text i: how much a
    text reads like the texts given a share (pseudo-relevance feedback; ranking.py)."""
    n = len(matrix.norm)
    unit = matrix.unit
    centroid = np.bincount(matrix.word, weights=unit * shares[matrix.text], minlength=len(matrix.vocabulary))
    length = math.sqrt(float(centroid @ centroid))
    if not length:
        return np.zeros(n)
    return np.bincount(matrix.text, weights=unit * centroid[matrix.word], minlength=n) / length


def feedback_applies(texts: int, weight: float, depth: int) -> bool:
    return bool(weight) and texts >= 2 * depth


def fed_back(
    scores: np.ndarray, matrix: WordMatrix, weight: float, depth: int, voice: float | np.ndarray = 1.0
) -> np.ndarray:
    """Pseudo-relevance feedback: each score plus ``weight`` × the best score × its text's cosine with
    the blend of the best ``depth`` texts, each by its score (times its ``voice``, 1 or per text).
    Unchanged without a positive score or with fewer than twice ``depth`` texts: among five, all are
    "best". Matching (``ranking.with_feedback``) and search (``search.feedback``) both read it."""
    top = float(scores.max()) if len(scores) else 0.0
    if not feedback_applies(len(scores), weight, depth) or top <= 0:
        return scores
    best = np.argsort(-scores, kind="stable")[:depth]
    shares = np.zeros(len(scores))
    shares[best] = scores[best] / top
    return scores + weight * top * centroid_cosines(matrix, shares * voice)


def _part_of(parts: Sequence[str], positions: np.ndarray) -> np.ndarray:
    """The index of the part each code-point position of ``_SEP.join(parts)`` lies in."""
    return np.searchsorted(np.cumsum([len(p) + 1 for p in parts]), positions, side="right")


def _codes(parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code, index of its part) of every CJK bigram and every Latin token of ``parts``."""
    points = np.frombuffer(_SEP.join(parts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    cjk = (points >= _CJK_FIRST) & (points <= _CJK_LAST)
    starts = np.flatnonzero(cjk[:-1] & cjk[1:])
    codes = (points[starts] << _CHAR_BITS) | points[starts + 1]
    owner = _part_of(parts, starts)
    tokens = [_ASCII_TOKEN.findall(p) for p in parts]
    flat = list(chain.from_iterable(tokens))
    if flat:  # only compared within this process, so the built-in hash will do
        hashed = np.fromiter(map(hash, flat), np.int64, len(flat))
        codes = np.concatenate([codes, _TOKEN_FLAG | (hashed & _TOKEN_MASK)])
        owner = np.concatenate([owner, np.repeat(np.arange(len(parts)), [len(t) for t in tokens])])
    return codes, owner


def gram_cosines(query: Profile, texts: Sequence[StoredText]) -> np.ndarray:
    """Cosine of bigram vectors (tf × IDF over ``texts``; title and keywords count twice), the
    query's bigrams unseen among the candidates weighted as the rarest seen."""
    n = len(texts)
    if not n:
        return np.zeros(0)
    codes, owner = _codes([_SEP.join((t.title, t.keywords, t.title, t.keywords, t.body)) for t in texts])
    # one sort, bigram-major: the (bigram, text) pairs with their counts, each bigram's pairs together
    bits = max(n - 1, 1).bit_length()  # a text's index; codes take 43 bits, 43 + bits < 64 for any candidate set
    pairs, counts = np.unique((codes << bits) | owner, return_counts=True)
    pair_code, pair_text = pairs >> bits, pairs & ((1 << bits) - 1)
    starts = np.flatnonzero(np.diff(pair_code, prepend=-1))  # each bigram's first pair
    vocabulary, df = pair_code[starts], np.diff(starts, append=len(pairs))
    slot = np.repeat(np.arange(len(starts)), df)
    if not len(vocabulary):
        return np.zeros(n)
    weights = np.log(1 + n / (df + 0.5))
    values = (1 + np.log(counts)) * weights[slot]
    norms = np.sqrt(np.bincount(pair_text, weights=values * values, minlength=n))

    query_codes = np.fromiter((_gram_code(g) for g in query.grams), np.int64, len(query.grams))
    query_tf = 1 + np.log(np.fromiter(query.grams.values(), np.float64, len(query.grams)))
    at = np.minimum(np.searchsorted(vocabulary, query_codes), len(vocabulary) - 1)
    seen = vocabulary[at] == query_codes
    query_values = query_tf * np.where(seen, weights[at], weights.max())
    query_norm = math.sqrt(float(query_values @ query_values)) or 1.0
    by_slot = np.zeros(len(vocabulary))
    by_slot[at[seen]] = query_values[seen] / query_norm
    dots = np.bincount(pair_text, weights=values * by_slot[slot], minlength=n)
    return np.divide(dots, norms, out=np.zeros(n), where=norms > 0)


def _gram_code(gram: str) -> int:
    if len(gram) == 2 and all(_CJK_FIRST <= ord(c) <= _CJK_LAST for c in gram):
        return (ord(gram[0]) << _CHAR_BITS) | ord(gram[1])
    return _TOKEN_FLAG | (hash(gram) & _TOKEN_MASK)
