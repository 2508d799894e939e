"""Matching: pure scoring rules, and the endpoints a person uses, on the embedded engine."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from search.indexing import reindex
from search.documents import SearchDocument
from search.engine import index_fields
from search.matching.features import profile, stored_profile
from search.matching.scoring import Side, combine, maturity_fit, mode_fit, price_fit
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
    manure = await _published(client, institute, "achievements", achievement(
        title="规模化牧场粪污除臭与液体肥利用技术", field="environment", ip_numbers=[],
        summary="针对奶牛场干湿分离后的液体粪污, 采用微生物除臭与好氧发酵, 臭气浓度降低90%, 出水作液体肥还田。",
        keywords=["粪污处理", "除臭", "液体肥"], maturity="industrialized", trl=8, price="1500000",
    ))
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


def test_the_analysis_stored_at_index_time_gives_the_profile_matching_would_compute() -> None:
    doc = SearchDocument(
        id=7, kind="achievement", title="苦咸水反渗透淡化装置", body="针对牧区苦咸水, 采用低压反渗透膜, 脱盐率98%。",
        keywords=["苦咸水", "反渗透"], region="150600", owner_id=1, owner_name="某研究院", owner_kind="institute",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    stored = stored_profile(index_fields(doc))
    fresh = profile(doc.title, doc.body, doc.keywords)
    assert stored.grams == fresh.grams and stored.own_words == fresh.own_words
    assert stored.vector.keys() == fresh.vector.keys()
    assert all(abs(stored.vector[t] - fresh.vector[t]) < 1e-12 for t in fresh.vector)
    assert "苦咸水" in stored.vector


async def test_matching_refuses_what_the_caller_may_not_see_or_what_is_unpublished(client: httpx.AsyncClient) -> None:
    institute, enterprise = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    draft = (await client.post("/api/v1/demands", json=demand(), headers=enterprise)).json()
    assert (await client.get(f"/api/v1/demands/{draft['id']}/matches", headers=institute)).status_code == 404
    own = await client.get(f"/api/v1/demands/{draft['id']}/matches", headers=enterprise)
    assert (own.status_code, own.json()["code"]) == (409, "listing_not_published")
    assert (await client.get(f"/api/v1/demands/{draft['id']}/matches", params={"limit": 500})).status_code == 422
    assert (await client.get("/api/v1/demands/999999/matches")).status_code == 404

