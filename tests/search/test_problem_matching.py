"""A demand that states a problem is matched to what solves it, not to what shares its context
words; and the reasons name only words a reader can check. Synthetic corpus, written for this test."""

from __future__ import annotations

import re

from search.matching.features import StoredText, content_words, matched_terms, problem_words, profile
from search.matching.ranking import Candidate, rank
from search.matching.scoring import Side
from search.weights import MatchWeights

SIDE = Side("new_materials", "150200", ("transfer",), "industrialized", None)
ACHIEVEMENTS = {
    1: (
        "直驱风力发电机永磁磁钢组件",
        "风电机组永磁转子磁钢组件装配工艺, 发电机效率高, 使用寿命长。",
        ["风电", "磁钢", "电机"],
    ),
    2: (
        "低镝高矫顽力钕铁硼磁体",
        "晶界扩散降低重稀土用量, 矫顽力提高30%, 150℃下不可逆磁通损失小于3%。",
        ["钕铁硼", "矫顽力", "晶界扩散"],
    ),
    3: ("耐350℃钐钴永磁体", "钐钴磁体温度系数低, 350℃长期工作性能稳定, 用于高温电机。", ["钐钴", "永磁体"]),
    4: ("露天矿卡智能调度系统", "矿卡运输路径优化与调度, 降低油耗超过8%, 完成装车统计。", ["矿卡", "调度"]),
    5: ("永磁同步电机驱动控制器", "电机驱动控制器, 使用方便, 完成调试快。", ["电机", "驱动"]),
}
DEMAND = (
    "矿卡驱动电机磁钢高温退磁",
    "我矿电动轮矿卡的驱动电机使用两年后, 磁钢在高温下发生不可逆退磁, 功率降低超过10%, 需要尽快完成改造。",
    ["矿卡", "电机"],
)
JUNK = {"使用", "完成", "降低", "超过", "需要", "c", "mpa"}


def ranked() -> list[tuple[int, list[str]]]:
    candidates = [Candidate(i, StoredText.of_listing(t, b, k), SIDE) for i, (t, b, k) in ACHIEVEMENTS.items()]
    query = profile(*DEMAND, expand="problem")
    order = rank(query, SIDE, candidates, query_is_demand=True, field_names={})
    return [(c.id, m.reasons) for c, m in order]


def test_the_problem_statement_outweighs_its_context_words() -> None:
    order = [i for i, _ in ranked()]
    assert set(order[:2]) == {2, 3}, order  # what solves 退磁, not the magnets of a wind generator or 矿卡 tools
    strict = ranked_with(MatchWeights(unaddressed=0.7))  # context-only listings discounted
    assert set(strict[:2]) == {2, 3}, strict
    flat = ranked_with(MatchWeights(solution=0.0, problem_focus=1.0))
    assert flat[0] not in {2, 3}, flat  # without the problem resource the context words win


def ranked_with(weights: MatchWeights) -> list[int]:
    candidates = [Candidate(i, StoredText.of_listing(t, b, k), SIDE) for i, (t, b, k) in ACHIEVEMENTS.items()]
    query = profile(*DEMAND, expand="problem", weights=weights)
    return [c.id for c, _ in rank(query, SIDE, candidates, query_is_demand=True, field_names={}, weights=weights)]


def test_a_quantity_is_never_named_as_a_matched_term() -> None:
    """千头 (a thousand head) is how big a farm is, not what it needs: shared, it explains nothing."""
    query = profile("千头牧场卧床垫料", "存栏千头以上的牧场, 卧床垫料每年外购。", expand="problem")
    listing = profile("牧场卧床垫料再生技术", "已在三座千头牧场运行, 牛粪就地再生为卧床垫料。")
    terms = matched_terms(query, listing.vector)
    assert "垫料" in terms and "卧床" in terms, terms
    assert "千头" not in terms, terms


def test_a_maturity_stage_or_transaction_mode_is_never_named_as_a_matched_term() -> None:
    """A demand wanting 中试 by 许可 and a listing that passed 中试 and is offered by 许可 share a stage
    and a mode, not a subject; the maturity and mode reasons already say how the two compare."""
    query = profile(
        "电动客车冬季续航衰减", "冬季续航衰减一半, 要求至少完成中试, 可接受许可或合作开发。", expand="problem"
    )
    listing = profile("动力电池低温自加热技术", "已完成中试, 冬季续航提升30%, 可许可也可合作开发。")
    terms = matched_terms(query, listing.vector)
    assert "续航" in terms, terms
    assert not {"中试", "许可", "合作开发"} & set(terms), terms


