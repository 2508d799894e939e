"""The shared Chinese text processing both engines rely on."""

from __future__ import annotations

from search.text import (
    analyze_document,
    analyze_query,
    edit_distance,
    normalize,
    normalize_mapped,
    spaced,
    thesaurus,
)


def test_normalize_folds_width_case_and_traditional() -> None:
    assert normalize("ＧＰＵ算力  調度 Ⅳ型") == "gpu算力 调度 iv型"
    text, origin = normalize_mapped("醫院ＬＥＤ")
    assert text == "医院led" and origin == [0, 1, 2, 3, 4]


def test_spaced_makes_each_cjk_character_a_token() -> None:
    assert spaced("iv型储氢瓶, pm2.5") == "iv 型 储 氢 瓶 pm2 5"


def test_thesaurus_groups_and_typo_correction() -> None:
    thes = thesaurus()
    assert len(thes.groups) >= 100
    assert "磁性材料" in thes.synonyms("磁材")
    assert "马铃薯" in thes.synonyms("土豆")
    assert thes.correct("hydrogn") == "hydrogen"
    assert thes.correct("hydrogen") is None  # already a known word
    assert edit_distance("magnesum", "magnesium") == 1
    assert edit_distance("recieve", "receive") == 1  # a transposition is one typo


def test_query_analysis_expands_concepts() -> None:
    plan = analyze_query("馬鈴薯淀粉的废水")
    labels = [group.label for group in plan.groups]
    assert labels == ["马铃薯淀粉", "废水"]  # a thesaurus term stays one concept; 的 is dropped
    texts = {term.text for term in plan.terms}
    assert {"土豆淀粉", "马铃薯", "淀粉", "污水"} <= texts  # synonyms and the long word's parts
    pinyin = analyze_query("xitu")
    assert any(term.field == "pinyin" and term.text == "xitu" for term in pinyin.terms)
    assert analyze_query("？！。").empty


def test_document_pinyin_fields() -> None:
    fields = analyze_document("稀土永磁材料", "用于沙柳平茬", ["磁材"], "包头稀土研究院")
    assert {"xitu", "xtyc"} <= set(fields["py_title"].split())
    assert "shaliu" in fields["py_body"].split()
    assert fields["t_owner"] == "包 头 稀 土 研 究 院"


def test_only_what_the_user_typed_may_carry_typos() -> None:
    terms = {(t.text, t.field): t for t in analyze_query("magnesum合金 电池").terms}
    assert terms[("magnesum", "text")].typo_budget == 1  # typed: magnesium is one typo away
    assert terms[("magnesium", "text")].typo_budget == 0  # its correction, spelled right
    assert terms[("batteries", "text")].typo_budget == 0  # a synonym from the thesaurus
