"""Identity through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from core.settings import Settings
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN, demo_uscc
from tests.fixtures.app import login


def registration(
    name: str = "鄂尔多斯测试化工有限公司", uscc: str | None = None, email: str = "boss@example.cn"
) -> dict:
    return {
        "organization": {
            "kind": "enterprise",
            "name": name,
            "uscc": uscc or demo_uscc(40, "150600"),
            "region": "150600",
        },
        "admin": {"email": email, "full_name": "张三", "password": "Grassland2026"},
    }


async def test_self_registered_organization_is_pending_until_platform_admin_verifies(client: httpx.AsyncClient) -> None:
    reply = await client.post("/api/v1/organizations/register", json=registration())
    assert reply.status_code == 201, reply.text
    organization = reply.json()["organization"]
    assert organization["status"] == "pending"
    assert reply.json()["admin"]["role"] == "org_admin"
    assert "password" not in reply.text and "password_hash" not in reply.text

    # The public directory does not list it; its own admin sees it.
    public = await client.get("/api/v1/organizations")
    assert organization["id"] not in [o["id"] for o in public.json()["items"]]
    assert (await client.get(f"/api/v1/organizations/{organization['id']}")).status_code == 404
    own = await login(client, "boss@example.cn", "Grassland2026")
    assert (await client.get(f"/api/v1/organizations/{organization['id']}", headers=own)).json()["status"] == "pending"

    # Its own admin cannot verify it (a pending organization writes only its drafts); a platform admin can.
    denied = await client.post(f"/api/v1/organizations/{organization['id']}/verify", headers=own)
    assert denied.status_code == 403
    assert denied.json()["code"] == "organization_not_verified"
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    verified = await client.post(f"/api/v1/organizations/{organization['id']}/verify", headers=admin)
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    again = await client.post(f"/api/v1/organizations/{organization['id']}/verify", headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_status_change"


async def test_region_admin_sees_pending_organizations_of_own_region_only(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/organizations/register", json=registration())  # 150600 鄂尔多斯
    baotou = registration("包头测试机械有限公司", demo_uscc(41, "150200"), "bt@example.cn")
    baotou["organization"]["region"] = "150200"
    await client.post("/api/v1/organizations/register", json=baotou)
    headers = await login(client, REGION_ADMIN[0])
    pending = await client.get("/api/v1/organizations", params={"status": "pending"}, headers=headers)
    names = [o["name"] for o in pending.json()["items"]]
    assert names == ["包头测试机械有限公司"]
    assert pending.json()["total"] == 1


@pytest.mark.parametrize(
    ("mutate", "field", "code"),
    [
        (lambda body: body["organization"].update(uscc="91150600MA0N00000X"), "body.organization.uscc", "invalid_uscc"),
        (lambda body: body["organization"].update(region="159900"), "body.organization.region", "unknown_region"),
        (lambda body: body["organization"].update(kind="club"), "body.organization.kind", "enum"),
        (lambda body: body["admin"].update(password="short1"), "body.admin.password", "weak_password"),
        (lambda body: body["admin"].update(password="onlyletterspassword"), "body.admin.password", "weak_password"),
        (lambda body: body["admin"].update(email="not-an-email"), "body.admin.email", "invalid_email"),
    ],
)
async def test_bad_registration_is_rejected_field_by_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    mutate,
    field: str,
    code: str,
) -> None:
    body = registration()
    mutate(body)
    reply = await client.post("/api/v1/organizations/register", json=body)
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["code"] == "validation_error"
    assert {"field": field, "code": code} == {k: problem["errors"][0][k] for k in ("field", "code")}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["errors"][0]["message"]), "message should be Chinese"
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    listed = await client.get("/api/v1/organizations", params={"status": "pending"}, headers=admin)
    assert "鄂尔多斯测试化工有限公司" not in [o["name"] for o in listed.json()["items"]]


async def test_duplicate_organization_or_email_is_a_conflict_and_nothing_is_half_written(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/api/v1/organizations/register", json=registration())).status_code == 201
    same_uscc = registration("另一个名字有限公司", email="other@example.cn")
    reply = await client.post("/api/v1/organizations/register", json=same_uscc)
    assert reply.status_code == 409
    assert reply.json()["code"] == "duplicate_organization"
    # New organization but an email that exists: the organization must not be left behind.
    taken_email = registration("全新测试有限公司", demo_uscc(42, "150600"), email="boss@example.cn")
    reply = await client.post("/api/v1/organizations/register", json=taken_email)
    assert reply.status_code == 409
    assert reply.json()["code"] == "duplicate_email"
    retry = registration("全新测试有限公司", demo_uscc(42, "150600"), email="fresh@example.cn")
    assert (await client.post("/api/v1/organizations/register", json=retry)).status_code == 201


async def test_login_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/api/v1/auth/token", data={"username": PLATFORM_ADMIN_EMAIL, "password": "nope-nope-1"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "ghost@example.cn", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["title"] == "邮箱或密码错误"


async def test_jwt_grants_access_and_forged_or_expired_tokens_do_not(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await login(client, PLATFORM_ADMIN_EMAIL)
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200 and me.json()["role"] == "platform_admin"

    claims = jwt.decode(headers["Authorization"].split()[1], settings.secret_key, algorithms=["HS256"])
    forged = jwt.encode(claims, "some-other-secret-of-sufficient-length!!", algorithm="HS256")
    reply = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert (reply.status_code, reply.json()["code"]) == (401, "token_invalid")

    past = datetime.now(UTC) - timedelta(hours=2)
    expired = jwt.encode(
        {**claims, "iat": past, "exp": past + timedelta(minutes=5)}, settings.secret_key, algorithm="HS256"
    )
    reply = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert (reply.status_code, reply.json()["code"]) == (401, "token_expired")
    assert reply.headers["www-authenticate"] == "Bearer"

    anonymous = await client.get("/api/v1/users/me")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "authentication_required")


async def test_api_key_is_shown_once_works_and_stops_working_when_revoked(client: httpx.AsyncClient) -> None:
    headers = await login(client, "institute@demo.techmarket.cn")
    created = await client.post("/api/v1/api-keys", json={"name": "ERP 同步"}, headers=headers)
    assert created.status_code == 201
    key = created.json()["key"]
    listed = await client.get("/api/v1/api-keys", headers=headers)
    assert key not in listed.text and listed.json()["total"] == 1

    as_machine = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
    assert as_machine.status_code == 200
    assert as_machine.json()["email"] == "institute@demo.techmarket.cn"

    bad = await client.get("/api/v1/users/me", headers={"X-API-Key": key[:-2] + "xx"})
    assert (bad.status_code, bad.json()["code"]) == (401, "api_key_invalid")

    other = await login(client, "enterprise@demo.techmarket.cn")
    stolen_revoke = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=other)
    assert stolen_revoke.status_code == 404
    revoked = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    reply = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
    assert (reply.status_code, reply.json()["code"]) == (401, "api_key_revoked")


async def test_member_cannot_act_for_another_organization(client: httpx.AsyncClient) -> None:
    orgs = (await client.get("/api/v1/organizations", params={"limit": 100})).json()["items"]
    institute = next(o for o in orgs if o["name"] == "演示稀土研究院")
    enterprise_admin = await login(client, "enterprise@demo.techmarket.cn")
    member = {"email": "spy@example.cn", "full_name": "李四", "password": "Grassland2026"}
    reply = await client.post(f"/api/v1/organizations/{institute['id']}/users", json=member, headers=enterprise_admin)
    assert (reply.status_code, reply.json()["code"]) == (403, "other_organization")

    institute_admin = await login(client, "institute@demo.techmarket.cn")
    reply = await client.post(f"/api/v1/organizations/{institute['id']}/users", json=member, headers=institute_admin)
    assert reply.status_code == 201 and reply.json()["role"] == "member"
    plain_member = await login(client, "spy@example.cn", "Grassland2026")
    escalate = {**member, "email": "spy2@example.cn", "role": "org_admin"}
    reply = await client.post(f"/api/v1/organizations/{institute['id']}/users", json=escalate, headers=plain_member)
    assert (reply.status_code, reply.json()["code"]) == (403, "organization_admin_required")


async def test_platform_admin_creates_region_admin_for_a_prefecture_only(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    body = {
        "email": "hlbe@example.cn",
        "full_name": "呼伦贝尔管理员",
        "password": "Grassland2026",
        "region_scope": "150700",
    }
    reply = await client.post("/api/v1/admin/region-admins", json=body, headers=admin)
    assert reply.status_code == 201 and reply.json()["region_scope"] == "150700"
    province = {**body, "email": "nmg@example.cn", "region_scope": "150000"}
    reply = await client.post("/api/v1/admin/region-admins", json=province, headers=admin)
    assert reply.status_code == 422 and reply.json()["errors"][0]["code"] == "not_a_prefecture"
    member = await login(client, "univ@demo.techmarket.cn")
    reply = await client.post("/api/v1/admin/region-admins", json={**body, "email": "x@example.cn"}, headers=member)
    assert reply.status_code == 403


async def test_a_party_abroad_registers_with_99_and_its_iso_country_code(client: httpx.AsyncClient) -> None:
    body = registration("Mongolia Test LLC", demo_uscc(43, "150100"), "mn@example.cn")
    body["organization"]["region"] = "990496"  # 蒙古国 (ISO 3166-1 496): counted as 境外 in statistics
    reply = await client.post("/api/v1/organizations/register", json=body)
    assert reply.status_code == 201 and reply.json()["organization"]["region"] == "990496"
    body = registration("Nowhere Ltd", demo_uscc(44, "150100"), "no@example.cn")
    body["organization"]["region"] = "99049"
    assert (await client.post("/api/v1/organizations/register", json=body)).json()["errors"][0][
        "code"
    ] == "unknown_region"
