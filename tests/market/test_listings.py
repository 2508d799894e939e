"""Listings through the API: fields checked, workflow enforced, every step audited, both dialects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login

INSTITUTE = "institute@demo.techmarket.cn"  # 演示稀土研究院, 包头 150200
ENTERPRISE = "enterprise@demo.techmarket.cn"  # 演示乳业科技有限公司, 呼和浩特 150100
PENDING = "pending@demo.techmarket.cn"


def achievement(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "高矫顽力钕铁硼永磁材料晶界扩散技术",
        "summary": "采用重稀土晶界扩散工艺, 在减少镝用量60%的同时使矫顽力提高8 kOe, 适用于新能源汽车驱动电机磁钢。",
        "field": "new_materials",
        "keywords": ["钕铁硼", "晶界扩散", "永磁"],
        "maturity": "pilot",
        "trl": 6,
        "ip_type": "invention_patent",
        "ip_numbers": ["201710601862.3"],
        "transaction_modes": ["license", "transfer"],
        "price": "1200000.50",
        "inventors": [{"name": "王磊", "share": 3}, {"name": "赵敏"}],
        "advantages": ["镝用量减少60%"],
        "contact": {"name": "刘老师", "phone": "0472-5123456", "email": "tt@example.cn"},
    }
    body.update(overrides)
    return body


def demand(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "奶牛场粪污处理后还是臭, 周边村民有意见",
        "description": (
            "牧场存栏3000头, 现有的干湿分离后液体进氧化塘, 夏天气味大, 想找一套投资不超过200万、运行费低的办法。"
        ),
        "field": "environment",
        "keywords": ["粪污", "除臭"],
        "budget_max": 2000000,
        "deadline": "2027-06-30",
        "transaction_modes": ["transfer", "joint_development"],
        "min_maturity": "pilot",
    }
    body.update(overrides)
    return body


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], path: str = "achievements", **overrides: Any
) -> dict[str, Any]:
    body = achievement(**overrides) if path == "achievements" else demand(**overrides)
    reply = await client.post(f"/api/v1/{path}", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def test_achievement_round_trip_keeps_money_exact_and_defaults_region_to_owner(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    created = await create(client, owner)
    assert created["status"] == "draft"
    assert created["price"] == "1200000.50"
    assert created["region"] == "150200"
    assert created["owner_name"] == "演示稀土研究院"
    assert created["inventors"][1] == {"name": "赵敏", "share": "1"}
    fetched = await client.get(f"/api/v1/achievements/{created['id']}", headers=owner)
    assert fetched.json()["price"] == "1200000.50"


async def test_demand_round_trip(client: httpx.AsyncClient) -> None:
    owner = await login(client, ENTERPRISE)
    created = await create(client, owner, "demands", budget_max=None)
    assert created["budget_max"] is None and created["deadline"] == "2027-06-30"
    assert created["min_maturity"] == "pilot"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"field": "space_magic"}, "body.field", "unknown_field"),
        ({"region": "159999"}, "body.region", "unknown_region"),
        ({"trl": 2}, "body.trl", "trl_inconsistent"),
        ({"ip_numbers": ["201710601862.4"]}, "body.ip_numbers.0", "invalid_patent_number"),
        ({"price": "-1"}, "body.price", "negative_money"),
        ({"price": "99999999999"}, "body.price", "price_absurd"),
        ({"price": "12.345"}, "body.price", "money_precision"),
        ({"title": " "}, "body.title", "string_too_short"),
        ({"summary": "长" * 5001}, "body.summary", "string_too_long"),
        ({"transaction_modes": []}, "body.transaction_modes", "too_short"),
        ({"advantages": ["性能优越"]}, "body.advantages.0", "advantage_not_quantified"),
        ({"bogus": 1}, "body.bogus", "extra_forbidden"),
    ],
)
async def test_bad_achievement_is_rejected_field_by_field_and_nothing_stored(
    client: httpx.AsyncClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    owner = await login(client, INSTITUTE)
    reply = await client.post("/api/v1/achievements", json=achievement(**overrides), headers=owner)
    assert reply.status_code == 422, reply.text
    errors = reply.json()["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code)
    mine = await client.get("/api/v1/achievements", params={"status": "draft"}, headers=owner)
    assert mine.json()["total"] == 0


async def test_html_is_stored_as_text(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    created = await create(client, owner, title="<script>alert(1)</script>稀土")
    assert created["title"] == "<script>alert(1)</script>稀土"
    reply = await client.get(f"/api/v1/achievements/{created['id']}", headers=owner)
    assert reply.headers["content-type"] == "application/json"


async def test_review_workflow_publish_reject_withdraw_close_with_audit(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    reviewer = await login(client, REGION_ADMIN[0])  # 包头 region admin; listing is in 包头
    item = await create(client, owner)
    url = f"/api/v1/achievements/{item['id']}"

    # Drafts are invisible to the public and to other organizations.
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=await login(client, ENTERPRISE))).status_code == 404

    # Cannot approve a draft: 409 naming what is allowed.
    reply = await client.post(f"{url}/approve", headers=reviewer)
    assert reply.status_code == 409
    assert reply.json()["code"] == "invalid_transition" and reply.json()["allowed"] == ["submit"]

    assert (await client.post(f"{url}/submit", headers=owner)).json()["status"] == "submitted"
    assert (await client.patch(url, json={"title": "改标题"}, headers=owner)).status_code == 409
    reply = await client.post(f"{url}/reject", json={"reason": "请补充量化指标"}, headers=reviewer)
    assert reply.json()["status"] == "rejected" and reply.json()["review_reason"] == "请补充量化指标"
    assert (await client.patch(url, json={"advantages": ["矫顽力提高8 kOe"]}, headers=owner)).status_code == 200
    await client.post(f"{url}/submit", headers=owner)
    published = await client.post(f"{url}/approve", headers=reviewer)
    assert published.json()["status"] == "published" and published.json()["published_at"]
    public = await client.get(url)
    assert public.status_code == 200 and "review_reason" not in public.json()  # the owner's and reviewers' only

    assert (await client.post(f"{url}/withdraw", headers=owner)).json()["status"] == "withdrawn"
    assert (await client.get(url)).status_code == 404
    await client.post(f"{url}/submit", headers=owner)
    await client.post(f"{url}/approve", headers=reviewer)
    assert (await client.post(f"{url}/close", headers=owner)).json()["status"] == "closed"
    assert (await client.post(f"{url}/withdraw", headers=owner)).status_code == 409

    trail = await client.get(f"{url}/audit", headers=reviewer)
    actions = [(e["action"], e["from_status"], e["to_status"]) for e in trail.json()["items"]]
    assert actions == [
        ("create", None, "draft"),
        ("submit", "draft", "submitted"),
        ("reject", "submitted", "rejected"),
        ("edit", "rejected", "rejected"),
        ("submit", "rejected", "submitted"),
        ("approve", "submitted", "published"),
        ("withdraw", "published", "withdrawn"),
        ("submit", "withdrawn", "submitted"),
        ("approve", "submitted", "published"),
        ("close", "published", "closed"),
    ]
    assert trail.json()["items"][2]["reason"] == "请补充量化指标"
    assert (await client.get(f"{url}/audit", headers=owner)).status_code == 403


async def test_edit_of_published_listing_waits_for_review_without_hiding_it(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    item = await create(client, owner)
    url = f"/api/v1/achievements/{item['id']}"
    await client.post(f"{url}/submit", headers=owner)
    await client.post(f"{url}/approve", headers=admin)

    edited = await client.patch(url, json={"price": "900000", "title": "晶界扩散钕铁硼 (降价)"}, headers=owner)
    assert edited.status_code == 200
    assert edited.json()["pending_revision"]["price"] == "900000.00"
    public = (await client.get(url)).json()
    assert public["title"] == item["title"] and public["price"] == "1200000.50"
    assert "pending_revision" not in public and "inventors" not in public and "contact" not in public

    bad = await client.patch(url, json={"trl": 9}, headers=owner)  # pilot with TRL 9: inconsistent
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "trl_inconsistent"

    approved = await client.post(f"{url}/approve", headers=admin)
    assert approved.json()["status"] == "published"
    public = (await client.get(url)).json()
    assert public["title"] == "晶界扩散钕铁硼 (降价)" and public["price"] == "900000.00"


async def test_reviewers_are_scoped_and_pending_organizations_cannot_submit(client: httpx.AsyncClient) -> None:
    enterprise = await login(client, ENTERPRISE)  # 呼和浩特: 包头 admin is not its reviewer
    item = await create(client, enterprise, "demands")
    await client.post(f"/api/v1/demands/{item['id']}/submit", headers=enterprise)
    reply = await client.post(f"/api/v1/demands/{item['id']}/approve", headers=await login(client, REGION_ADMIN[0]))
    assert reply.status_code in (403, 404)

    pending = await login(client, PENDING)
    draft = await create(client, pending, "demands")
    reply = await client.post(f"/api/v1/demands/{draft['id']}/submit", headers=pending)
    assert (reply.status_code, reply.json()["code"]) == (403, "organization_not_verified")

    other = await login(client, INSTITUTE)
    reply = await client.patch(f"/api/v1/demands/{item['id']}", json={"title": "被别人改了"}, headers=other)
    assert reply.status_code in (403, 404)


async def test_list_filters_and_visibility(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    published = await create(client, owner)
    await client.post(f"/api/v1/achievements/{published['id']}/submit", headers=owner)
    await client.post(f"/api/v1/achievements/{published['id']}/approve", headers=admin)
    await create(
        client, owner, field="agriculture", title="燕麦抗旱品种", ip_type="plant_variety", ip_numbers=["CNA20191234.5"]
    )

    public = (await client.get("/api/v1/achievements")).json()
    assert [i["id"] for i in public["items"]] == [published["id"]] and public["total"] == 1
    mine = (await client.get("/api/v1/achievements", headers=owner)).json()
    assert mine["total"] == 2
    drafts = (await client.get("/api/v1/achievements", params={"status": "draft"}, headers=owner)).json()
    assert [i["field"] for i in drafts["items"]] == ["agriculture"]
    assert (await client.get("/api/v1/achievements", params={"status": "draft"})).json()["total"] == 0
    by_field = (await client.get("/api/v1/achievements", params={"field": "new_materials"}, headers=admin)).json()
    assert by_field["total"] == 1
    by_region = (await client.get("/api/v1/achievements", params={"region": "150000"}, headers=admin)).json()
    assert by_region["total"] == 2
    assert (await client.get("/api/v1/achievements", params={"region": "110000"}, headers=admin)).json()["total"] == 0


async def test_price_up_to_ten_billion_yuan_is_exact(client: httpx.AsyncClient) -> None:
    """Fen beyond 32 bits (21,474,836.47 元) must survive PostgreSQL too."""
    owner = await login(client, INSTITUTE)
    created = await create(client, owner, price="9999999999.99")
    assert (await client.get(f"/api/v1/achievements/{created['id']}", headers=owner)).json()["price"] == "9999999999.99"
