"""Text features for matching: weighted word vectors, character bigrams, and concept expansion.

Demands describe problems in plain words; achievements describe solutions in technical ones. The
profile of a query listing therefore carries, besides its own words, the synonyms from the domain
thesaurus and the solution terms that ``data/concepts.txt`` associates with its problem phrases,
each at a discount, so they can bridge the vocabulary gap without outweighing the text itself.
A demand that states a problem (a cue of ``data/problems.txt``: 退磁, 腐蚀) weighs the cue above its
context words and carries the remedies that answer it; a remedy many candidates sell counts for
little in a listing that names nothing of the demand's subject. Word weights use jieba's
general-purpose IDF table: stateless, the same in every process, and no per-corpus build
(character bigrams, whose rarity depends on the corpus, are weighted by the candidate set instead).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from search.lexicon import (
    CLAUSE,
    broad,
    concepts,
    general_stopwords,
    idf,
    idf_table,
    problems,
    quantity_words,
    stated_triggers,
    trigger_index,
    worded_triggers,
)
from search.text import has_cjk, normalize, normalized_fields, thesaurus, words
from search.weights import MatchWeights, active_match, active_search

# Unit symbols (SI and the usual technical ones): 350℃ normalises to "350°c", 10 kV to "10 kv"; a
# unit or a figure with its unit is a measure, not a name, so it neither matches nor explains a match.
UNITS = frozenset(
    "mm cm dm km um nm kg mg kt mt kw mw gw kwh mwh gwh kv mv ma ka hz khz mhz ghz kpa mpa gpa db ml "
    "rpm ppm ppb mol kj mj gj kcal cal min".split()
)
_MEASURE = re.compile(r"[0-9.]+([a-z]*)")
STOP_WORDS = frozenset(
    "我们 我公司 我厂 公司 企业 单位 希望 引进 需要 需求 寻求 寻找 能够 可以 进行 采用 通过 实现 以及 目前 现有 "
    "问题 技术 方法 工艺 系统 装置 设备 研究 开发 研发 应用 成果 产品 项目 合作 提供 主要 相关 一种 每年 左右 以上 "
    "以下 以内 我们的 比较 非常 已经 没有 不能 无法 很多 大量 万元 预算 成熟 可靠".split()
)
# an amount in Chinese numerals (千头, 几百公斤, 数十万吨, 一车, 两年, 每吨): a magnitude, or numerals
# (or 每, per) with a measure word; 三元, 三七, 二次, 三维 and 万向 are names and stay
_NUMERALS = "数几一二两三四五六七八九十百千万亿半多"
_AMOUNT = re.compile(
    f"[{_NUMERALS}]*[十百千万亿][{_NUMERALS}]*"
    f"|[{_NUMERALS}每]+(?:吨|头|只|台|套|座|个|株|亩|公斤|斤|车|批|箱|件|家|户|人|年|天|月|米|公里|倍)"
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")
_LETTER = re.compile(r"[a-z]")


def load_resources() -> None:
    """Reads the IDF table and the lexicons, so the first match after start-up does not."""
    idf_table()
    quantity_words()
    for entries in (concepts, problems):
        trigger_index(entries, content_words)
        for side in ("triggers", "targets"):
            stated_triggers(entries, "", side=side)
    broad()
    general_stopwords()


def content_words(normalized: str) -> list[str]:
    """Words that can name a thing: no stop words, no single characters or letters, no bare figures
    (160, 23%), no units or measures (℃, 10kv), no amounts in words (几百公斤)."""
    return [w for w in words(normalized) if is_content(w)]


def is_content(word: str) -> bool:
    if word in STOP_WORDS or word in general_stopwords() or word in place_names():
        return False
    if has_cjk(word):
        return len(word) > 1 and not _AMOUNT.fullmatch(word)
    if len(word) < 2 or not _LETTER.search(word) or word in UNITS:
        return False
    measure = _MEASURE.fullmatch(word)
    return measure is None or not (measure.group(1) in UNITS or len(measure.group(1)) == 1)


_PLACE_SUFFIXES = ("特别行政区", "自治区", "自治旗", "自治县", "省", "市", "盟", "旗", "县", "区")


@cache
def place_names() -> frozenset[str]:
    """The names of the regions the platform knows (内蒙古, its 盟市 and 旗县, the provinces): where a
    listing is says nothing of what it does (two listings are not alike for both naming 包头), and
    nearness of region is a feature of its own. 盟市 and provinces also without their suffix, as
    they are usually written; a 旗县's bare stem may be a word of its own (库伦, 科尔沁), so it stays."""
    from core.reference import regions

    names: set[str] = set()
    for region in regions().values():
        name = normalize(region.name_zh)
        names.add(name)
        for suffix in _PLACE_SUFFIXES if region.level == "province" or region.is_prefecture else ():
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                names.add(name.removesuffix(suffix))
                break
    return frozenset(names)


