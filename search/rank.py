"""Engine-agnostic relevance: BM25F over the analysed query, and highlights on the original text.

Engines are candidate generators: they return the documents matching any query term and, per
term, its document frequency. Scoring here is the same for every engine, which is what makes the
two engines rank alike and lets the app use what engines lack (a Chinese term inside a longer word,
synonyms weighted below the typed word, pinyin, English typos, coverage of the query's concepts).

Score of a document = coverage × Σ over query concepts of the best alternative's
``weight × idf × saturated(Σ_field w_f · tf_f / length_norm_f)``.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from search.text import QueryPlan, Term, edit_distance, normalize_mapped, normalized_fields, syllables
from search.weights import SEARCH, SearchWeights, active_search

TEXT_FIELDS = SEARCH.text_fields  # the fields' names (and the embedded engine's own BM25 weights)
PINYIN_FIELDS = {"py_title": (2.5, 0.3), "py_body": (0.8, 0.5)}
SNIPPET_CHARS = 120
_LATIN_WORD = re.compile(r"[a-z0-9]+")
SCATTERED_CHARS = 0.2  # term frequency of a relaxed word whose characters a field holds, but apart


class Prepared:
    """A candidate's text as scoring reads it. Documents carry their normalised text (``n_*``,
    written at index time), so a query normalises nothing; word and pinyin counts are built only
    for queries that have such terms."""

    __slots__ = ("id", "text", "_pinyin_source", "_words", "_pinyin")

    def __init__(self, doc_id: int, text: dict[str, str], pinyin_source: tuple[str, ...]) -> None:
        self.id = doc_id
        self.text = text
        self._pinyin_source = pinyin_source
        self._words: dict[str, Counter[str]] | None = None
        self._pinyin: dict[str, Counter[str]] | None = None

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Prepared:
        if "n_title" in doc:
            text = {name: doc.get(f"n_{name}") or "" for name in TEXT_FIELDS}
        else:  # a document indexed before n_* existed
            text = normalized_fields(
                doc.get("title") or "", doc.get("body") or "", doc.get("keywords") or (), doc.get("owner_name") or ""
            )
        return cls(int(doc["id"]), text, tuple(doc.get(name) or "" for name in PINYIN_FIELDS))

    @property
    def words(self) -> dict[str, Counter[str]]:
        if self._words is None:
            self._words = {name: Counter(re.findall(r"[a-z0-9]+", value)) for name, value in self.text.items()}
        return self._words

    @property
    def pinyin(self) -> dict[str, Counter[str]]:
        if self._pinyin is None:
            self._pinyin = {
                name: Counter(v.split()) for name, v in zip(PINYIN_FIELDS, self._pinyin_source, strict=True)
            }
        return self._pinyin

    def length(self, name: str) -> int:
        source = self.text.get(name)
        return len(source) if source is not None else sum(self.pinyin[name].values())


def term_frequency(term: Term, doc: Prepared, name: str, fuzzy_discount: float = SEARCH.fuzzy_discount) -> float:
    if term.field == "pinyin":
        return float(doc.pinyin[name][term.text]) if name in doc.pinyin else 0.0
    if name not in doc.text:
        return 0.0
    if term.field == "chars":  # the word's characters near each other count, merely present a little
        text = doc.text[name]
        near = len(term.in_order.findall(text))
        return float(near) if near else SCATTERED_CHARS * all(c in text for c in term.text)
    if term.is_ascii_word:
        budget = term.typo_budget
        if not budget and term.text not in doc.text[name]:
            return 0.0  # most candidates: no need to count their words
        counts = doc.words[name]
        tf = float(counts[term.text])
        if budget:
            tf += fuzzy_discount * sum(
                n
                for w, n in counts.items()
                if w != term.text and w[:1] == term.text[:1] and edit_distance(w, term.text, budget) <= budget
            )
        return tf
    return float(doc.text[name].count(term.text))


def holds_any(plan: QueryPlan, doc: Mapping[str, Any], *, trusted: float) -> bool:
    """Whether the document holds some term of the query weighted ``trusted`` or more (as typed, or a
    synonym; not a word part, a concept's wording or a broad dictionary's word)."""
    prepared = Prepared.of(doc)
    fields = {**TEXT_FIELDS, **PINYIN_FIELDS}
    return any(term_frequency(term, prepared, name) for term in plan.terms if term.weight >= trusted for name in fields)


def idf(df: int, n_docs: int) -> float:
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def score(
    plan: QueryPlan,
    docs: Sequence[Prepared],
    df: Mapping[str, int],
    n_docs: int,
    weights: SearchWeights | None = None,
) -> dict[int, float]:
    """BM25F score per document id; 0 for documents matching no concept."""
    if not docs or plan.empty:
        return {doc.id: 0.0 for doc in docs}
    weights = weights or active_search()
    text_fields, k1, floor = weights.text_fields, weights.k1, weights.coverage_floor
    has_pinyin = any(term.field == "pinyin" for term in plan.terms)
    fields = {**text_fields, **PINYIN_FIELDS} if has_pinyin else text_fields
    average = {name: max(1.0, sum(d.length(name) for d in docs) / len(docs)) for name in fields}
    n_docs = max(n_docs, len(docs))
    idfs = term_idfs(plan, df, n_docs, cap=weights.cap_alternative_idf)
    plain = {term.key for term in plan.terms if term.field == "text" and not term.is_ascii_word}
    scores: dict[int, float] = {}
    for doc in docs:
        # field weight / length normalisation, once per document rather than once per term
        scale = {name: weight / (1 - b + b * doc.length(name) / average[name]) for name, (weight, b) in fields.items()}
        total = 0.0
        matched = 0
        for group in plan.groups:
            best = 0.0
            for term in group.terms:
                pseudo = 0.0
                if term.key in plain:  # the common case, inlined: a substring count per field
                    for name in text_fields:
                        tf = doc.text[name].count(term.text)
                        if tf:
                            pseudo += scale[name] * tf
                else:
                    for name in PINYIN_FIELDS if term.field == "pinyin" else text_fields:
                        frequency = term_frequency(term, doc, name, weights.fuzzy_discount)
                        if frequency:
                            pseudo += scale[name] * frequency
                if pseudo:
                    best = max(best, term.weight * idfs[term.key] * pseudo * (k1 + 1) / (pseudo + k1))
            if best:
                matched += 1
                total += best
        scores[doc.id] = total * (floor + (1 - floor) * matched / len(plan.groups))
    return scores


def term_idfs(plan: QueryPlan, df: Mapping[str, int], n_docs: int, *, cap: bool) -> dict[str, float]:
    """idf per term; with ``cap``, an alternative's idf is at most that of its concept's most trusted
    spelling the corpus holds (the typed word; for pinyin or a typo that occurs nowhere, what it was
    read as), so a rare synonym or a broad dictionary's word cannot outweigh a match of it."""
    idfs: dict[str, float] = {}
    for group in plan.groups:
        present = [t for t in group.terms if df.get(t.key, 0) > 0]
        strongest = max((t.weight for t in present), default=math.inf)
        trusted = [idf(min(df[t.key], n_docs), n_docs) for t in present if t.weight >= strongest]
        ceiling = max(trusted) if cap and trusted else math.inf
        for term in group.terms:
            value = idf(min(df.get(term.key, 0), n_docs), n_docs)
            value = value if term.weight >= min(strongest, 1.0) else min(value, ceiling)
            idfs[term.key] = max(idfs.get(term.key, 0.0), value)
    return idfs


