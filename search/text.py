"""Chinese text processing shared by every engine: normalisation, segmentation, pinyin, thesaurus.

Both engines index the same derived fields and receive the same analysed query, so a listing is
found the same way whichever engine serves it. The heavy resources (jieba dictionary, opencc
tables, pinyin tables, thesaurus) load lazily, once per process, under a lock.

Derived fields (see ``analyze_document``):

* ``t_*``  normalised text with every CJK character a separate token and ASCII words kept whole.
  A phrase query over these tokens is an exact substring search, so 处理 finds 待处理 and 镁 finds
  镁合金, which word-segmented indexes miss (a word inside a longer jieba token).
* ``py_title`` / ``py_body``  pinyin of CJK bigrams (``xitu``), and for titles also of jieba words
  and the initials of long ones (``yongci``, ``xtyc``), so users who type pinyin find the listing.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from search.weights import SearchWeights

THESAURUS_PATH = Path(__file__).with_name("data") / "thesaurus.txt"
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 24  # bounds the work per query (sub-queries on Meilisearch, OR branches in FTS5)
# one Chinese and one English word: the first query loads jieba, opencc, the pinyin tables and the
# English glossary, so an engine warms up with it off the event loop
WARM_UP_QUERY = "预热 warm"

_lock = threading.Lock()
_WS = re.compile(r"\s+")
_ALNUM = re.compile(r"[a-z0-9]")

STOPWORDS = frozenset(
    """的 了 和 与 及 或 在 给 把 被 从 里 中 对 用 为 等 是 有 将 以 于 及其 并 而 其 之 这 那 个 种 一种 一个
    如何 怎么 什么 哪些 能 可 可以 需要 要 想 找 求 寻求 我们 我 请 关于 进行 通过 利用 基于 方面 相关 用于
    the a an of for and or in on to with by from""".split()
)


# ---------------------------------------------------------------- normalisation


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F or 0xF900 <= code <= 0xFAFF
    )


def has_cjk(text: str) -> bool:
    return any(is_cjk(char) for char in text)


@cache
def _t2s() -> tuple[object, frozenset[str], dict[str, str]]:
    import opencc

    converter = opencc.OpenCC("t2s")
    path = Path(opencc.__file__).with_name("dictionary") / "TSCharacters.txt"
    chars: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        if trad and simp and trad != simp.split()[0]:
            chars[trad] = simp.split()[0]
    return converter, frozenset(chars), chars


def to_simplified(text: str) -> str:
    """繁→简 with opencc phrases; skipped (fast path) when no traditional character is present."""
    converter, traditional, _ = _t2s()
    if traditional.isdisjoint(text):
        return text
    return str(converter.convert(text))  # type: ignore[attr-defined]


def normalize(text: str) -> str:
    """NFKC (full-width → half-width, Ⅳ → IV), lowercase, 繁→简, collapsed whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _WS.sub(" ", to_simplified(text)).strip()


class _CharFold(dict[int, str]):
    """``str.translate`` table: a character → NFKC, lowercase, 繁→简 of that character alone."""

    def __missing__(self, code: int) -> str:
        _, _, chars = _t2s()
        mapped = unicodedata.normalize("NFKC", chr(code)).lower()
        if len(mapped) == 1:
            mapped = chars.get(mapped, mapped)
        self[code] = mapped
        return mapped


_FOLD = _CharFold()


def normalize_mapped(text: str) -> tuple[str, list[int]]:
    """Character-wise ``normalize`` plus, for each output character, its index in ``text``.

    Used to put highlight marks on the original text after matching on the normalised one.
    """
    folded = text.translate(_FOLD)
    if len(folded) == len(text):  # the common case: one character for one
        return folded, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in _FOLD[ord(char)]:
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