@cache
def stage_and_mode_names() -> frozenset[str]:
    """The maturity stages and transaction modes as the platform names them (中试, 产业化; 转让,
    许可, 作价入股, 合作开发): the maturity and mode reasons already say how two listings compare."""
    from core.reference import code_list

    return frozenset(normalize(item.label) for codes in ("maturity", "transaction_modes") for item in code_list(codes))


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
    sources: dict[str, str] = field(default_factory=dict)  # added term → the resource's name, for reasons
    problem: frozenset[str] = frozenset()  # a stated problem's cues and remedies (empty: none stated)
    # a demand's subject: the specific words of its title and keywords, its problem cues aside; a
    # remedy counts in full only for a listing that names one of them (see vectors.word_cosines)
    anchors: frozenset[str] = frozenset()

    @property
    def remedies(self) -> frozenset[str]:
        return remedies_of(self.sources)

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


def profile(
    title: str,
    body: str,
    keywords: Sequence[str] = (),
    *,
    expand: str | None = None,
    weights: MatchWeights | None = None,
) -> Profile:
    """``expand="problem"``: the text states a problem (a demand): the words that state it weigh
    more, and the solution terms are added; ``"solution"``: it states a solution (an achievement),
    add the problems it answers. Added terms weigh a share (``search.weights.MatchWeights``) of the
    strongest own words, by how far their resource is trusted."""
    stored = StoredText.of_listing(title, body, keywords)
    counts = Counter(stored.words.split())
    grams = weighted_bigrams(stored.title, stored.body, stored.keywords)
    if not expand:
        return _profile(counts, grams)
    w = weights or active_match()
    text = f"{stored.title} {stored.body} {stored.keywords}"
    vector = word_weights(counts)

    # the characters that stand as words of the text: a one-character trigger (药, 马) fires only
    # as one, never inside another word (撒药, 马铃薯)
    alone = frozenset(word for word in words(text) if len(word) == 1)
    cues: set[str] = set()
    if expand == "problem":  # what the demand says it must solve, above its context words
        cues, objects = problem_words(f"{stored.title}。{stored.body}")
        if cues:  # cues ×focus, what fails ×√focus, the rest (where, what for) as it is
            for word in vector:
                vector[word] *= (
                    w.problem_focus if word in cues else math.sqrt(w.problem_focus) if word in objects else 1.0
                )
    expansions: dict[str, str] = {}
    sources: dict[str, str] = {}
    base = sorted(vector.values(), reverse=True)
    reference = sum(base[:10]) / max(1, min(10, len(base)))

    def add(term: str, trigger: str, weight: float, source: str, scale: float = reference) -> None:
        """An expansion weighs ``weight`` of ``scale``; a later, stronger source may raise one."""
        if weight <= 0 or " " in term or (term in vector and term not in expansions):
            return
        if vector.get(term, 0.0) < weight * scale:
            vector[term] = weight * scale
            expansions[term] = trigger
            sources[term] = source

    def strength(cue: str) -> float:
        """How much the text weighs the problem it states: its cue's own words, else the reference."""
        own = [vector[word] for word in content_words(cue) if word in vector]
        return max([reference, *own])

    lexicon = thesaurus()
    for word in list(counts):
        for synonym in lexicon.synonyms(word):
            add(synonym, word, w.synonym, "同义")
    lexicons = ((concepts, w.concept, "概念"), (problems, w.solution, "对策"))
    for entries, weight, source in lexicons:
        side = "triggers" if expand == "problem" else "targets"  # an achievement: what it answers
        stated = {line: phrase for line, (_, phrase) in stated_triggers(entries, text, side=side, words=alone).items()}
        if expand == "problem":
            for line, phrase in worded_triggers(entries, content_words, text).items():
                stated.setdefault(line, phrase)
        for line in sorted(stated):
            trigger, concept = stated[line], entries()[line]
            for target in concept.targets if expand == "problem" else concept.triggers:
                # a general remedy (低成本, 高效) says less than a specific one (矫顽力): jieba IDF
                if source == "概念":
                    add(target, trigger, weight, source)
                else:
                    specific = min(1.0, idf(target) / idf_table()[1])
                    add(target, trigger, weight * specific, source, strength(trigger))
    head = set(content_words(stored.title)) | set(content_words(stored.keywords))
    for word in sorted(head):  # the subject's words only: a broad dictionary on every body word is noise
        if not lexicon.synonyms(word):
            for synonym in broad().synonyms(word, active_search().broad_group_max):
                add(synonym, word, w.broad_synonym, "近义")
    remedies = remedies_of(sources)
    for remedy in remedies:  # spelled inside a listing's longer words too (高矫顽力钕铁硼)
        grams.update(_gram_list(remedy))
    anchors = {word for word in head - cues if idf(word) >= w.reason_min_idf} if cues else set()
    return Profile(
        _unit(vector), grams, frozenset(counts), expansions, sources, frozenset(cues | remedies), frozenset(anchors)
    )


