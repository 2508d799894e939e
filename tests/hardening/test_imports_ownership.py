"""Imports attach rows only to organizations the importer may act for, and only to verified ones.

A 盟市 admin importing with ``publish=true&create_organizations=true`` must not publish in the name of
another 盟市's organization or of a pending one, must not mint verified organizations, and a bad
统一社会信用代码 is a row error, never silently dropped. Both profiles (the ``database`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from market.identity.models import Organization, OrganizationStatus
from market.listings.models import Achievement
from tests.fixtures.app import login
from tests.hardening.world import unique_uscc

URL = "/api/v1/imports/achievements"
TEMPLATE = json.loads(
    (Path(__file__).parents[2] / "market" / "demo_data" / "achievements.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()[0]
)
PUBLISH = {"publish": "true", "create_organizations": "true"}


def row(n: int, **owner: Any) -> dict[str, Any]:
    body = {k: v for k, v in TEMPLATE.items() if k not in ("owner", "owner_uscc", "owner_kind")}
    return {**body, "external_id": f"OWN-{n}", "title": f"{TEMPLATE['title']} {n}", "region": "150200", **owner}


def upload(*rows: dict[str, Any]) -> dict[str, Any]:
    content = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    return {"file": ("rows.jsonl", content, "application/json")}


async def landed(database: Database, external_id: str) -> Achievement | None:
    async with database.unit_of_work() as session:
        return (
            (await session.execute(select(Achievement).where(col(Achievement.external_id) == external_id)))
            .scalars()
            .first()
        )


async def organization(database: Database, name: str) -> Organization | None:
    async with database.unit_of_work() as session:
        return (await session.execute(select(Organization).where(col(Organization.name) == name))).scalars().first()


async def errors_by_line(reply: httpx.Response) -> dict[int, tuple[str, str]]:
    assert reply.status_code == 200, reply.text
    return {e["line"]: (e["field"], e["code"]) for e in reply.json()["errors"]}


async def register_pending(client: httpx.AsyncClient, n: int, region: str = "150200") -> str:
    name = f"导入测试待审核企业{n}"
    body = {
        "organization": {"kind": "enterprise", "name": name, "uscc": unique_uscc(n, region), "region": region},
        "admin": {"email": f"imp{n}@hardening.techmarket.cn", "full_name": "注册人", "password": "Hardening-2026-pass"},
    }
    assert (await client.post("/api/v1/organizations/register", json=body)).status_code == 201
    return name


async def test_region_admin_cannot_publish_for_another_region_or_a_pending_organization(
    client: httpx.AsyncClient, database: Database
) -> None:
    baotou = await login(client, REGION_ADMIN[0])
    pending = await register_pending(client, 71)
    rows = [
        row(1, owner="演示大学 (内蒙古)"),  # verified, 呼和浩特: another 盟市, though the listing says 150200
        row(2, owner=pending),  # 包头, but pending
        row(3, owner="演示稀土研究院"),  # verified, 包头: the one row that may land
    ]
    reply = await client.post(URL, files=upload(*rows), data=PUBLISH, headers=baotou)
    assert await errors_by_line(reply) == {1: ("owner", "outside_scope"), 2: ("owner", "owner_not_verified")}
    assert reply.json()["created"] == 1
    assert await landed(database, "OWN-1") is None and await landed(database, "OWN-2") is None
    assert (await landed(database, "OWN-3")).status == "published"  # type: ignore[union-attr]


async def test_created_organizations_are_pending_and_their_rows_wait(
    client: httpx.AsyncClient, database: Database
) -> None:
    baotou = await login(client, REGION_ADMIN[0])
    reply = await client.post(
        URL, files=upload(row(4, owner="导入新建的包头企业", owner_kind="enterprise")), data=PUBLISH, headers=baotou
    )
    assert await errors_by_line(reply) == {1: ("owner", "owner_not_verified")}
    assert reply.json()["organizations_created"] == 1 and reply.json()["created"] == 0
    created = await organization(database, "导入新建的包头企业")
    assert created is not None and created.status == OrganizationStatus.pending and created.verified_at is None
    assert created.region == "150200"
    assert await landed(database, "OWN-4") is None

    # Only a platform admin may ask for verified organizations; a region admin asking is refused whole.
    asked = await client.post(
        URL,
        files=upload(row(5, owner="另一家新建企业", owner_kind="enterprise")),
        data={**PUBLISH, "verify_organizations": "true"},
        headers=baotou,
    )
    assert (asked.status_code, asked.json()["code"]) == (403, "platform_admin_required")
    assert await organization(database, "另一家新建企业") is None

    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    verified = await client.post(
        URL,
        files=upload(row(6, owner="平台认证的新企业", owner_kind="enterprise")),
        data={**PUBLISH, "verify_organizations": "true"},
        headers=admin,
    )
    assert await errors_by_line(verified) == {} and verified.json()["created"] == 1
    assert (await organization(database, "平台认证的新企业")).status == OrganizationStatus.verified  # type: ignore[union-attr]


async def test_other_region_cannot_be_created_into(client: httpx.AsyncClient, database: Database) -> None:
    baotou = await login(client, REGION_ADMIN[0])
    reply = await client.post(
        URL,
        files=upload(row(7, owner="鄂尔多斯新企业", owner_kind="enterprise", region="150600")),
        data=PUBLISH,
        headers=baotou,
    )
    assert await errors_by_line(reply) == {1: ("owner", "outside_scope")}
    assert await organization(database, "鄂尔多斯新企业") is None


async def test_bad_credit_code_is_a_row_error_never_dropped(client: httpx.AsyncClient, database: Database) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    bad = unique_uscc(72)[:-1] + ("0" if unique_uscc(72)[-1] != "0" else "1")  # wrong check character
    reply = await client.post(
        URL,
        files=upload(row(8, owner="信用代码写错的企业", owner_uscc=bad, owner_kind="enterprise")),
        data={**PUBLISH, "verify_organizations": "true"},
        headers=admin,
    )
    assert await errors_by_line(reply) == {1: ("owner_uscc", "invalid_uscc")}
    assert await organization(database, "信用代码写错的企业") is None
    assert await landed(database, "OWN-8") is None


async def test_platform_admin_cannot_attach_rows_to_a_suspended_organization(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    body = {"kind": "enterprise", "name": "被暂停的导入企业", "uscc": unique_uscc(73), "region": "150200"}
    org_id = (await client.post("/api/v1/organizations", json=body, headers=admin)).json()["id"]
    assert (await client.post(f"/api/v1/organizations/{org_id}/suspend", headers=admin)).status_code == 200
    reply = await client.post(URL, files=upload(row(9, owner="被暂停的导入企业")), data=PUBLISH, headers=admin)
    assert await errors_by_line(reply) == {1: ("owner", "owner_suspended")}
    assert await landed(database, "OWN-9") is None


async def test_malformed_multipart_body_is_a_documented_problem(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    for content_type, body in (
        ("multipart/form-data", b"no boundary at all"),
        ("multipart/form-data; boundary=xyz", b"garbage that never names its boundary"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken header line\r\n\r\nx\r\n--xyz--\r\n"),
    ):
        reply = await client.post(URL, content=body, headers={**admin, "Content-Type": content_type})
        assert reply.status_code == 422, (content_type, reply.status_code, reply.text)
        problem = reply.json()
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "malformed_multipart" and problem["errors"][0]["field"] == "body"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["title"])
    documented = (await client.get("/openapi.json")).json()["paths"]["/api/v1/imports/{kind}"]["post"]["responses"]
    assert "`malformed_multipart`" in documented["422"]["description"]
