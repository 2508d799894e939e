"""Queries nobody tuned for, on both engines: typos and glued words in English phrases, pinyin of a
whole term, words only a broad dictionary or a narrower term's synonyms connect; and expansions
never outrank what was typed. The corpus is synthetic, written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.lexicon import build_index
from search.pipeline import SearchEngine
from search.query import SearchQuery
from search.text import analyze_query, load_thesaurus
from search.weights import SearchWeights
from tests.search.test_conformance import doc, engine_kind, fresh_engine  # noqa: F401  (fixtures)

CORPUS = [
    doc(1, "烧结钕铁硼永磁体晶界扩散技术", "以重稀土晶界扩散提高钕铁硼磁体矫顽力, 用于新能源汽车驱动电机。"),
    doc(2, "稀土抛光粉回收再利用", "从废旧稀土抛光粉中回收氧化铈, 回收率达到95%。"),
    doc(3, "光伏组件清洗机器人", "沙漠电站光伏板自动清洗, 节水90%, 适合大型地面电站。"),
    doc(4, "氢能重卡加氢站成套装备", "35MPa 加氢站压缩机与储氢瓶组, 服务氢能重卡运输。"),
    doc(5, "风光制氢与氢能储运系统", "利用弃风弃光电解水制氢, 液态储运, 氢能综合利用。"),
    doc(6, "节水灌溉智能控制器", "按墒情自动灌溉, 显著减轻能耗负担和人工投入。"),  # 轻能: qing neng, by accident
    doc(7, "磁铁矿选矿尾矿干排技术", "磁铁矿尾矿压滤干排, 尾矿库减量。"),
    doc(8, "太阳能热水与采暖系统", "平板太阳能集热器冬季采暖, 适合牧区。"),
    doc(9, "焦炉煤气变压吸附提纯氢气", "焦炉煤气经变压吸附得到高纯氢气。"),
    doc(10, "煤气化细渣浮选脱碳技术", "气化细渣浮选回收残炭, 尾渣残炭低于5%。"),
    doc(11, "村级小型净水设备", "活性氧化铝吸附除氟除砷, 出水达到生活饮用水标准。"),
    doc(12, "井水水位自动监测仪", "牧区机井井水水位与用水量远程监测。"),
    doc(13, "饮用水吸附剂", "改性活性氧化铝除氟, 吸附饱和后碱液再生。"),
    doc(14, "奶牛乳腺炎快速检测试纸", "牛奶滴加试纸, 3分钟判读体细胞水平。"),
    doc(15, "牧民动态心电图监测贴", "贴敷式记录72小时心电图, 蓝牙上传。"),
    doc(16, "储煤场测温预警系统", "煤堆温度与一氧化碳在线监测, 提前发现煤自燃。"),
]


@pytest.fixture
async def engine(fresh_engine: SearchEngine) -> SearchEngine:
    await fresh_engine.upsert("achievement", CORPUS)
    return fresh_engine


async def ids(engine: SearchEngine, text: str) -> list[int]:
    return [hit.id for hit in (await engine.search("achievement", SearchQuery(text=text, limit=10))).hits]


@pytest.mark.parametrize("typed", ["rare erth", "rare earht", "rareearth", "Rare Earth"])
async def test_an_english_phrase_with_a_typo_per_word_or_no_space_finds_what_it_names(
    engine: SearchEngine, typed: str
) -> None:
    found = await ids(engine, typed)
    assert {1, 2} <= set(found), found  # 稀土 listings, reached through the thesaurus phrase "rare earth"
    assert set(found[:2]) == {1, 2}


async def test_pinyin_of_a_whole_term_ranks_that_terms_listings_first(engine: SearchEngine) -> None:
    found = await ids(engine, "qingneng")
    assert set(found[:2]) == {4, 5}, found  # 氢能, not 减轻能耗 (轻能 read the same)
    assert 9 in found  # what 氢能 reaches (氢气), as if typed in characters
    assert found.index(9) > max(found.index(4), found.index(5))  # and below it, as if typed


async def test_pinyin_of_a_term_only_the_problem_lexicons_know_finds_it(engine: SearchEngine) -> None:
    assert (await ids(engine, "meiziran"))[:1] == [16]  # 煤自燃: a concepts.txt term, in no thesaurus group


@pytest.mark.parametrize("typed", ["气化渣", "qihuazha"])
async def test_pinyin_of_a_term_reaches_its_parts_as_the_characters_do(engine: SearchEngine, typed: str) -> None:
    assert 10 in await ids(engine, typed)  # 气化细渣 holds 气化, a part of 气化渣, whether typed or spelt


async def test_a_query_worded_as_people_word_a_problem_reaches_its_technical_terms(engine: SearchEngine) -> None:
    found = await ids(engine, "村里井水")  # concepts.txt: 井水 → 小型净水设备, 除氟除砷
    assert 11 in found, found
    assert 13 in found  # 除氟, a part of the technical term 除氟除砷
    assert found[0] == 12  # the listing that says 井水 still comes first


@pytest.mark.parametrize(("typed", "expected"), [("mastitis", 14), ("Mastitus", 14), ("ECG", 15)])
async def test_an_english_word_the_thesaurus_lacks_finds_listings_in_chinese(
    engine: SearchEngine, typed: str, expected: int
) -> None:
    """CC-CEDICT's senses: mastitis → 乳腺炎 (also misspelt), ECG → 心电图 (an abbreviation it gives)."""
    assert (await ids(engine, typed))[:1] == [expected]