def spaced(normalized: str) -> str:
    """Every CJK character as its own token, ASCII words kept, everything else a separator."""
    out: list[str] = []
    for char in normalized:
        if is_cjk(char):
            out.append(f" {char} ")
        elif char.isalnum():
            out.append(char)
        else:
            out.append(" ")
    return _WS.sub(" ", "".join(out)).strip()


def ascii_words(normalized: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", normalized)


def spans_in(text: str, lengths: Sequence[int], known: Container[str]) -> Iterator[tuple[int, str]]:
    """(start, span) of every span of ``text`` that ``known`` holds, ``lengths`` (ascending) being
    the lengths it has: each span is looked up, rather than each of thousands of phrases searched for."""
    for start in range(len(text)):
        for length in lengths:
            if start + length > len(text):
                break
            span = text[start : start + length]
            if span in known:
                yield start, span


# ---------------------------------------------------------------- thesaurus


@dataclass(frozen=True)
class Thesaurus:
    groups: tuple[tuple[str, ...], ...]
    by_term: dict[str, tuple[int, ...]]
    english: frozenset[str]  # single ASCII words, the vocabulary for typo correction

    def synonyms(self, term: str) -> list[str]:
        seen: dict[str, None] = {}
        for group_id in self.by_term.get(term, ()):
            for other in self.groups[group_id]:
                if other != term:
                    seen[other] = None
        return list(seen)

    @cached_property
    def _order(self) -> tuple[dict[str, int], tuple[int, ...]]:
        order = {term: i for i, term in enumerate(self.by_term) if len(term) >= 2}
        return order, tuple(sorted({len(term) for term in order}))

    def terms_in(self, text: str) -> list[str]:
        """The terms of two or more characters ``text`` holds, in the thesaurus's order."""
        order, lengths = self._order
        return sorted({span for _, span in spans_in(text, lengths, order)}, key=order.__getitem__)

    def correct(self, word: str) -> str | None:
        """The thesaurus English word within typo distance of ``word`` (closest, then shortest)."""
        allowed = typo_budget(word)
        if not allowed or word in self.english:
            return None
        best: tuple[int, int, str] | None = None
        for candidate in self.english:
            if abs(len(candidate) - len(word)) > allowed or candidate[0] != word[0]:
                continue
            distance = edit_distance(word, candidate, allowed)
            if distance <= allowed and (best is None or (distance, len(candidate), candidate) < best):
                best = (distance, len(candidate), candidate)
        return best[2] if best else None


def load_thesaurus(path: Path = THESAURUS_PATH) -> Thesaurus:
    groups: list[tuple[str, ...]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        terms = tuple(dict.fromkeys(normalize(term.replace("_", " ")) for term in line.split()))
        if len(terms) >= 2:
            groups.append(terms)
    by_term: dict[str, list[int]] = {}
    for group_id, terms in enumerate(groups):
        for term in terms:
            by_term.setdefault(term, []).append(group_id)
    english = frozenset(t for terms in groups for t in terms if re.fullmatch(r"[a-z][a-z\-]+", t))
    return Thesaurus(tuple(groups), {k: tuple(v) for k, v in by_term.items()}, english)


@cache
def thesaurus() -> Thesaurus:
    return load_thesaurus()


def typo_budget(word: str) -> int:
    """Meilisearch's defaults: one typo from 5 letters, two from 9; none for digits."""
    if not word.isalpha():
        return 0
    return 2 if len(word) >= 9 else 1 if len(word) >= 5 else 0


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein (optimal string alignment), stopping early above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


# ---------------------------------------------------------------- segmentation


_jieba_tokenizer: object | None = None


def _jieba() -> object:
    """A private jieba tokenizer with the thesaurus terms added, so 磁材 or 锂电 stay one word."""
    global _jieba_tokenizer
    if _jieba_tokenizer is None:
        with _lock:
            if _jieba_tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for term in thesaurus().by_term:
                    if has_cjk(term) and len(term) >= 2 and " " not in term:
                        tokenizer.add_word(term, freq=2000)
                _jieba_tokenizer = tokenizer
    return _jieba_tokenizer


def general_word(word: str) -> bool:
    """Whether jieba's general dictionary knows ``word`` as a word of its own (a frequency above 0)."""
    return bool(getattr(_jieba(), "FREQ", {}).get(word))


def _content(token: str) -> bool:
    return bool(token.strip()) and (has_cjk(token) or bool(_ALNUM.search(token)))


def words(normalized: str) -> list[str]:
    """jieba precise-mode words (content tokens only)."""
    return [t for t in _jieba().cut(normalized) if _content(t)]  # type: ignore[attr-defined]


def search_words(normalized: str) -> list[str]:
    """jieba ``cut_for_search`` words: long words plus the shorter words inside them."""
    return [t for t in _jieba().cut_for_search(normalized) if _content(t)]  # type: ignore[attr-defined]


def segmented(text: str) -> str:
    """Space-joined ``cut_for_search`` words of the normalised text (for engines that want words)."""
    return " ".join(search_words(normalize(text)))


# ---------------------------------------------------------------- pinyin


@cache
def _char_pinyin() -> dict[str, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for code, readings in pinyin_dict.items():
        first = readings.split(",")[0]
        plain = "".join(c for c in unicodedata.normalize("NFD", first) if not unicodedata.combining(c))
        table[chr(code)] = plain.replace("ü", "v").lower()
    return table


@cache
def pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable a character reads as (xi, tu, zhuang)."""
    return frozenset(_char_pinyin().values())


def _blank_per_character(chunk: str) -> Any:
    """pypinyin's ``errors`` callback: a list gives one syllable per character (its stubs only say str)."""
    return [""] * len(chunk)


def syllables(normalized: str, *, accurate: bool) -> list[str]:
    """One pinyin syllable per character ('' for non-CJK). ``accurate`` resolves polyphones by phrase."""
    if accurate:
        from pypinyin import lazy_pinyin

        result = lazy_pinyin(normalized, errors=_blank_per_character)
        if len(result) == len(normalized):
            return [s if is_cjk(c) else "" for s, c in zip(result, normalized, strict=True)]
    table = _char_pinyin()
    return [table.get(c, "") if is_cjk(c) else "" for c in normalized]


def pinyin_tokens(normalized: str, *, title: bool) -> list[str]:
    """Pinyin of every CJK bigram; for titles also of each jieba word (2–4 CJK chars) and the
    initials of words of 3+ characters, so ``xitu`` and ``xtyc`` both find 稀土永磁.

    Bodies get bigrams only: segmenting every body with jieba was half the cost of building a
    search document (reindex speed), and a pinyin query names its subject, which titles and
    keywords carry with full word pinyin."""
    syl = syllables(normalized, accurate=title)
    out: dict[str, None] = {}
    if title:
        for word, start, end in _jieba().tokenize(normalized, mode="search"):  # type: ignore[attr-defined]
            if 2 <= end - start <= 4 and all(is_cjk(c) for c in word):
                out["".join(syl[start:end])] = None
                if end - start >= 3:
                    out["".join(s[0] for s in syl[start:end] if s)] = None
    for i in range(len(normalized) - 1):
        if syl[i] and syl[i + 1]:
            out[syl[i] + syl[i + 1]] = None
    return [token for token in out if token]


# ---------------------------------------------------------------- documents


def normalized_fields(title: str, body: str, keywords: Iterable[str], owner_name: str = "") -> dict[str, str]:
    """A listing's text parts, normalised; keywords joined by " ; " so no bigram spans two of them."""
    return {
        "title": normalize(title),
        "keywords": normalize(" ; ".join(keywords)),
        "body": normalize(body),
        "owner": normalize(owner_name),
    }


def analyze_document(title: str, body: str, keywords: Iterable[str], owner_name: str) -> dict[str, str]:
    """The derived, engine-independent text fields of one document: ``n_*`` normalised text (what
    the re-ranker scores, stored so queries never normalise candidates), ``t_*`` and ``py_*``."""
    normal = normalized_fields(title, body, keywords, owner_name)
    head = f"{normal['title']} ; {normal['keywords']}"
    return {
        **{f"n_{name}": value for name, value in normal.items()},
        **{f"t_{name}": spaced(value) for name, value in normal.items()},
        "py_title": " ".join(pinyin_tokens(head, title=True)),
        "py_body": " ".join(pinyin_tokens(normal["body"], title=False)),
    }


# ---------------------------------------------------------------- queries

TermField = Literal["text", "pinyin", "chars"]
CHARS_GAP = 3  # characters a relaxed word's characters may lie apart and still read as that word (湿式静电 for 湿电)


@dataclass(frozen=True)
class Term:
    """One string to look for. ``text`` terms match the t_* fields (a substring; an ASCII word may
    carry typos), ``pinyin`` terms match the py_* fields exactly, ``chars`` terms (a relaxed query's
    word) match where every character of the word occurs, and count where they stand in order within
    ``CHARS_GAP`` of each other."""

    text: str
    weight: float
    field: TermField = "text"
    exact: bool = False  # a dictionary word the app added (a synonym, a typo's correction): no typos

    @cached_property
    def key(self) -> str:
        return f"{self.field}:{self.text}"

    @cached_property
    def typo_budget(self) -> int:
        """Typos an ASCII word the user typed may carry; words the app added are spelled right."""
        return typo_budget(self.text) if self.is_ascii_word and not self.exact else 0

    @property
    def phrase(self) -> str:
        return spaced(self.text)

    @cached_property
    def is_ascii_word(self) -> bool:
        return self.field == "text" and re.fullmatch(r"[a-z0-9]+", self.text) is not None

    @cached_property
    def in_order(self) -> re.Pattern[str]:
        """A ``chars`` term's characters in order, at most ``CHARS_GAP`` apart, no punctuation between."""
        gap = rf"\w{{0,{CHARS_GAP}}}"
        return re.compile(gap.join(re.escape(c) for c in self.text))


@dataclass
class Group:
    """One concept of the query and its alternative spellings; a document scores its best one."""

    label: str
    terms: list[Term] = field(default_factory=list)

    def add(self, text: str, weight: float, field_: TermField = "text", *, exact: bool = False) -> None:
        text = text.strip()
        if not text or not (has_cjk(text) or _ALNUM.search(text)):
            return
        for i, existing in enumerate(self.terms):
            if existing.text == text and existing.field == field_:
                if weight > existing.weight or existing.exact > exact:  # typed beats added
                    self.terms[i] = Term(text, max(weight, existing.weight), field_, exact and existing.exact)
                return
        self.terms.append(Term(text, weight, field_, exact))


@dataclass
class QueryPlan:
    text: str  # normalised query
    groups: list[Group]

    @property
    def empty(self) -> bool:
        return not self.groups

    def relaxed(self) -> QueryPlan:
        """For a query nothing matched: each word of two to six characters as its characters, so
        冻车 finds 敞车防冻液 and 湿电 finds 湿式静电除尘 rather than an empty page. Words that
        cannot be relaxed (letters, one character) are left out: they matched nothing already."""
        groups = []
        for group in self.groups:
            label = group.label
            if 2 <= len(label) <= 6 and all(is_cjk(c) for c in label):
                groups.append(Group(label, [Term(label, 1.0, "chars")]))
        return QueryPlan(self.text, groups)

    @cached_property
    def terms(self) -> list[Term]:
        """Each distinct term once, at its highest weight (read per candidate: built once)."""
        seen: dict[str, Term] = {}
        for group in self.groups:
            for term in group.terms:
                if term.key not in seen or term.weight > seen[term.key].weight:
                    seen[term.key] = term
        return list(seen.values())


def analyze_query(text: str, *, expand: bool = True, weights: SearchWeights | None = None) -> QueryPlan:
    """Normalise, segment and expand a query (synonyms, English typos, pinyin, 繁→简).

    A query with no letters, digits or CJK characters is empty: the caller browses (match-all).
    ``expand=False`` keeps the words as given, one concept each (matching sends key terms it has
    already expanded; parts such as 技术 of 监测技术 would only add costly, unspecific sub-queries).
    Each source of alternatives is trusted as ``search.weights.SearchWeights`` says.
    """
    from search import lexicon  # built on this module
    from search.weights import active_search

    weights = weights or active_search()
    if len(text) > MAX_QUERY_CHARS:
        from search.errors import QueryTooLong

        raise QueryTooLong(MAX_QUERY_CHARS)
    norm = normalize(text)
    if not (has_cjk(norm) or _ALNUM.search(norm)):
        return QueryPlan(norm, [])
    thes = thesaurus()
    tokens = [t for t in words(norm) if t not in STOPWORDS]
    groups: list[Group] = []
    for token in dict.fromkeys(tokens):
        group = Group(token)
        group.add(token, 1.0)
        if expand:
            _add_alternatives(group, token, thes, weights)
        groups.append(group)
    if not expand:
        return QueryPlan(norm, _cap(groups))
    # Thesaurus terms the segmentation split apart (淀粉废水) or hid inside a longer word, unless
    # that word is a thesaurus term itself (风机叶片 already stands for 风机 and 叶片).
    token_set = set(tokens)
    covered = [t for t in token_set if t in thes.by_term]
    for term in thes.terms_in(norm):
        if term in token_set or any(term in t for t in covered):
            continue
        if not has_cjk(term) and not re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", norm):
            continue
        group = Group(term)
        group.add(term, 1.0)
        for synonym in thes.synonyms(term):
            group.add(synonym, weights.thesaurus, exact=True)
        groups.append(group)
    _add_concepts(norm, groups, weights)
    # An English phrase of the thesaurus typed with a typo in each word or without its space; one it
    # lacks, as the general dictionary translates it (heart attack → 心梗).
    index = lexicon.thesaurus_index()
    for run in re.finditer(r"[a-z]+(?: [a-z]+)*", norm):
        typed = run.group().split()
        for size in range(min(3, len(typed)), 0, -1):
            for start in range(len(typed) - size + 1):
                phrase = index.phrase_for(typed[start : start + size])
                if phrase is None and size > 1:
                    _add_translated_phrase(" ".join(typed[start : start + size]), groups, thes, weights)
                if phrase is None or re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", norm):
                    continue
                group = Group(phrase)
                group.add(phrase, weights.phrase_correction, exact=True)
                for synonym in thes.synonyms(phrase):
                    group.add(synonym, weights.thesaurus * weights.phrase_correction, exact=True)
                groups.append(group)
    # All-letter queries typed with spaces (``xi tu``) are also tried as one pinyin word.
    letters = norm.split()
    if 2 <= len(letters) <= 4 and all(w.isalpha() and w.isascii() and len(w) <= 6 for w in letters):
        group = Group("".join(letters))
        group.add("".join(letters), 1.0, "pinyin")
        groups.append(group)
    # Pinyin typed a syllable at a time (``re shi kong yu jing``): each pair of neighbours, as a
    # listing's two characters read (热失, 失控, …); a lone syllable names nothing.
    if len(letters) >= 3 and all(w in pinyin_syllables() for w in letters):
        for first, second in pairwise(letters):
            group = Group(first + second)
            group.add(first + second, 1.0, "pinyin")
            groups.append(group)
    return QueryPlan(norm, _cap(groups))


def _add_translated_phrase(phrase: str, groups: list[Group], thes: Thesaurus, weights: SearchWeights) -> None:
    from search import lexicon

    group = Group(phrase)
    _add_translations(group, lexicon.glossary().chinese(phrase), weights.translation, thes, weights)
    if group.terms:
        groups.append(group)


def _add_translations(
    group: Group, chinese: Iterable[str], trust: float, thes: Thesaurus, weights: SearchWeights
) -> None:
    """CC-CEDICT's Chinese for an English word or phrase, but no everyday term (材料 for data)."""
    from search import lexicon

    for term in chinese:
        if lexicon.idf(term) >= weights.narrower_min_idf:
            _add_reading(group, term, trust, thes, weights)


def _add_concepts(norm: str, groups: list[Group], weights: SearchWeights) -> None:
    """Words people use for a problem or a thing (井水, 排土场, 屋里冷) reach the technical terms of
    concepts.txt, and a stated problem (翻浆) its remedies in problems.txt, as alternatives of the
    query word where the phrase starts: a query worded like a demand finds what a demand would be
    matched to. A one-character phrase counts only as a word; a word the thesaurus already expands
    (风机) is left to it, or every 风机 search would also count every pump and motor in its total and
    facets; unless it states a problem (水垢 → 阻垢), whose remedies are what its searcher wants."""
    from search import lexicon

    if weights.concept <= 0:
        return
    spans: list[tuple[int, int, Group]] = []
    at = 0
    for group in groups:
        start = norm.find(group.label, at)
        if start >= 0:
            spans.append((start, start + len(group.label), group))
            at = start + len(group.label)
    found: list[tuple[int, str, lexicon.Concept]] = []
    for entries in (lexicon.concepts, lexicon.problems):
        stated = lexicon.stated_triggers(entries, norm)
        for line, trigger in lexicon.worded_triggers(entries, query_content_words, norm).items():
            if line not in stated:  # worded differently: where its first word is
                stated[line] = (min(norm.find(w) for w in query_content_words(trigger) if w in norm), trigger)
        found += [(*stated[line], entries()[line]) for line in sorted(stated)]
    for start, trigger, concept in found:
        owner = next((g for s, e, g in spans if s <= start < e and (len(trigger) > 1 or e - s == 1)), None)
        if owner is not None and (
            len(thesaurus().synonyms(owner.label)) < weights.fallback_below or owner.label in lexicon.problem_cues()
        ):
            for term in concept.targets:
                owner.add(term, weights.concept, exact=True)
                for sub in word_parts(term):  # 除氟除砷 → 除氟: a listing may name one part
                    if lexicon.idf(sub) >= weights.narrower_min_idf:  # not 应用 of 卫星应用
                        owner.add(sub, weights.concept * weights.word_part)


def query_content_words(text: str) -> list[str]:
    """The words of a phrase that must occur for it to be stated in other words: no single
    characters, no function words."""
    from search import lexicon

    return [w for w in words(text) if len(w) > 1 and w not in STOPWORDS and w not in lexicon.general_stopwords()]


def _add_alternatives(group: Group, token: str, thes: Thesaurus, weights: SearchWeights) -> None:
    """Other spellings of one query word: its parts, pinyin reading (and the thesaurus term read so),
    typo correction, synonyms, a narrower thesaurus term's synonyms and the broad dictionary's."""
    from search import lexicon

    index = lexicon.thesaurus_index()
    spelled: tuple[str, ...] = ()
    if has_cjk(token):
        for sub in word_parts(token):
            group.add(sub, weights.word_part)
    elif token.isalpha():
        group.add(token, weights.pinyin_reading, "pinyin")
        for term in index.pinyin_terms(token):  # qingneng → 氢能: the whole term, not a stray syllable pair
            _add_reading(group, term, weights.pinyin_reading, thes, weights)
        spelled = lexicon.spellings(token)  # colour ↔ color: one word, as either side of the Atlantic spells it
        for other in spelled:
            group.add(other, 1.0, exact=True)
        corrected = None if spelled else thes.correct(token)
        if corrected and token in lexicon.glossary().known and not token.startswith(corrected):
            corrected = None  # a word of its own (heart is no typo of heat); a plural still reads as one
        if corrected:
            group.add(corrected, weights.typo_correction, exact=True)
            token = corrected
        elif not any(thes.synonyms(word) for word in (token, *spelled)):  # one the thesaurus lacks (ecg, mastitus)
            english, chinese = lexicon.translation(token)
            for other in spelled:  # CC-CEDICT spells some senses the British way, some the American
                chinese = chinese or lexicon.translation(other)[1]
            trust = weights.translation * (1.0 if english == token else weights.typo_correction)
            _add_translations(group, chinese, trust, thes, weights)
    synonyms = thes.synonyms(token)
    if spelled:
        synonyms = [*dict.fromkeys(s for word in (token, *spelled) for s in thes.synonyms(word) if s != token)]
    for synonym in synonyms:
        group.add(synonym, weights.thesaurus, exact=True)
    # where the domain thesaurus has little to say: what narrower terms and the broad dictionary know
    if len(token) == 2 and not synonyms and not general_word(token):
        # not a word of the general dictionary: an abbreviation the thesaurus spells out (电调 → 电网调度)
        for term in index.expansions_of(token):
            group.add(term, weights.abbreviation, exact=True)
            for synonym in thes.synonyms(term):
                group.add(synonym, weights.abbreviation * weights.thesaurus, exact=True)
    if has_cjk(token) and len(token) >= 2 and len(synonyms) < weights.fallback_below:
        # 太阳能 → 太阳能电池 → 光伏; but 处理 is no more a kind of 处理器 (cpu) than of 热处理
        narrower_terms = index.containing(token) if lexicon.idf(token) >= weights.narrower_min_idf else []
        for narrower in narrower_terms:
            for synonym in thes.synonyms(narrower):
                if token not in synonym:
                    group.add(synonym, weights.contained_term, exact=True)
        for synonym in lexicon.broad().synonyms(token, weights.broad_group_max):
            group.add(synonym, weights.broad_synonym, exact=True)


def _add_reading(group: Group, term: str, trust: float, thes: Thesaurus, weights: SearchWeights) -> None:
    """A Chinese term an ASCII word was read as (pinyin, translation), and what the term typed in
    characters would reach: its synonyms and its parts."""
    group.add(term, trust, exact=True)
    for synonym in thes.synonyms(term):
        group.add(synonym, trust * weights.thesaurus, exact=True)
    for sub in word_parts(term):
        group.add(sub, trust * weights.word_part)


def word_parts(token: str) -> list[str]:
    """The parts of a long word that still count a little: 植物补光 → 植物, 补光; 气化渣 → 气化."""
    if len(token) < 3:
        return []
    parts = [s for s in search_words(token) if s != token and len(s) >= 2]
    if len(token) == 4 and all(is_cjk(c) for c in token):
        parts += [token[:2], token[2:]]
    return parts


def _cap(groups: list[Group]) -> list[Group]:
    """Keep at most MAX_QUERY_TERMS terms, dropping the weakest alternatives first."""
    budget = MAX_QUERY_TERMS
    for group in groups:
        group.terms.sort(key=lambda t: -t.weight)
    kept: list[Group] = []
    for group in groups:  # every concept keeps its own spelling while the budget lasts
        if budget <= 0:
            break
        kept.append(Group(group.label, group.terms[:1]))
        budget -= 1
    rank = sorted(
        ((t.weight, -gi, ti) for gi, g in enumerate(groups[: len(kept)]) for ti, t in enumerate(g.terms) if ti),
        reverse=True,
    )
    for _, neg_gi, ti in rank[: max(budget, 0)]:
        kept[-neg_gi].terms.append(groups[-neg_gi].terms[ti])
    return kept
