"""Text features for matching: weighted word vectors, character bigrams, and concept expansion.

Demands describe problems in plain words; achievements describe solutions in technical ones. The
profile of a query listing therefore carries, besides its own words, the synonyms from the domain
thesaurus and the solution terms that ``data/concepts.txt`` associates with its problem phrases,
each at a discount, so they can bridge the vocabulary gap without outweighing the text itself.
Word weights use jieba's general-purpose IDF table: stateless, the same in every process, and no
per-corpus build (character bigrams, whose rarity depends on the corpus, are weighted by the
candidate set instead).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from search.text import has_cjk, normalize, normalized_fields, thesaurus, words

CONCEPTS_PATH = Path(__file__).resolve().parents[1] / "data" / "concepts.txt"
SYNONYM_WEIGHT = 0.7
CONCEPT_WEIGHT = 0.5
STOP_WORDS = frozenset(
    "我们 我公司 我厂 公司 企业 单位 希望 引进 需要 需求 寻求 寻找 能够 可以 进行 采用 通过 实现 以及 目前 现有 "
    "问题 技术 方法 工艺 系统 装置 设备 研究 开发 研发 应用 成果 产品 项目 合作 提供 主要 相关 一种 每年 左右 以上 "
    "以下 以内 我们的 比较 非常 已经 没有 不能 无法 很多 大量 万元 预算 成熟 可靠".split()
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")
_LETTER = re.compile(r"[a-z]")
_lock = threading.Lock()


@cache
def idf_table() -> tuple[Mapping[str, float], float]:
    """jieba's IDF table, read directly (importing jieba.analyse leaves the file open)."""
    import jieba

    with _lock, (Path(jieba.__file__).parent / "analyse" / "idf.txt").open(encoding="utf-8") as handle:
        table = {}
        for line in handle:
            word, _, value = line.strip().partition(" ")
            if value:
                table[word] = float(value)
    values = sorted(table.values())
    return table, values[len(values) // 2]


def load_resources() -> None:
    """Reads the IDF table and the concept lexicon, so the first match after start-up does not."""
    idf_table()
    concepts()


def idf(word: str) -> float:
    table, median = idf_table()
    return table.get(word, median)


@dataclass(frozen=True)
class Concept:
    triggers: tuple[str, ...]
    targets: tuple[str, ...]


@cache
def concepts(path: Path = CONCEPTS_PATH) -> tuple[Concept, ...]:
    """Problem phrase → solution terms; missing file means no expansion (the rest still works)."""
    if not path.exists():
        return ()
    result = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=>" not in line:
            continue
        left, right = line.split("=>", 1)
        triggers = tuple(normalize(t.replace("_", " ")) for t in left.split() if t)
        targets = tuple(normalize(t.replace("_", " ")) for t in right.split() if t)
        if triggers and targets:
            result.append(Concept(triggers, targets))
    return tuple(result)


def content_words(normalized: str) -> list[str]:
    """Words that can name a thing: no stop words, no single characters, no bare figures (160, 23%)."""
    return [
        w
        for w in words(normalized)
        if w not in STOP_WORDS and (has_cjk(w) and len(w) > 1 or not has_cjk(w) and _LETTER.search(w))
    ]


def _gram_list(normalized: str) -> list[str]:
    grams: list[str] = []
    for run in _CJK_RUN.findall(normalized):
        if run[0] >= "\u4e00":  # a CJK run (the pattern's other branch is ASCII)
            grams.extend(map(str.__add__, run, run[1:]))
        elif len(run) > 1:
            grams.append(run)
    return grams


def bigrams(normalized: str) -> Counter[str]:
    return Counter(_gram_list(normalized))


def _unit(vector: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}


@dataclass(frozen=True)
class Profile:
    """A listing's text as matching sees it."""

    vector: dict[str, float]  # unit-length tf-idf over words (expansions included, discounted)
    grams: Counter[str]
    own_words: frozenset[str]  # words of the text itself (for reasons)
    expansions: dict[str, str] = field(default_factory=dict)  # added term → what triggered it

    def key_terms(self, limit: int) -> list[str]:
        """The strongest terms, own words first: what to send the engine instead of raw text."""
        ranked = sorted(self.vector.items(), key=lambda item: (item[0] in self.expansions, -item[1]))
        return [term for term, _ in ranked[:limit]]


def weighted_words(n_title: str, n_body: str, n_keywords: str) -> list[str]:
    """Content words of a listing's normalised parts, title and keywords counted twice (they
    name the subject). What the search documents store as ``m_words``, so a candidate's profile
    is built without segmenting its text again."""
    title, keywords = content_words(n_title), content_words(n_keywords)
    return [*title, *title, *content_words(n_body), *keywords, *keywords]


def weighted_bigrams(n_title: str, n_body: str, n_keywords: str) -> Counter[str]:
    head = _gram_list(n_title) + _gram_list(n_keywords)
    return Counter(head + head + _gram_list(n_body))


@dataclass(frozen=True)
class StoredText:
    """A listing's text as its search document stores it (``n_*`` and ``m_words``)."""

    title: str
    keywords: str
    body: str
    words: str  # content words, title and keywords twice (``weighted_words``)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> StoredText:
        return cls(
            document.get("n_title") or "",
            document.get("n_keywords") or "",
            document.get("n_body") or "",
            document.get("m_words") or "",
        )

    @classmethod
    def of_listing(cls, title: str, body: str, keywords: Sequence[str]) -> StoredText:
        """What indexing stores, computed from the listing itself (a query listing's profile, and
        candidates indexed before m_words)."""
        normal = normalized_fields(title, body, keywords)
        n_title, n_body, n_keywords = normal["title"], normal["body"], normal["keywords"]
        return cls(n_title, n_keywords, n_body, " ".join(weighted_words(n_title, n_body, n_keywords)))


def profile(title: str, body: str, keywords: Sequence[str] = (), *, expand: str | None = None) -> Profile:
    """``expand="problem"``: the text states a problem (a demand), add solution terms;
    ``"solution"``: it states a solution (an achievement), add the problems it answers."""
    stored = StoredText.of_listing(title, body, keywords)
    counts = Counter(stored.words.split())
    grams = weighted_bigrams(stored.title, stored.body, stored.keywords)
    if not expand:
        return _profile(counts, grams)
    text = f"{stored.title} {stored.body} {stored.keywords}"
    weights = word_weights(counts)
    expansions: dict[str, str] = {}
    base = sorted(weights.values(), reverse=True)
    reference = sum(base[:10]) / max(1, min(10, len(base)))
    lexicon = thesaurus()
    for word in list(counts):
        for synonym in lexicon.synonyms(word):
            if synonym not in weights and " " not in synonym:
                weights[synonym] = SYNONYM_WEIGHT * reference
                expansions[synonym] = word
    for concept in concepts():
        sources, targets = (
            (concept.triggers, concept.targets) if expand == "problem" else (concept.targets, concept.triggers)
        )
        trigger = next((t for t in sources if t in text), None)
        if trigger is None:
            continue
        for target in targets:
            if target not in weights:
                weights[target] = CONCEPT_WEIGHT * reference
                expansions[target] = trigger
    return Profile(_unit(weights), grams, frozenset(counts), expansions)


def word_weights(counts: Counter[str]) -> dict[str, float]:
    """Sublinear tf × jieba IDF per word (not yet unit length)."""
    table, median = idf_table()
    return {w: tf(n) * table.get(w, median) for w, n in counts.items()}


def _profile(counts: Counter[str], grams: Counter[str]) -> Profile:
    return Profile(_unit(word_weights(counts)), grams, frozenset(counts))


_TF = [0.0] + [1 + math.log(n) for n in range(1, 64)]


def tf(n: int) -> float:
    """Sublinear term frequency 1 + ln n (a table lookup for the counts that occur)."""
    return _TF[n] if n < 64 else 1 + math.log(n)


def gram_vector(grams: Mapping[str, int], weights: Mapping[str, float], default: float) -> dict[str, float]:
    return _unit({g: tf(n) * weights.get(g, default) for g, n in grams.items()})


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(value * b.get(key, 0.0) for key, value in a.items())


def matched_terms(query: Profile, document: Mapping[str, float], limit: int = 8) -> list[str]:
    """Shared words, strongest first (``document``: word → its weight there, at any common
    scale); an expansion shows what it came from (干旱→抗旱)."""
    shared = [t for t in query.vector if t in document]
    shared.sort(key=lambda t: -query.vector[t] * document[t])
    return [f"{query.expansions[t]}→{t}" if t in query.expansions else t for t in shared[:limit]]