def test_the_words_that_state_the_problem_are_found() -> None:
    cues, objects = problem_words("矿卡驱动电机磁钢高温退磁")
    assert cues == {"退磁"} and objects == {"磁钢", "高温"}
    assert problem_words("年产十万吨的生产线") == (set(), set())


def test_reasons_name_words_and_chains_never_letters_units_figures_or_filler() -> None:
    for _, reasons in ranked():
        matched = next((r for r in reasons if r.startswith("匹配: ")), "")
        terms = matched.removeprefix("匹配: ").split("、") if matched else []
        for term in terms:
            words = re.split(r"→|\(", term.rstrip(")"))
            assert not any(w in JUNK or re.fullmatch(r"[a-z]|[0-9.%]+", w) for w in words), reasons
    chains = [r for _, reasons in ranked() for r in reasons if "→" in r]
    assert any("退磁→" in r and "(对策)" in r for r in chains), chains  # the chain that linked them


def test_place_names_are_not_content_words() -> None:
    words = content_words("位于包头市昆都仑区, 与鄂尔多斯、新巴尔虎左旗合作, 研制库伦效率高的锂电池, 服务内蒙古")
    assert not {"包头", "包头市", "昆都仑区", "鄂尔多斯", "新巴尔虎左旗", "内蒙古"} & set(words), words
    assert {"锂电池", "库伦"} <= set(words)  # a 旗's bare stem can be a word of its own (库伦效率)


def test_amounts_in_words_are_not_content_words_but_names_with_numerals_are() -> None:
    """几百公斤 and 数十万吨 say how much, not what: matched or sent to the engine they only find other
    listings that mention a tonnage; 三元 (ternary cathodes), 三七 (a herb) and 二次 are names."""
    words = content_words("罐车每次只运几百公斤, 年产数十万吨, 存栏千头的牧场, 一车装满, 两年回本, 每吨省电")
    assert not {"一车", "几百公斤", "数十万吨", "千头", "两年", "每吨"} & set(words), words
    names = content_words("三元正极 三七总皂苷 二次电池 三维建模 万向节 八角")
    assert {"三元", "三七", "二次", "三维"} <= set(names), names


def test_measures_and_letters_are_not_content_words() -> None:
    words = content_words("耐350°c钐钴, 35mpa储氢, 10kv开关柜, x射线, co2捕集")
    assert not {"c", "350", "35mpa", "mpa", "10kv", "kv", "x"} & set(words), words
    assert {"储氢", "开关柜", "co2"} <= set(words)


def test_a_remedy_many_listings_sell_for_other_subjects_does_not_outrank_the_subject() -> None:
    """堆存 (piling up) is answered by 资源化 in general, but a buyer of spent denitration catalyst wants
    the listings about that catalyst, not every other waste's 资源化; a rare remedy keeps its weight
    without the subject (the magnet test above: 矫顽力 answers 退磁 with no word of the motor)."""
    assert set(catalyst_order(WASTES)[:2]) == {7, 8}


def test_look_alike_listings_of_other_subjects_do_not_pull_their_kind_up_through_feedback() -> None:
    """Feedback reads the best five candidates; three of them are look-alike listings of other wastes,
    and each speaks with a quarter of its voice, naming nothing of the buyer's catalyst."""
    crops = ("马铃薯", "燕麦", "向日葵", "甜菜")
    unrelated = {
        20 + i: (f"{crop}高产栽培", f"{crop}品种选育与水肥一体化栽培。", [crop]) for i, crop in enumerate(crops)
    }
    assert set(catalyst_order(WASTES | unrelated)[:2]) == {7, 8}
    assert set(catalyst_order(WASTES | unrelated, MatchWeights(feedback_off_subject=1.0))[:2]) != {7, 8}


_OTHER_WASTES = ("煤矸石", "电石渣", "粉煤灰", "炉渣", "脱硫石膏", "污泥")
WASTES = {
    **{
        i: (f"燃煤电厂{waste}资源化", f"燃煤电厂{waste}综合利用与资源化, 替代危废处置, 省去堆存和处置费用。", [waste])
        for i, waste in enumerate(_OTHER_WASTES, start=1)
    },
    7: ("蜂窝式SCR催化剂再生技术", "失活催化剂经清洗和活性组分再负载后恢复活性。", ["催化剂", "再生"]),
    8: ("废催化剂中钒钨钛回收", "从废催化剂中回收五氧化二钒和钛白粉, 实现资源化。", ["废催化剂", "钒"]),
}


