"""Suspension stops every write; a pending organization writes only its own drafts.

Every write route (POST/PUT/PATCH/DELETE) is enumerated from ``app.routes`` and called as a suspended
organization's admin (by token and by its API key) and as a pending organization's admin. Each call
must be refused with the guard's stable code, and the database must be exactly as before the call.
A new write route is covered by construction; the routes that must stay open are listed with a reason.
Both profiles (the ``database`` fixture).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from core import security
from core.db import Database, metadata
from market.demo import PLATFORM_ADMIN_EMAIL
from market.identity.models import User
from tests.fixtures.app import TEST_SECRET
from tests.hardening.world import achievement_body, demand_body, unique_uscc

API = "/api/v1"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Write routes without a signed-in caller: the guard has nobody to refuse.
OPEN = {
    "POST /api/v1/auth/token": "login: a suspended organization's members may still sign in and read",
    "POST /api/v1/organizations/register": "self-registration (creates a pending organization)",
    "POST /api/v1/payments/webhook": "the provider, authenticated by its HMAC signature",
    "POST /admin/login": "dashboard login form",
    "POST /admin/logout": "dashboard logout (only clears the cookie)",
}
# Writes a pending organization may make: its own drafts (it may not submit them).
PENDING_MAY = {
    "POST /api/v1/achievements": "create a draft",
    "POST /api/v1/demands": "create a draft",
    "PATCH /api/v1/achievements/{listing_id}": "edit its draft",
    "PATCH /api/v1/demands/{listing_id}": "edit its draft",
}

BODIES: dict[str, Any] = {
    "POST /api/v1/api-keys": {"name": "暂停后的密钥"},
    "POST /api/v1/organizations/{organization_id}/users": {
        "email": "late@hardening.techmarket.cn",
        "full_name": "新成员",
        "password": "Hardening-2026-pass",
    },
    "PUT /api/v1/organizations/{organization_id}/webhook": {"url": "https://hooks.example.cn/techmarket"},
    "POST /api/v1/subscriptions": {"query": "稀土", "target_kind": "demand"},
    "POST /api/v1/contracts/{contract_id}/transitions": {"to": "terminated", "reason": "单位暂停"},
    "POST /api/v1/achievements": achievement_body(title="暂停或待审单位的新成果"),
    "POST /api/v1/demands": demand_body(title="暂停或待审单位的新需求"),
    "PATCH /api/v1/achievements/{listing_id}": {"title": "暂停或待审单位改过的标题"},
    "PATCH /api/v1/demands/{listing_id}": {"title": "暂停或待审单位改过的标题"},
}


def write_routes(app: FastAPI) -> list[str]:
    keys = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method in WRITE_METHODS:
                keys.add(f"{method} {route.path}")
    return sorted(keys)


async def snapshot(database: Database) -> dict[str, list[str]]:
    """Every row of every table, as text: any write shows up as a difference."""
    async with database.unit_of_work() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in (await session.execute(select(table))).all())
            for table in metadata.sorted_tables
        }


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [f"{name}: {len(before[name])} -> {len(after[name])} rows" for name in before if before[name] != after[name]]


class Actor:
    def __init__(self, name: str, headers: dict[str, str], ids: dict[str, int], code: str) -> None:
        self.name, self.headers, self.ids, self.code = name, headers, ids, code


def token_for(user: User) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {security.create_access_token(str(user.id), TEST_SECRET, 30, role=user.role.value)}"
    }


async def user(database: Database, email: str) -> User:
    async with database.unit_of_work() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one()


async def call(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], expect: int, **kwargs: Any
) -> dict[str, Any]:
    reply = await client.request(method, url, headers=headers, **kwargs)
    assert reply.status_code == expect, f"{method} {url}: {reply.status_code} {reply.text[:400]}"
    return reply.json() if reply.content else {}


async def build_actors(client: httpx.AsyncClient, database: Database) -> list[Actor]:
    """A verified organization with a key, drafts, a subscription and a contract, then suspended; and a pending one."""
    admin = token_for(await user(database, PLATFORM_ADMIN_EMAIL))
    org = await call(
        client,
        "POST",
        f"{API}/organizations",
        admin,
        201,
        json={"kind": "enterprise", "name": "将被暂停的企业", "uscc": unique_uscc(91), "region": "150200"},
    )
    await call(
        client,
        "POST",
        f"{API}/organizations/{org['id']}/users",
        admin,
        201,
        json={
            "email": "suspended@hardening.techmarket.cn",
            "full_name": "暂停单位管理员",
            "password": "Hardening-2026-pass",
            "role": "org_admin",
        },
    )
    suspended = token_for(await user(database, "suspended@hardening.techmarket.cn"))
    key = await call(client, "POST", f"{API}/api-keys", suspended, 201, json={"name": "脚本"})
    partner = (await user(database, "enterprise@demo.techmarket.cn")).organization_id
    contract = await call(
        client,
        "POST",
        f"{API}/contracts",
        suspended,
        201,
        json={
            "title": "暂停单位的技术服务合同",
            "type": "service",
            "subtype": "technical_service",
            "field": "new_materials",
            "seller_org_id": org["id"],
            "buyer_org_id": partner,
            "total": "50000.00",
            "technology_income": "50000.00",
            "milestones": [{"title": "全款", "amount": "50000.00"}],
        },
    )
    ids = {
        "organization_id": org["id"],
        "key_id": key["id"],
        "contract_id": contract["id"],
        "milestone_id": contract["milestones"][0]["id"],
        "subscription_id": (
            await call(
                client, "POST", f"{API}/subscriptions", suspended, 201, json={"query": "稀土", "target_kind": "demand"}
            )
        )["id"],
        "achievements": (
            await call(
                client, "POST", f"{API}/achievements", suspended, 201, json=achievement_body(title="暂停单位的成果")
            )
        )["id"],
        "demands": (
            await call(client, "POST", f"{API}/demands", suspended, 201, json=demand_body(title="暂停单位的需求"))
        )["id"],
    }
    await call(client, "POST", f"{API}/organizations/{org['id']}/suspend", admin, 200)

    registration = await call(
        client,
        "POST",
        f"{API}/organizations/register",
        {},
        201,
        json={
            "organization": {
                "kind": "enterprise",
                "name": "待审核的注册企业",
                "uscc": unique_uscc(92),
                "region": "150200",
            },
            "admin": {
                "email": "pending-admin@hardening.techmarket.cn",
                "full_name": "注册人",
                "password": "Hardening-2026-pass",
            },
        },
    )
    pending = token_for(await user(database, "pending-admin@hardening.techmarket.cn"))
    pending_ids = {
        "organization_id": registration["organization"]["id"],
        "achievements": (
            await call(
                client, "POST", f"{API}/achievements", pending, 201, json=achievement_body(title="待审单位的成果")
            )
        )["id"],
        "demands": (
            await call(client, "POST", f"{API}/demands", pending, 201, json=demand_body(title="待审单位的需求"))
        )["id"],
    }
    return [
        Actor("suspended admin", suspended, ids, "organization_suspended"),
        Actor("suspended API key", {"X-API-Key": key["key"]}, ids, "organization_suspended"),
        Actor("pending admin", pending, pending_ids, "organization_not_verified"),
    ]


def url_for(route: str, ids: dict[str, int]) -> str:
    path = route.split(" ", 1)[1]
    kind = "achievements" if "/achievements" in path else "demands"

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "listing_id":
            return str(ids[kind])
        if name == "kind":
            return "achievements"
        if name == "fmt":
            return "svg"
        return str(ids.get(name, 1))

    return re.sub(r"\{(\w+)\}", value, path)


async def test_every_write_route_refuses_suspended_and_pending_organizations(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actors = await build_actors(client, database)
    routes = write_routes(app)
    assert set(OPEN) <= set(routes) and set(PENDING_MAY) <= set(routes), "stale entries in OPEN or PENDING_MAY"
    failures: list[str] = []
    for route in routes:
        if route in OPEN:
            continue
        method = route.split(" ", 1)[0]
        allowed = [a for a in actors if a.code == "organization_not_verified" and route in PENDING_MAY]
        before = await snapshot(database)
        for actor in (a for a in actors if a not in allowed):
            reply = await client.request(
                method, url_for(route, actor.ids), headers=actor.headers, json=BODIES.get(route, {})
            )
            if not (reply.status_code == 403 and reply.json().get("code") == actor.code):
                failures.append(
                    f"NOT REFUSED with {actor.code} — {route} as {actor.name}: {reply.status_code} {reply.text[:200]}"
                )
        if changed := changes(before, after := await snapshot(database)):
            failures.append(f"CHANGED {changed} — {route}")
        for actor in allowed:  # also shows that the snapshot sees a write
            reply = await client.request(
                method, url_for(route, actor.ids), headers=actor.headers, json=BODIES.get(route, {})
            )
            if not (200 <= reply.status_code < 300 and changes(after, await snapshot(database))):
                failures.append(
                    f"a pending organization may {PENDING_MAY[route]} — {route}: {reply.status_code} {reply.text[:200]}"
                )
    assert not failures, "\n  ".join(["writes by suspended or pending organizations:", *failures])


async def test_reads_stay_open_and_the_guard_is_documented(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    actors = await build_actors(client, database)
    for actor in actors:
        assert (await client.get(f"{API}/users/me", headers=actor.headers)).status_code == 200
        assert (
            await client.get(f"{API}/achievements/{actor.ids['achievements']}", headers=actor.headers)
        ).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    for route in write_routes(app):
        if route in OPEN:
            continue
        method, path = route.split(" ", 1)
        described = schema["paths"][path][method.lower()]["responses"].get("403", {}).get("description", "")
        assert "`organization_suspended`" in described, f"{route} does not document organization_suspended"
        if route not in PENDING_MAY:
            assert "`organization_not_verified`" in described, f"{route} does not document organization_not_verified"