def test_an_english_phrase_the_thesaurus_lacks_is_translated_and_a_real_word_is_no_typo() -> None:
    terms = {t.text for t in analyze_query("heart attack").terms}
    assert "心梗" in terms, terms  # CC-CEDICT's sense of the phrase
    assert "heat" not in terms  # heart is a word of its own, not a misspelt thesaurus word
    assert "合金" in {t.text for t in analyze_query("alloys").terms}  # a plural still reads as its singular


def test_an_english_word_too_general_to_translate_reaches_no_chinese() -> None:
    """new, data, cloud: dozens of definitions use them; their Chinese (新任, 基准, 云彩) would be noise."""
    for word in ("new", "data", "cloud"):
        assert all(t.text.isascii() for t in analyze_query(word).terms), word


def test_concept_terms_only_where_the_thesaurus_says_little() -> None:
    """风机 has its thesaurus synonyms; its concepts.txt terms (变频调速, 高效电机) would make every
    风机 search count every motor in its total. 井水 has none: its concept terms are its alternatives."""
    assert not {"变频调速", "高效电机"} & {t.text for t in analyze_query("风机").terms}
    assert "小型净水设备" in {t.text for t in analyze_query("井水").terms}


async def test_a_word_no_listing_uses_still_finds_the_things_it_names(engine: SearchEngine) -> None:
    magnets = await ids(engine, "磁铁")
    assert 1 in magnets, magnets  # 钕铁硼 (a 钕磁铁 is a 磁铁: the narrower term's synonyms)
    assert magnets[0] == 7  # but the listing holding the typed word comes first


async def test_solar_finds_photovoltaic_listings_below_the_ones_that_say_solar(engine: SearchEngine) -> None:
    found = await ids(engine, "太阳能")
    assert 3 in found, found  # 光伏 only
    assert found[0] == 8  # 太阳能 itself first


def test_a_word_is_as_general_as_its_nearest_narrower_terms(tmp_path: Path) -> None:
    """Seven terms hold 太阳能, but six of them are kinds of 太阳能电池: 太阳能 still reaches 光伏.
    电池 sits in seven unrelated terms: too general to expand that way."""
    kinds = ("钙钛矿", "异质结", "叠层", "柔性", "薄膜", "双面")
    lines = ["太阳能电池 光伏", *(f"{kind}太阳能电池 {kind}电池" for kind in kinds)]
    (tmp_path / "thesaurus.txt").write_text("\n".join(lines), encoding="utf-8")
    index = build_index(load_thesaurus(tmp_path / "thesaurus.txt"))
    assert len(index.containing("太阳能")) == 7 and "太阳能电池" in index.containing("太阳能")
    assert index.containing("电池") == []


def test_an_everyday_word_reaches_no_narrower_terms_synonyms() -> None:
    """处理 sits inside 处理器 and 图形处理器, but a query for 处理 is not about processors."""
    alternatives = {t.text for t in analyze_query("处理").terms}
    assert not {"cpu", "gpu", "显卡"} & alternatives, alternatives
    assert "光伏组件" in {t.text for t in analyze_query("太阳能").terms}  # a specific word still does


