"""Review scope follows the owner organization's region, never the region the owner writes on its listing.

An organization of 呼和浩特 (150100) that sets ``region: 150200`` on its listing does not get 包头's
admin as its reviewer: not for the review queue, approve/reject, drafts, internals or the audit trail.
Both profiles (the ``database`` fixture).
"""

from __future__ import annotations

from typing import Any

import httpx

from market.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login
from tests.hardening.world import BODIES

HOHHOT_ORG = "enterprise@demo.techmarket.cn"  # 演示乳业科技有限公司, 呼和浩特 150100
BAOTOU_ORG = "institute@demo.techmarket.cn"  # 演示稀土研究院, 包头 150200
HOHHOT_ADMIN = "hohhot-admin@hardening.techmarket.cn"


async def submitted(client: httpx.AsyncClient, owner: dict[str, str], kind: str, region: str, n: int) -> dict[str, Any]:
    body = BODIES[kind](title=f"{BODIES[kind]()['title']} 审核范围 {n}", region=region)
    row = (await client.post(f"/api/v1/{kind}", json=body, headers=owner)).json()
    reply = await client.post(f"/api/v1/{kind}/{row['id']}/submit", headers=owner)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def hohhot_admin(client: httpx.AsyncClient) -> dict[str, str]:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    body = {"email": HOHHOT_ADMIN, "full_name": "呼和浩特市管理员", "password": DEMO_PASSWORD, "region_scope": "150100"}
    assert (await client.post("/api/v1/admin/region-admins", json=body, headers=admin)).status_code == 201
    return await login(client, HOHHOT_ADMIN)


async def test_listing_region_is_not_a_key_to_another_reviewer(client: httpx.AsyncClient) -> None:
    owner = await login(client, HOHHOT_ORG)
    baotou = await login(client, REGION_ADMIN[0])
    for n, kind in enumerate(BODIES):
        item = await submitted(client, owner, kind, "150200", n)
        url = f"/api/v1/{kind}/{item['id']}"
        for action, extra in (("approve", {}), ("reject", {"json": {"reason": "不在本盟市"}})):
            reply = await client.post(f"{url}/{action}", headers=baotou, **extra)
            assert reply.status_code in (403, 404), (
                f"包头 admin could {action} a 呼和浩特 {kind}: {reply.status_code} {reply.text}"
            )
        assert (await client.get(url, headers=baotou)).status_code == 404  # not published: hidden from a non-reviewer
        assert (await client.get(f"{url}/audit", headers=baotou)).status_code in (403, 404)
        queue = (
            await client.get(f"/api/v1/{kind}", params={"status": "submitted", "limit": 100}, headers=baotou)
        ).json()
        assert item["id"] not in {i["id"] for i in queue["items"]}, "包头's review queue lists a 呼和浩特 listing"
        assert (await client.get(url, headers=owner)).json()["status"] == "submitted"  # nothing changed


async def test_the_owners_region_admin_reviews_wherever_the_technology_is(client: httpx.AsyncClient) -> None:
    hohhot = await hohhot_admin(client)
    baotou = await login(client, REGION_ADMIN[0])
    hohhot_item = await submitted(client, await login(client, HOHHOT_ORG), "achievements", "150200", 10)
    baotou_item = await submitted(client, await login(client, BAOTOU_ORG), "demands", "150100", 11)

    queue = (
        await client.get("/api/v1/achievements", params={"status": "submitted", "limit": 100}, headers=hohhot)
    ).json()
    assert hohhot_item["id"] in {i["id"] for i in queue["items"]}
    assert (await client.get(f"/api/v1/achievements/{hohhot_item['id']}/audit", headers=hohhot)).status_code == 200
    approved = await client.post(f"/api/v1/achievements/{hohhot_item['id']}/approve", headers=hohhot)
    assert (approved.status_code, approved.json()["status"]) == (200, "published")

    # 包头's own institute writes 呼和浩特 as the technology's place: 包头 still reviews it, 呼和浩特 does not.
    refused = await client.post(f"/api/v1/demands/{baotou_item['id']}/approve", headers=hohhot)
    assert refused.status_code in (403, 404)
    approved = await client.post(f"/api/v1/demands/{baotou_item['id']}/approve", headers=baotou)
    assert (approved.status_code, approved.json()["status"]) == (200, "published")


async def test_pending_revision_internals_follow_the_owner(client: httpx.AsyncClient) -> None:
    owner = await login(client, HOHHOT_ORG)
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    baotou = await login(client, REGION_ADMIN[0])
    item = await submitted(client, owner, "achievements", "150200", 12)
    url = f"/api/v1/achievements/{item['id']}"
    assert (await client.post(f"{url}/approve", headers=admin)).status_code == 200
    assert (await client.patch(url, json={"title": "待审修改: 呼和浩特的成果"}, headers=owner)).status_code == 200
    seen = (await client.get(url, headers=baotou)).json()
    assert seen.get("pending_revision") is None, "包头's admin sees the internals of a 呼和浩特 listing"
    assert (await client.post(f"{url}/approve", headers=baotou)).status_code in (403, 404)
    assert (await client.get(url)).json()["title"] == item["title"]
