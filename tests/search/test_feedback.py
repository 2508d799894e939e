"""Search's pseudo-relevance feedback (search/feedback.py), on every engine: related listings after
a query's few matches, and matches re-read by their likeness to the best ones."""

from __future__ import annotations

from dataclasses import replace

from search.pipeline import SearchEngine
from search.query import SearchQuery
from search.weights import SEARCH, using
from tests.search.test_conformance import doc, engine_kind, fresh_engine  # noqa: F401

PHOSPHOR = doc(
    11,
    "植物补光灯用远红光荧光粉",
    "铕掺杂荧光粉发射730纳米远红光, 用于温室植物补光灯, 促进开花。",
    keywords=["远红光", "荧光粉"],
)
FILM = doc(  # names neither 植物 nor 补光
    12,
    "转光农膜",
    "农膜中添加远红光荧光粉, 把紫外光转换为作物生长所需的远红光, 大棚番茄增产一成。",
    keywords=["农膜"],
    region="150900",
)
ELSEWHERE = doc(13, "草原蝗虫绿僵菌防控技术", "生物农药防治草原蝗虫, 对牲畜安全。")


async def test_a_query_few_listings_match_is_followed_by_listings_like_its_best(fresh_engine: SearchEngine) -> None:
    """植物补光 holds one listing. A light-converting film that names neither word, but the far-red
    phosphor the match is made of, follows it: flagged, scored below it, counted, highlighted where
    it shares those words, and within the filters like every match."""
    await fresh_engine.upsert("achievement", [PHOSPHOR, FILM, ELSEWHERE])
    result = await fresh_engine.search("achievement", SearchQuery(text="植物补光"))
    assert [(hit.id, hit.related) for hit in result.hits] == [(11, False), (12, True)]
    assert result.total == 2
    assert result.hits[1].score < result.hits[0].score
    assert "红光</em>" in result.hits[1].highlights["body"]  # the words that found it
    assert [
        hit.id for hit in (await fresh_engine.search("achievement", SearchQuery(text="植物补光", offset=1))).hits
    ] == [12]

    exact = await fresh_engine.search("achievement", SearchQuery(text="植物补光", related=False))
    assert ([hit.id for hit in exact.hits], exact.total) == ([11], 1)
    within = await fresh_engine.search("achievement", SearchQuery(text="植物补光", regions=["150200"]))
    assert [hit.id for hit in within.hits] == [11]


async def test_matches_through_a_word_part_alone_bring_no_related_listings(fresh_engine: SearchEngine) -> None:
    """植物补光 in a market without a 补光 listing: a greenhouse listing holds 植物, a part of the
    query, and nothing of what was asked. Its own neighbours (more greenhouse disease control) would
    stray further still: the page holds the partial match alone."""
    disease = doc(14, "温室植物白粉病生物防治", "温室黄瓜白粉病的枯草芽孢杆菌生物防治, 减少化学农药。")
    neighbour = doc(15, "温室黄瓜霜霉病绿色防控", "温室黄瓜霜霉病的生物防治与减药技术。")
    await fresh_engine.upsert("achievement", [disease, neighbour])
    result = await fresh_engine.search("achievement", SearchQuery(text="植物补光"))
    assert [(hit.id, hit.related) for hit in result.hits] == [(14, False)]
    assert result.total == 1


async def test_a_match_that_reads_like_the_best_ones_rises_above_one_sharing_more_words_of_the_query(
    fresh_engine: SearchEngine,
) -> None:
    """风电叶片回收: five listings hold it all. Of two that hold a part of it, the one that reads like
    them (blades pyrolysed into glass fibre and resin, 回收 only) comes before the one about icing on
    风电叶片, which holds more of the query's words and less of its subject."""
    answers = [
        doc(20 + i, f"风电叶片回收{topic}", f"退役风电叶片回收: {topic}, 玻璃纤维与环氧树脂分离, 热解回收率高。")
        for i, topic in enumerate(("热解工艺", "破碎制板", "溶剂分解", "水泥窑协同", "纤维再生"))
    ]
    like = doc(30, "退役玻璃钢热解再生纤维", "退役风机桨叶热解回收玻璃纤维, 环氧树脂分离后裂解为燃料油, 回收率高。")
    icing = doc(31, "风电叶片覆冰监测", "风电叶片表面覆冰的声学监测与除冰预警。")
    others = [
        doc(40 + i, f"风电机组{part}监测", f"风电机组{part}振动监测与故障预警。")
        for i, part in enumerate(("轴承", "齿轮箱", "塔筒"))
    ]
    await fresh_engine.upsert("achievement", [*answers, like, icing, *others])

    async def order() -> list[int]:
        return [hit.id for hit in (await fresh_engine.search("achievement", SearchQuery(text="风电叶片回收"))).hits]

    ranked = await order()
    assert set(ranked[:5]) == {answer.id for answer in answers}
    assert ranked[5:7] == [30, 31]
    with using(search=replace(SEARCH, feedback=0.0)):  # what the feedback changed
        assert (await order())[5:7] == [31, 30]