async def test_an_expansion_never_outweighs_the_typed_word() -> None:
    from search.rank import Prepared, score

    plan = analyze_query("太阳能")
    typed = Prepared.of({"id": 1, "title": "太阳能热水器", "body": "", "keywords": [], "owner_name": ""})
    expanded = Prepared.of({"id": 2, "title": "光伏组件", "body": "", "keywords": [], "owner_name": ""})
    rare = {t.key: (1 if t.text != "太阳能" else 40) for t in plan.terms}  # the synonym is far rarer
    scores = score(plan, [typed, expanded], rare, 100)
    assert scores[1] > scores[2] > 0
    uncapped = score(plan, [typed, expanded], rare, 100, SearchWeights(cap_alternative_idf=False))
    assert uncapped[2] > scores[2]  # the cap is what holds the rare synonym down


def test_broad_dictionary_terms_are_trusted_less_than_the_thesaurus() -> None:
    weights = {t.text: t.weight for group in analyze_query("柴油").groups for t in group.terms}
    assert weights["柴油"] == 1.0
    assert 0 < weights["汽油"] < weights["内燃机车"] < 1.0  # broad dictionary < narrower thesaurus term


def test_an_abbreviation_unknown_to_the_dictionaries_is_spelled_out() -> None:
    terms = {t.text: t.weight for group in analyze_query("电调").groups for t in group.terms}
    assert terms.get("电网调度") == SearchWeights().abbreviation  # 1st + 3rd character of a thesaurus term
    common = {t.text for group in analyze_query("光电").groups for t in group.terms}
    assert "光伏电池" not in common  # 光电 is a word of its own, not short for 光伏电池


def test_a_word_that_states_a_problem_reaches_its_remedies_even_with_thesaurus_synonyms() -> None:
    """水垢 has names of its own (水碱, 锅垢), yet a search for it wants the listings that prevent or
    remove it (阻垢, 结垢): a problem word keeps its concept lines, an object word (风机) does not."""
    scale = {t.text for group in analyze_query("换热器水垢").groups for t in group.terms}
    assert {"水碱", "阻垢", "结垢"} <= scale, scale


def test_a_query_that_states_a_problem_reaches_the_remedies_a_demand_would() -> None:
    """翻浆 (a road heaving and sinking with the frost) is a problem only problems.txt knows: the
    search finds what prevents it, as matching would for a demand that says it."""
    heave = {t.text for t in analyze_query("翻浆").terms}
    assert {"防冻胀", "换填"} <= heave, heave


def test_a_query_wording_a_concept_phrase_differently_still_reaches_its_terms() -> None:
    """巷子被顶板压扁了 says 巷子压扁了 in other words; 巷子 alone does not."""
    reworded = {t.text for t in analyze_query("巷子被顶板压扁了怎么办").terms}
    assert {"巷道围岩控制", "软岩支护"} <= reworded, reworded
    assert "巷道围岩控制" not in {t.text for t in analyze_query("巷子 照明").terms}


def test_pinyin_typed_a_syllable_at_a_time_reads_as_neighbouring_pairs() -> None:
    """re shi kong yu jing is 热失控预警 read aloud: its pairs (reshi, shikong, yujing) are what a
    listing's characters read as; an English phrase is no pinyin."""
    pinyin = {t.text for t in analyze_query("re shi kong yu jing").terms if t.field == "pinyin"}
    assert {"shikong", "yujing"} <= pinyin, pinyin
    english = {t.text for t in analyze_query("cold weather pump").terms if t.field == "pinyin"}
    assert not {"coldweather", "weatherpump"} & english, english


def test_a_word_in_either_spelling_reaches_the_other_and_its_chinese() -> None:
    """colour and color are one word; CC-CEDICT writes anemia and sulfur, a British reader types
    anaemia and sulphur, and the listings may hold either spelling."""
    for typed, other in (("colour", "color"), ("color", "colour"), ("aluminium", "aluminum")):
        terms = {t.text: t.weight for t in analyze_query(typed).terms}
        assert terms.get(other) == 1.0, terms
    assert "贫血" in {t.text for t in analyze_query("anaemia").terms}
    assert "硫黄" in {t.text for t in analyze_query("sulphur").terms}
