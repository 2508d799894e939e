"""A listing body answers every error at once, each at its field; roles come before states; demand
deadlines lie ahead (China's calendar). Both dialects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col

from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from market.listings.models import Demand
from market.listings.schemas import china_today
from tests.fixtures.app import login
from tests.market.test_listings import ENTERPRISE, INSTITUTE, achievement, create, demand

THREE_ERRORS = {"price": "-1", "trl": 2, "ip_numbers": ["201710601862.4"]}  # pilot wants TRL 5-6


def at_fields(reply: httpx.Response) -> dict[str, str]:
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "validation_error"
    return {error["field"]: error["code"] for error in reply.json()["errors"]}


def chinese(reply: httpx.Response) -> bool:
    return all(any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]) for error in reply.json()["errors"])


async def test_three_errors_in_one_achievement_answer_at_their_fields(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    before = (await client.get("/api/v1/achievements", headers=owner)).json()["total"]
    reply = await client.post("/api/v1/achievements", json=achievement(**THREE_ERRORS), headers=owner)
    assert at_fields(reply) == {
        "body.price": "negative_money",
        "body.trl": "trl_inconsistent",
        "body.maturity": "trl_inconsistent",
        "body.ip_numbers.0": "invalid_patent_number",
    }
    assert chinese(reply)
    assert (await client.get("/api/v1/achievements", headers=owner)).json()["total"] == before  # nothing stored

    # The same body as an edit of a draft: the same answer, and the draft is unchanged.
    item = await create(client, owner)
    url = f"/api/v1/achievements/{item['id']}"
    assert at_fields(await client.patch(url, json=THREE_ERRORS, headers=owner)) == {
        "body.price": "negative_money",
        "body.trl": "trl_inconsistent",
        "body.maturity": "trl_inconsistent",
        "body.ip_numbers.0": "invalid_patent_number",
    }
    assert (await client.get(url, headers=owner)).json()["price"] == item["price"]

    # A cross-field rule still runs when another field failed; a patent number is checked by position.
    numbers = {"ip_numbers": ["201710601862.3", "2017106018624"], "title": " "}
    assert at_fields(await client.patch(url, json=numbers, headers=owner)) == {
        "body.title": "string_too_short",
        "body.ip_numbers.1": "invalid_patent_number",
    }


async def test_three_errors_in_one_demand_answer_at_their_fields(client: httpx.AsyncClient) -> None:
    owner = await login(client, ENTERPRISE)
    yesterday = (china_today() - timedelta(days=1)).isoformat()
    body = demand(budget_max="12.345", deadline=yesterday, field="space_magic")
    reply = await client.post("/api/v1/demands", json=body, headers=owner)
    assert at_fields(reply) == {
        "body.budget_max": "money_precision",
        "body.deadline": "deadline_passed",
        "body.field": "unknown_field",
    }
    assert chinese(reply)

    item = await create(client, owner, "demands")
    patch = {"budget_max": "-5", "deadline": yesterday, "min_maturity": "someday"}
    assert at_fields(await client.patch(f"/api/v1/demands/{item['id']}", json=patch, headers=owner)) == {
        "body.budget_max": "negative_money",
        "body.deadline": "deadline_passed",
        "body.min_maturity": "enum",
    }


async def test_a_demand_deadline_lies_ahead_in_china_time(client: httpx.AsyncClient, database: Database) -> None:
    owner = await login(client, ENTERPRISE)
    today = china_today()
    passed = await client.post(
        "/api/v1/demands", json=demand(deadline=(today - timedelta(days=1)).isoformat()), headers=owner
    )
    assert at_fields(passed) == {"body.deadline": "deadline_passed"}
    assert "已过" in passed.json()["errors"][0]["message"]
    item = await create(client, owner, "demands", deadline=today.isoformat())  # today still counts
    assert item["deadline"] == today.isoformat()

    # A deadline that passed since is no reason to refuse an edit of something else; moving it back is.
    url = f"/api/v1/demands/{item['id']}"
    async with database.unit_of_work() as session:
        await session.execute(
            update(Demand).where(col(Demand.id) == item["id"]).values(deadline=today - timedelta(days=30))
        )
    assert (await client.patch(url, json={"title": "牧场粪污除臭 (补充说明)"}, headers=owner)).status_code == 200
    late = (today - timedelta(days=2)).isoformat()
    assert at_fields(await client.patch(url, json={"deadline": late}, headers=owner)) == {
        "body.deadline": "deadline_passed"
    }
    later = (today + timedelta(days=90)).isoformat()
    assert (await client.patch(url, json={"deadline": later}, headers=owner)).json()["deadline"] == later


async def _post(client: httpx.AsyncClient, url: str, action: str, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] | None = {"reason": "材料不全"} if action == "reject" else None
    return await client.post(f"{url}/{action}", json=body, headers=headers)


async def test_a_role_that_may_never_act_gets_403_whatever_the_state(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    reviewer = await login(client, REGION_ADMIN[0])  # 包头, the institute's region
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    other = await login(client, ENTERPRISE)
    item = await create(client, owner)
    url = f"/api/v1/achievements/{item['id']}"

    async def refused(action: str, headers: dict[str, str], code: str) -> None:
        reply = await _post(client, url, action, headers)
        assert reply.status_code == 403, (action, reply.text)
        assert reply.json()["code"] == code and "allowed" not in reply.json()

    # draft: the owner may never review, reviewers may never submit or withdraw for the owner
    for action in ("approve", "reject"):
        await refused(action, owner, "not_reviewer")
    for action in ("submit", "withdraw"):
        await refused(action, reviewer, "not_listing_owner")
        await refused(action, admin, "not_listing_owner")
    # a role that may act, in the wrong state: 409 naming what the listing allows
    wrong_state = await _post(client, url, "approve", reviewer)
    assert wrong_state.status_code == 409 and wrong_state.json()["allowed"] == ["submit"]

    assert (await _post(client, url, "submit", owner)).status_code == 200
    for action in ("approve", "reject"):
        await refused(action, owner, "not_reviewer")
    await refused("withdraw", reviewer, "not_listing_owner")
    assert (await _post(client, url, "approve", reviewer)).status_code == 200

    # published: another organization sees it and may neither close, withdraw nor review it
    await refused("close", other, "not_listing_owner")
    await refused("withdraw", other, "not_listing_owner")
    await refused("approve", other, "not_reviewer")
    await refused("submit", reviewer, "not_listing_owner")
    assert (await _post(client, url, "close", reviewer)).json()["status"] == "closed"
    await refused("approve", owner, "not_reviewer")
    assert (await _post(client, url, "withdraw", owner)).status_code == 409