def catalyst_order(listings: dict[int, tuple[str, str, list[str]]], weights: MatchWeights | None = None) -> list[int]:
    demand = (
        "废催化剂越堆越多",
        "燃煤电厂每年更换下来的脱硝废催化剂约300吨, 属危废, 只能堆存在厂内, 处置费用高。",
        ["废催化剂"],
    )
    side = Side("environment", "150200", ("transfer",), "industrialized", None)
    candidates = [Candidate(i, StoredText.of_listing(t, b, k), side) for i, (t, b, k) in listings.items()]
    query = profile(*demand, expand="problem")
    return [c.id for c, _ in rank(query, side, candidates, query_is_demand=True, field_names={}, weights=weights)]


def test_a_one_character_trigger_fires_only_as_a_word_of_its_own() -> None:
    """马 inside 马铃薯, 药 inside 撒药, 盐 inside 盐碱地 are not horses, medicines or salt: a
    potato grower is not offered horse breeding."""
    potato = profile("盐碱地马铃薯种薯繁育", "草场边上种马铃薯, 撒药防病, 根据土壤调整施肥。", expand="problem")
    assert not {"马产业", "原料药", "盐化工", "甘草"} & set(potato.expansions), potato.expansions
    horses = profile("改良牧场的马", "牧场里的马体格小, 想引进良种。", expand="problem")
    assert "马产业" in horses.expansions, horses.expansions


def test_a_remedy_comes_only_from_a_cue_of_its_own_domain() -> None:
    """超标 alone says only that a figure is over a limit: milk over its somatic-cell limit is not
    offered flue-gas remedies, an emission over its limit is."""
    milk = profile("牛奶体细胞超标", "交的奶体细胞数经常超标被扣钱, 查不出是哪头牛的问题。", expand="problem")
    assert not {"超低排放", "达标排放", "提标改造"} & set(milk.expansions), milk.expansions
    flue = profile("锅炉氮氧化物超标", "低负荷时氮氧化物超标被罚款。", expand="problem")
    assert {"超低排放", "达标排放"} <= set(flue.expansions), flue.expansions


def test_a_phrase_worded_differently_within_one_clause_still_states_the_problem() -> None:
    """巷子压扁了 written as 巷子被顶板压扁了一截 is the same complaint; the same words in two
    clauses (a dark alley, crushed boxes) are not."""
    roadway = profile("运输巷道维护", "井下运输巷子被顶板压扁了一截, 矿车过不去。", expand="problem")
    assert {"巷道围岩控制", "软岩支护"} <= set(roadway.expansions), roadway.expansions
    alley = profile("运输巷子照明", "巷子里太暗, 堆放的纸箱都压扁了。", expand="problem")
    assert "巷道围岩控制" not in alley.expansions, alley.expansions


def test_a_cue_inside_a_longer_cue_does_not_speak_for_itself() -> None:
    """疲劳驾驶 is a tired driver: the remedies of metal fatigue (疲劳) are not offered."""
    driver = profile("矿卡司机疲劳驾驶", "夜班矿卡司机疲劳驾驶, 容易出事故。", expand="problem")
    assert "疲劳监测" in driver.expansions, driver.expansions
    assert not {"喷丸强化", "抗疲劳"} & set(driver.expansions), driver.expansions
    shaft = profile("传动轴疲劳断裂", "传动轴用半年就疲劳断了。", expand="problem")
    assert "喷丸强化" in shaft.expansions, shaft.expansions


def test_a_reworded_phrase_needs_its_one_character_words_too() -> None:
    """路上全是坑 reworded is still about potholes; 路上全是黑灰 is dust, not a road to repave."""
    potholes = profile("村道维修", "村里的路上到处全是坑, 下雨没法走。", expand="problem")
    assert "路面养护" in potholes.expansions, potholes.expansions
    dust = profile("运煤道路扬尘", "拉煤车一过路上全是黑灰, 沿途村民投诉。", expand="problem")
    assert "路面养护" not in dust.expansions, dust.expansions