def remedies_of(sources: Mapping[str, str]) -> frozenset[str]:
    """The added terms that answer a stated problem (data/problems.txt)."""
    return frozenset(term for term, source in sources.items() if source == "对策")


def problem_words(text: str) -> tuple[set[str], set[str]]:
    """The words that state a problem: each problem cue of data/problems.txt found in a clause
    (退磁), and the two content words just before it (what fails: 磁钢 高温)."""
    cues: set[str] = set()
    objects: set[str] = set()
    for clause in CLAUSE.split(text):
        for at, cue in stated_triggers(problems, clause).values():
            cues.update(content_words(cue))
            cues.add(cue)
            objects.update(content_words(clause[:at])[-2:])
    return cues, objects


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


def matched_terms(
    query: Profile, document: Mapping[str, float], weights: MatchWeights | None = None, limit: int = 8
) -> list[str]:
    """Shared words, strongest first (``document``: word → its weight there, at any common scale),
    as the listing writes them; an expansion shows the chain that led to it (退磁→矫顽力(对策)).
    Everyday words (jieba's general IDF below ``reason_min_idf``), stop words, letters, figures,
    units, quantities, maturity stages and transaction modes (中试, 许可: the maturity and mode reasons
    speak of those) are left out: they explain nothing to a reader."""
    floor = (weights or active_match()).reason_min_idf
    quantities, deal_terms = quantity_words(), stage_and_mode_names()
    shared = [
        t
        for t in query.vector
        if t in document
        and is_content(t)
        and t not in quantities
        and t not in deal_terms
        and (t in query.expansions or idf(t) >= floor)
    ]
    shared.sort(key=lambda t: -query.vector[t] * document[t])
    return [
        f"{query.expansions[t]}→{t}({query.sources.get(t, '同义')})" if t in query.expansions else t
        for t in shared[:limit]
    ]