# ---------------------------------------------------------------- highlights


def _spans(plan: QueryPlan, norm: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pinyin_terms: set[str] = set()
    ascii_words: list[re.Match[str]] | None = None  # the text's Latin words, found once for every such term
    for term in plan.terms:
        if term.field == "pinyin":
            pinyin_terms.add(term.text)
        elif term.field == "chars":
            spans += [match.span() for match in term.in_order.finditer(norm)]
        elif term.is_ascii_word:
            budget = term.typo_budget
            if ascii_words is None:
                ascii_words = list(_LATIN_WORD.finditer(norm))
            for match in ascii_words:
                word = match.group()
                if word == term.text or (
                    budget and word[:1] == term.text[:1] and edit_distance(word, term.text, budget) <= budget
                ):
                    spans.append(match.span())
        else:
            text = term.text
            start = norm.find(text)
            while start >= 0:
                spans.append((start, start + len(text)))
                start = norm.find(text, start + 1)
    if pinyin_terms:
        syl = syllables(norm, accurate=False)
        for start in range(len(norm)):
            joined = ""
            for end in range(start, min(start + 4, len(norm))):
                if not syl[end]:
                    break
                joined += syl[end]
                if end > start and joined in pinyin_terms:  # a lone syllable (shu → 术) is too loose
                    spans.append((start, end + 1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(plan: QueryPlan, original: str, *, crop: int | None = None) -> str:
    """``original`` HTML-escaped, matches wrapped in <em>…</em>; cropped around the first match."""
    if not original:
        return ""
    norm, origin = normalize_mapped(original)
    spans = [(origin[s], origin[e - 1] + 1) for s, e in _spans(plan, norm)] if not plan.empty else []
    lo, hi = 0, len(original)
    if crop is not None and len(original) > crop:
        first = spans[0][0] if spans else 0
        lo = max(0, min(first - crop // 4, len(original) - crop))
        hi = lo + crop
    out: list[str] = ["…" if lo > 0 else ""]
    cursor = lo
    for start, end in spans:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, cursor), min(end, hi)
        out.append(html.escape(original[cursor:start]))
        out.append(f"<em>{html.escape(original[start:end])}</em>")
        cursor = end
    out.append(html.escape(original[cursor:hi]))
    out.append("…" if hi < len(original) else "")
    return "".join(out)
