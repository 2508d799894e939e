"""Matching: pure scoring rules, and the endpoints a person uses, on the embedded engine."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import httpx
import numpy as np
from fastapi import FastAPI

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from search.adapters.shared import index_fields
from search.documents import SearchDocument
from search.matching.features import StoredText, matched_terms, profile
from search.matching.ranking import Candidate, rank
from search.matching.scoring import Side, combine, maturity_fit, mode_fit, price_fit
from search.matching.vectors import centroid_cosines, gram_cosines, word_cosines, word_matrix
from search.outbox_relay import reindex
from search.weights import MatchWeights
from tests.fixtures.app import login
from tests.market.test_listings import ENTERPRISE, INSTITUTE, achievement, demand


def test_constraints_lower_the_score_and_say_why() -> None:
    assert maturity_fit("pilot", "industrialized") == (0.5, "成熟度中试, 低于需求的产业化")
    assert maturity_fit("industrialized", "pilot")[0] == 1.0
    assert price_fit(3_000_000_00, 2_000_000_00) == (0.5, "报价 300.0 万元超出预算 200.0 万元")
    assert price_fit(None, 2_000_000_00)[0] == 0.9
    assert mode_fit(("equity",), ("transfer", "license")) == (0.0, "交易方式不一致 (需求接受转让、许可)")
    assert mode_fit(("license", "transfer"), ("transfer",)) == (1.0, "交易方式可行: 转让")

    demand_side = Side("environment", "150600", ("transfer",), "industrialized", 2_000_000_00)
    fits = Side("environment", "150600", ("transfer",), "industrialized", 1_000_000_00)
    misfits = Side("environment", "110000", ("equity",), "lab", 9_000_000_00)
    good = combine(1.0, ["脱盐"], fits, demand_side, {"environment": "环境保护与资源综合利用"})
    poor = combine(1.0, ["脱盐"], misfits, demand_side, {"environment": "环境保护与资源综合利用"})
    assert 0 <= poor.score < good.score <= 1
    assert "同属环境保护与资源综合利用领域" in good.reasons and "同一盟市, 便于对接" in good.reasons
    assert any("超出预算" in r for r in poor.reasons) and any("交易方式不一致" in r for r in poor.reasons)


def test_weights_that_sum_above_one_still_rank_by_every_part() -> None:
    """The evaluation fits weights one at a time (text 0.85 with field 0.20, ...): a score clamped at
    1 would tie the best candidates and leave their order to their ids."""
    demand_side = Side("environment", "150600", ("transfer",), "industrialized", 2_000_000_00)
    fits = Side("environment", "150600", ("transfer",), "industrialized", 1_000_000_00)
    heavy = MatchWeights(text=0.85, field=0.20, fit=0.25)
    best = combine(1.0, [], fits, demand_side, {}, heavy)
    close = combine(0.8, [], fits, demand_side, {}, heavy)
    assert close.score < best.score <= 1
    assert best.score == 1 and math.isclose(close.score, 1 - 0.85 * 0.2 / 1.33, abs_tol=1e-4)


def test_problem_profile_brings_in_synonyms_at_a_discount() -> None:
    plain = profile("屋顶光伏发电效率低", "冬季积雪遮挡, 发电量下降明显")
    expanded = profile("屋顶光伏发电效率低", "冬季积雪遮挡, 发电量下降明显", expand="problem")
    assert set(expanded.expansions) - set(plain.vector)  # new terms arrived
    own = max(v for t, v in expanded.vector.items() if t not in expanded.expansions)
    assert all(expanded.vector[t] < own for t in expanded.expansions)
    assert expanded.key_terms(3) == [t for t in expanded.key_terms(3) if t not in expanded.expansions]


async def _published(client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict) -> dict:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    created = (await client.post(f"/api/v1/{path}", json=body, headers=headers)).json()
    await client.post(f"/api/v1/{path}/{created['id']}/submit", headers=headers)
    return (await client.post(f"/api/v1/{path}/{created['id']}/approve", headers=admin)).json()


async def test_matches_rank_the_solution_first_with_reasons_both_ways(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    institute, enterprise = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    manure = await _published(
        client,
        institute,
        "achievements",
        achievement(
            title="规模化牧场粪污除臭与液体肥利用技术",
            field="environment",
            ip_numbers=[],
            summary="针对奶牛场干湿分离后的液体粪污, 采用微生物除臭与好氧发酵, 臭气浓度降低90%, 出水作液体肥还田。",
            keywords=["粪污处理", "除臭", "液体肥"],
            maturity="industrialized",
            trl=8,
            price="1500000",
        ),
    )
    magnets = await _published(client, institute, "achievements", achievement())  # rare-earth magnets: unrelated
    smell = await _published(client, enterprise, "demands", demand())  # a dairy farm that smells

    reply = await client.get(f"/api/v1/demands/{smell['id']}/matches", params={"limit": 5})
    assert reply.status_code == 200, reply.text  # nothing indexed yet: candidates come from the engine
    await reindex(database, app.state.search, "achievement")
    await reindex(database, app.state.search, "demand")
    page = (await client.get(f"/api/v1/demands/{smell['id']}/matches", params={"limit": 5})).json()
    assert page["items"][0]["listing"]["id"] == manure["id"]
    top = page["items"][0]
    assert 0 < top["score"] <= 1 and any(r.startswith("匹配") for r in top["reasons"])
    assert magnets["id"] not in [i["listing"]["id"] for i in page["items"][:1]]

    back = (await client.get(f"/api/v1/achievements/{manure['id']}/matches")).json()
    assert back["items"][0]["listing"]["id"] == smell["id"]

    # withdrawn a moment ago, still in the index (no relay ran here): the database wins
    await client.post(f"/api/v1/achievements/{manure['id']}/withdraw", headers=institute)
    after = (await client.get(f"/api/v1/demands/{smell['id']}/matches", params={"limit": 5})).json()
    assert manure["id"] not in [i["listing"]["id"] for i in after["items"]]


def test_the_analysis_stored_at_index_time_is_what_matching_would_compute_from_the_listing() -> None:
    doc = SearchDocument(
        id=7,
        kind="achievement",
        title="苦咸水反渗透淡化装置",
        body="针对牧区苦咸水, 采用低压反渗透膜, 脱盐率98%。",
        keywords=["苦咸水", "反渗透"],
        region="150600",
        owner_id=1,
        owner_name="某研究院",
        owner_kind="institute",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    stored = StoredText.of_document(index_fields(doc))
    assert stored == StoredText.of_listing(doc.title, doc.body, doc.keywords)
    assert stored.words.split().count("苦咸水") == 5  # title ×2, body, keywords ×2


def test_the_array_scores_are_the_textbook_cosines() -> None:
    """Word cosine of unit tf-idf vectors, plus the cosine of bigram vectors whose IDF comes from
    the candidate set (a query bigram no candidate has weighs as the rarest one), spelled out
    with dictionaries: the re-ranker's arrays must give the same numbers."""
    query = profile(
        "牧区苦咸水淡化", "饮用水含盐量高, 需要低成本的脱盐设备, 支持 RO 膜与 PLC 控制", ["苦咸水"], expand="problem"
    )
    listings = [
        ("苦咸水反渗透淡化装置", "针对牧区苦咸水, 采用低压反渗透膜, 脱盐率98%。PLC 自动控制", ["苦咸水", "反渗透"]),
        ("太阳能海水淡化", "利用太阳能蒸馏淡化海水和苦咸水, 适合无电牧区", ["淡化"]),
        ("马铃薯种薯脱毒", "茎尖脱毒与快繁, 种薯繁育体系", []),
        ("RO membrane cleaning", "cip cleaning of ro membranes, plc control", ["ro"]),
        ("", "", []),
    ]
    texts = [StoredText.of_listing(*listing) for listing in listings]
    words, shared = word_cosines(query, word_matrix(texts))
    grams = gram_cosines(query, texts)

    profiles = [profile(*listing) for listing in listings]
    frequency = Counter(gram for p in profiles for gram in p.grams)
    idf = {gram: math.log(1 + len(profiles) / (n + 0.5)) for gram, n in frequency.items()}
    rarest = max(idf.values())

    def unit(weights: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        return {k: v / norm for k, v in weights.items()}

    def gram_vector(counts: Counter[str]) -> dict[str, float]:
        return unit({g: (1 + math.log(n)) * idf.get(g, rarest) for g, n in counts.items()})

    query_grams = gram_vector(query.grams)
    for i, p in enumerate(profiles):
        word_cosine = sum(v * p.vector.get(w, 0.0) for w, v in query.vector.items())
        gram_cosine = sum(v * query_grams.get(g, 0.0) for g, v in gram_vector(p.grams).items())
        assert abs(words[i] - word_cosine) < 1e-12 and abs(grams[i] - gram_cosine) < 1e-12
        assert matched_terms(query, shared[i]) == matched_terms(query, p.vector)
    assert words[0] > words[1] > words[2] == 0.0 and grams[0] > grams[2]
    assert "苦咸水" in matched_terms(query, shared[0]) and words[4] == grams[4] == 0.0

    shares = [0.0, 0.5, 1.0, 0.0, 0.0]  # feedback: the texts' likeness to a blend of texts 1 and 2
    blend: Counter[str] = Counter()
    for share, p in zip(shares, profiles, strict=True):
        blend.update({w: share * v for w, v in p.vector.items()})
    likeness = centroid_cosines(word_matrix(texts), np.array(shares))
    for i, p in enumerate(profiles):
        expected = sum(v * p.vector.get(w, 0.0) for w, v in unit(dict(blend)).items())
        assert abs(likeness[i] - expected) < 1e-12
    assert likeness[2] > likeness[1] > likeness[0] > likeness[3] == likeness[4] == 0.0


def test_a_listing_that_reads_like_the_best_answers_rises_without_sharing_the_demands_words() -> None:
    """Pseudo-relevance feedback: a membrane plant's listing says nothing of 苦咸水 or 淡化, yet reads
    like the listings that do; it ranks above an unrelated one that shares as little with the demand."""
    query = profile("牧区苦咸水淡化", "")
    same = Side(None, "150600", (), None, None)
    crops = [
        (f"{crop}高产栽培", f"{crop}品种选育与水肥一体化栽培", [crop])
        for crop in "马铃薯 燕麦 向日葵 甜菜 荞麦 谷子 大豆".split()
    ]
    listings = [
        ("苦咸水反渗透淡化装置", "牧区苦咸水淡化, 低压反渗透膜组件, 脱盐率高", ["苦咸水", "反渗透"]),
        ("苦咸水电渗析淡化", "苦咸水淡化, 电渗析脱盐, 膜组件国产", ["苦咸水", "电渗析"]),
        *crops[:3],
        ("低压反渗透膜组件", "反渗透膜组件, 脱盐率高, 电渗析替代", ["反渗透"]),
        *crops[3:],
    ]
    candidates = [Candidate(i, StoredText.of_listing(*listing), same) for i, listing in enumerate(listings, 1)]

    def order(feedback: float) -> list[int]:
        weights = MatchWeights(feedback=feedback)
        ranked = rank(query, same, candidates, query_is_demand=True, field_names={}, weights=weights)
        return [candidate.id for candidate, _ in ranked]

    assert order(MatchWeights().feedback)[:3] == [1, 2, 6]
    assert order(0.0)[2:4] == [3, 4]  # without feedback the membranes score nothing on text: the id decides
    assert rank(query, same, candidates[:6], query_is_demand=True, field_names={})[2][0].id == 3  # too few to read


async def test_matching_refuses_what_the_caller_may_not_see_or_what_is_unpublished(client: httpx.AsyncClient) -> None:
    institute, enterprise = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    draft = (await client.post("/api/v1/demands", json=demand(), headers=enterprise)).json()
    assert (await client.get(f"/api/v1/demands/{draft['id']}/matches", headers=institute)).status_code == 404
    own = await client.get(f"/api/v1/demands/{draft['id']}/matches", headers=enterprise)
    assert (own.status_code, own.json()["code"]) == (409, "listing_not_published")
    assert (await client.get(f"/api/v1/demands/{draft['id']}/matches", params={"limit": 500})).status_code == 422
    assert (await client.get("/api/v1/demands/999999/matches")).status_code == 404
