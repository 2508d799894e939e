"""Inventors are invited from the contract and then see their own rewards (SQLite and PostgreSQL).

The demo contract (演示稀土研究院 sells to 演示乳业科技) has two paid milestones: 王教授 (weight 5 of 10)
holds 98,000.00 + 245,000.00 of the 70% share. Nobody sees those lines as their own until the
seller invites the entry and a signed-in user accepts the code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlmodel import col

from contracts.contract.models import Contract
from contracts.demo import DEMO_CONTRACT_TITLE
from contracts.reward.models import DistributionLine, InventorLink
from core.db import Database
from tests.contracts.conftest import PaymentWorld, org_id, published_achievement, wait_for
from tests.contracts.helpers import (
    ENERGY,
    ENTERPRISE,
    INSTITUTE,
    headers_of,
    registered_contract,
    transfer_contract,
)
from tests.fixtures.app import login

PASSWORD = "Inventor-2026-pass"


async def _demo_contract(database: Database) -> int:
    async with database.unit_of_work() as session:
        query = select(col(Contract.id)).where(col(Contract.title) == DEMO_CONTRACT_TITLE)
        return int((await session.execute(query)).scalar_one())


async def _member(client: httpx.AsyncClient, seller: dict[str, str], organization: int, email: str) -> dict[str, str]:
    body = {"email": email, "full_name": "王教授", "password": PASSWORD}
    reply = await client.post(f"/api/v1/organizations/{organization}/users", json=body, headers=seller)
    assert reply.status_code == 201, reply.text
    return await login(client, email, PASSWORD)


async def _mine(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    reply = await client.get("/api/v1/rewards/mine", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def _invite(client: httpx.AsyncClient, headers: dict[str, str], cid: int, position: int, **to: str) -> Any:
    return await client.post(f"/api/v1/contracts/{cid}/inventors/{position}/invitation", json=to, headers=headers)


async def _accept(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> httpx.Response:
    return await client.post("/api/v1/rewards/invitations/accept", json={"code": code}, headers=headers)


async def test_an_invited_inventor_sees_their_own_lines_and_a_new_invitation_replaces_the_old(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, institute = await _demo_contract(database), await org_id(database, INSTITUTE)
    seller = await login(client, INSTITUTE)
    wang = await _member(client, seller, institute, "wang.prof@inventors.example.cn")
    li = await _member(client, seller, institute, "li.dr@inventors.example.cn")
    assert (await _mine(client, wang))["total"] == 0, "no account is linked to any entry yet"

    entries = (await client.get(f"/api/v1/contracts/{cid}/inventors", headers=seller)).json()
    assert [(e["position"], e["name"], e["user_id"], e["invitation"]) for e in entries["items"]] == [
        (1, "王教授", None, None),
        (2, "李博士", None, None),
        (3, "赵工", None, None),
    ]

    invited = await _invite(client, seller, cid, 1, email="Wang.Prof@Inventors.example.cn")
    assert invited.status_code == 201, invited.text
    first = invited.json()
    assert (first["name"], first["channel"], first["address"]) == ("王教授", "email", "wang.prof@inventors.example.cn")
    expires = datetime.fromisoformat(first["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    async with database.unit_of_work() as session:
        row = (await session.execute(select(InventorLink).where(col(InventorLink.contract_id) == cid))).scalar_one()
        stored = " ".join(str(v) for v in row.model_dump().values())
    assert first["code"] not in stored and first["code"].replace("-", "") not in stored, "only a digest is kept"

    # Typed from the message: lower case, no hyphens. The lines written before the link are now the inventor's.
    accepted = await _accept(client, wang, first["code"].replace("-", "").lower())
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["contract_id"], accepted.json()["position"], accepted.json()["name"]) == (cid, 1, "王教授")
    mine = await _mine(client, wang)
    assert (mine["total"], mine["sum"]) == (2, "343000.00")
    assert sorted(i["amount"] for i in mine["items"]) == ["245000.00", "98000.00"]
    assert {i["name"] for i in mine["items"]} == {"王教授"}
    assert (await _accept(client, wang, first["code"])).status_code == 200  # again: nothing changes
    taken = await _accept(client, li, first["code"])
    assert (taken.status_code, taken.json()["code"]) == (409, "invitation_already_accepted")
    assert (await _mine(client, li))["total"] == 0

    # Re-invited (by phone): the old code is dead; 王教授 keeps the entry until the new code is accepted.
    again = await _invite(client, seller, cid, 1, phone="+86 138 0047 1234")
    assert again.status_code == 201 and again.json()["address"] == "13800471234", again.text
    dead = await _accept(client, li, first["code"])
    assert (dead.status_code, dead.json()["code"]) == (404, "invitation_not_found")
    assert (await _mine(client, wang))["total"] == 2
    assert (await _accept(client, li, again.json()["code"])).status_code == 200
    assert (await _mine(client, wang))["total"] == 0, "one account per entry: the new one replaced the old"
    assert (await _mine(client, li))["sum"] == "343000.00"

    # One entry per account within a contract.
    second = (await _invite(client, seller, cid, 2, email="li.dr@inventors.example.cn")).json()
    twice = await _accept(client, li, second["code"])
    assert (twice.status_code, twice.json()["code"]) == (409, "inventor_already_linked")
    assert (await _accept(client, wang, second["code"])).status_code == 200
    assert (await _mine(client, wang))["sum"] == "205800.00"  # 李博士, weight 3: 58,800.00 + 147,000.00

    # What each side sees of the entries: the buyer who is linked, the seller also whom it invited.
    seen = (await client.get(f"/api/v1/contracts/{cid}/inventors", headers=seller)).json()["items"]
    assert [e["invitation"]["status"] if e["invitation"] else None for e in seen] == ["accepted", "accepted", None]
    buyer = (await client.get(f"/api/v1/contracts/{cid}/inventors", headers=await login(client, ENTERPRISE))).json()
    assert [e["user_id"] is not None for e in buyer["items"]] == [True, True, False]
    assert all("invitation" not in e and "linked_at" not in e for e in buyer["items"]), buyer
    audit = (await client.get(f"/api/v1/contracts/{cid}/audit", headers=seller, params={"limit": 100})).json()
    actions = [a["action"] for a in audit["items"]]
    assert actions.count("inventor_invited") == 3 and actions.count("inventor_linked") == 3


async def test_who_may_invite_and_accept_and_expired_codes(client: httpx.AsyncClient, database: Database) -> None:
    cid, institute = await _demo_contract(database), await org_id(database, INSTITUTE)
    seller = await login(client, INSTITUTE)
    zhao = await _member(client, seller, institute, "zhao.eng@inventors.example.cn")

    buyer = await _invite(client, await login(client, ENTERPRISE), cid, 3, email="zhao.eng@inventors.example.cn")
    assert (buyer.status_code, buyer.json()["code"]) == (403, "invitation_seller_only")
    region = await _invite(client, await login(client, "baotou-admin@demo.techmarket.cn"), cid, 3, phone="13800471234")
    assert (region.status_code, region.json()["code"]) == (403, "invitation_seller_only")
    stranger = await _invite(client, await login(client, ENERGY), cid, 3, phone="13800471234")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "contract_not_found")
    missing = await _invite(client, seller, cid, 4, phone="13800471234")
    assert (missing.status_code, missing.json()["code"]) == (404, "inventor_not_found")
    for body in ({}, {"email": "zhao@x.cn", "phone": "13800471234"}, {"phone": "12345"}, {"email": "zhao"}):
        refused = await client.post(f"/api/v1/contracts/{cid}/inventors/3/invitation", json=body, headers=seller)
        assert refused.status_code == 422, (body, refused.text)
    assert (await client.post(f"/api/v1/contracts/{cid}/inventors/3/invitation", json={})).status_code == 401

    code = (await _invite(client, seller, cid, 3, phone="13800471234")).json()["code"]
    assert (await client.post("/api/v1/rewards/invitations/accept", json={"code": code})).status_code == 401
    key = (await client.post("/api/v1/api-keys", json={"name": "脚本"}, headers=zhao)).json()["key"]
    by_key = await _accept(client, {"X-API-Key": key}, code)
    assert (by_key.status_code, by_key.json()["code"]) == (403, "personal_login_required")
    wrong = await _accept(client, zhao, "ABCD-EFGH-JKMN-PQRS-TVWX")
    assert (wrong.status_code, wrong.json()["code"]) == (404, "invitation_not_found")

    async with database.unit_of_work() as session:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(update(InventorLink).where(col(InventorLink.contract_id) == cid).values(expires_at=past))
    expired = await _accept(client, zhao, code)
    assert (expired.status_code, expired.json()["code"]) == (410, "invitation_expired")
    entry = (await client.get(f"/api/v1/contracts/{cid}/inventors", headers=seller)).json()["items"][2]
    assert (entry["user_id"], entry["invitation"]["status"]) == (None, "expired")
    assert (await _mine(client, zhao))["total"] == 0
    fresh = (await _invite(client, seller, cid, 3, phone="13800471234")).json()["code"]
    assert (await _accept(client, zhao, fresh)).status_code == 200
    assert (await _mine(client, zhao))["sum"] == "137200.00"  # 赵工, weight 2: 39,200.00 + 98,000.00


async def test_three_equal_inventors_get_the_same_however_the_milestones_cut_the_price(
    payment_world: PaymentWorld,
) -> None:
    """87,000.00 paid as 30,000.01 + 56,999.99 at 75%: 65,250.00 to the team, 21,750.00 to each inventor
    (a split per payment gave 21,750.01 / 21,750.00 / 21,749.99). The linked inventor sees both lines."""
    world = payment_world
    h = await headers_of(world.api)
    achievement = await published_achievement(world.database, INSTITUTE, inventors=[])
    body = transfer_contract(
        achievement,
        await org_id(world.database, ENTERPRISE),
        total="87000.00",
        technology_income="87000.00",
        milestones=[{"title": "首付款", "amount": "30000.01"}, {"title": "尾款", "amount": "56999.99"}],
        deductions=[],
        reward_rate="75",
        inventors=[{"name": "甲"}, {"name": "乙"}, {"name": "丙"}],
    )
    contract = await registered_contract(world.api, h, body)
    cid = contract["id"]
    member = await _member(world.api, h["seller"], await org_id(world.database, INSTITUTE), "jia@inventors.example.cn")
    code = (await _invite(world.api, h["seller"], cid, 1, email="jia@inventors.example.cn")).json()["code"]
    assert (await _accept(world.api, member, code)).status_code == 200

    async def paid(seq: int) -> bool:
        milestones = (await world.api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()["milestones"]
        return bool(milestones[seq - 1]["status"] == "paid")

    for seq, milestone in enumerate(contract["milestones"], start=1):
        reply = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{milestone['id']}/pay", headers=h["buyer"])
        assert reply.status_code == 200, reply.text
        await wait_for(lambda seq=seq: paid(seq))

    ledger = (await world.api.get(f"/api/v1/contracts/{cid}/distributions", headers=h["seller"])).json()
    assert ledger["totals"]["team"] == "65250.00"
    per_inventor: dict[str, Decimal] = {}
    for item in ledger["items"]:
        for line in item["lines"]:
            if line["beneficiary"] == "inventor":
                per_inventor[line["name"]] = per_inventor.get(line["name"], Decimal(0)) + Decimal(line["amount"])
    assert per_inventor == {"甲": Decimal("21750.00"), "乙": Decimal("21750.00"), "丙": Decimal("21750.00")}
    mine = await _mine(world.api, member)
    assert (mine["total"], mine["sum"]) == (2, "21750.00")
    async with world.database.unit_of_work() as session:
        query = select(DistributionLine).where(
            col(DistributionLine.contract_id) == cid, col(DistributionLine.position) == 1
        )
        lines = (await session.execute(query)).scalars().all()
    assert len(lines) == 2 and all(line.user_id is not None for line in lines), (
        "lines written after the link name the account"
    )
