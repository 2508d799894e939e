"""The contract journey as technology contracts run in practice, on SQLite and PostgreSQL, through the
API served on a real port with the payment stub.

The buyer pays from signing on; 认定登记 (for tax relief and statistics) is asked for and given any
time from signing until completion and does not hold up payment. Statistics count a contract from
its registration date, whenever the payments came; a distribution is owed for every payment of a
service invention, registered or not. A contract's field is a known code (or its achievements'),
and completion takes both parties: the seller claims, the buyer confirms or objects in time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from contracts.contract.models import Contract, Milestone
from contracts.statistics.models import ContractFact
from market.demo import PLATFORM_ADMIN_EMAIL
from tests.contracts.conftest import PaymentWorld, org_id, payment_world, published_achievement, wait_for  # noqa: F401
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, attach_materials, headers_of, noticed, transfer_contract
from tests.fixtures.app import login

API = "/api/v1/contracts"


async def _signed(world: PaymentWorld, h: dict[str, dict[str, str]], **overrides: Any) -> dict[str, Any]:
    body = transfer_contract(
        await published_achievement(world.database, INSTITUTE), await org_id(world.database, ENTERPRISE), **overrides
    )
    reply = await world.api.post(API, json=body, headers=h["seller"])
    assert reply.status_code == 201, reply.text
    cid = reply.json()["id"]
    await noticed(world.api, h["seller"], body)
    for side in ("seller", "buyer"):
        signed = await world.api.post(f"{API}/{cid}/sign", headers=h[side])
    assert signed.json()["status"] == "signed", signed.text
    return dict(signed.json())


async def _contract(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> dict[str, Any]:
    return dict((await world.api.get(f"{API}/{cid}", headers=h["buyer"])).json())


async def _pay(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int, seq: int) -> dict[str, Any]:
    milestone = (await _contract(world, h, cid))["milestones"][seq - 1]["id"]
    paid = await world.api.post(f"{API}/{cid}/milestones/{milestone}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text

    async def settled() -> bool:
        return (await _contract(world, h, cid))["milestones"][seq - 1]["status"] == "paid"

    await wait_for(settled)
    return await _contract(world, h, cid)


async def _overall(world: PaymentWorld, admin: dict[str, str]) -> tuple[int, str]:
    reply = await world.api.get("/api/v1/statistics/aggregates", params={"by": "type", "region": "all"}, headers=admin)
    assert reply.status_code == 200, reply.text
    overall = reply.json()["overall"]
    return int(overall["contracts"]), str(overall["turnover"])


async def _facts(world: PaymentWorld, cid: int) -> list[Any]:
    async with world.database.unit_of_work() as session:
        return list(
            (await session.execute(select(ContractFact).where(col(ContractFact.contract_id) == cid))).scalars().all()
        )


async def _distributions(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> int:
    reply = await world.api.get(f"{API}/{cid}/distributions", headers=h["seller"])
    assert reply.status_code == 200, reply.text
    return int(reply.json()["total"])


async def test_the_buyer_pays_after_signing_and_registration_later_counts_by_its_date(
    payment_world: PaymentWorld,
) -> None:
    world = payment_world
    h = await headers_of(world.api)
    admin = await login(world.api, PLATFORM_ADMIN_EMAIL)
    before = await _overall(world, admin)
    contract = await _signed(world, h)
    cid = contract["id"]

    # Signed, not registered: the first milestone is paid, the contract is performing, the inventors' share is owed.
    first = await _pay(world, h, cid, 1)
    assert first["status"] == "performing" and first["registration_number"] is None
    assert await _distributions(world, h, cid) == 1
    # Statistics count registered contracts only: nothing yet.
    assert await _facts(world, cid) == []
    assert await _overall(world, admin) == before

    # The seller asks for registration while the contract is performing; the registrar registers it.
    await attach_materials(world.api, cid, h["seller"])
    asked = await world.api.post(f"{API}/{cid}/registration-request", headers=h["seller"])
    assert asked.status_code == 200, asked.text
    registered = await world.api.post(f"{API}/{cid}/register", json={}, headers=h["region"])
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "performing" and len(registered.json()["registration_number"]) == 16
    assert registered.json()["registered_at"] is not None
    counted = await _overall(world, admin)
    assert counted[0] == before[0] + 1
    assert Decimal(counted[1]) - Decimal(before[1]) == Decimal("1000000.00")
    facts = await _facts(world, cid)
    assert len(facts) == 1 and facts[0].total_fen == 100_000_000

    # Registered once only; the second milestone is paid against the registered terms.
    again = await world.api.post(f"{API}/{cid}/register", json={}, headers=h["region"])
    assert again.status_code == 409 and again.json()["code"] == "invalid_contract_transition"
    second = await _pay(world, h, cid, 2)
    assert [m["status"] for m in second["milestones"]] == ["paid", "paid"]
    assert await _distributions(world, h, cid) == 2
    assert await _overall(world, admin) == counted
    audit = (await world.api.get(f"{API}/{cid}/audit", headers=h["buyer"])).json()["items"]
    entry = next(a for a in audit if a["action"] == "registered")
    assert (entry["from_status"], entry["to_status"]) == ("performing", "performing")

    verify = await world.api.get("/api/v1/statistics/rollups/verify", headers=admin)
    assert verify.json()["consistent"] is True


async def test_a_payment_from_signed_refuses_terms_changed_since_the_signatures(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    contract = await _signed(world, h)
    cid = contract["id"]
    async with world.database.unit_of_work() as session:  # a writer that went around the amendment path
        await session.execute(update(Contract).where(col(Contract.id) == cid).values(total_fen=500_000_000))
        last = (
            (await session.execute(select(Milestone).where(col(Milestone.contract_id) == cid, col(Milestone.seq) == 2)))
            .scalars()
            .one()
        )
        last.amount_fen = 500_000_000 - 30_000_000
    paid = await world.api.post(f"{API}/{cid}/milestones/{contract['milestones'][0]['id']}/pay", headers=h["buyer"])
    assert paid.status_code == 409 and paid.json()["code"] == "terms_changed"
    assert world.stub.state.intents == {}
    assert (await _contract(world, h, cid))["status"] == "signed"


async def test_parties_cannot_change_terms_of_a_contract_performing_unregistered(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    contract = await _signed(world, h)
    cid = contract["id"]
    await _pay(world, h, cid, 1)
    body = {
        "total": "2000000.00",
        "technology_income": "900000.00",
        "reason": "加价",
        "milestones": [{"title": "首付款", "amount": "300000.00"}, {"title": "尾款", "amount": "1700000.00"}],
    }
    for who in ("seller", "buyer", "region"):
        refused = await world.api.patch(f"{API}/{cid}/amounts", json=body, headers=h[who])
        assert refused.status_code == 409 and refused.json()["code"] == "amounts_locked", (who, refused.text)
    assert (await _contract(world, h, cid))["total"] == "1000000.00"


async def test_the_field_is_a_known_code_or_taken_from_the_achievements(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement, buyer = (
        await published_achievement(world.database, INSTITUTE),
        await org_id(world.database, ENTERPRISE),
    )
    refused = await world.api.post(
        API, json=transfer_contract(achievement, buyer, field="稀土新材料"), headers=h["seller"]
    )
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("body.field", "unknown_field")]
    defaulted = await world.api.post(API, json=transfer_contract(achievement, buyer, field=None), headers=h["seller"])
    assert defaulted.status_code == 201, defaulted.text
    assert defaulted.json()["field"] == "new_materials"  # the linked achievement's field
    chosen = await world.api.post(
        API, json=transfer_contract(achievement, buyer, field="agriculture"), headers=h["seller"]
    )
    assert chosen.json()["field"] == "agriculture"


async def _claim(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> dict[str, Any]:
    claimed = await world.api.post(f"{API}/{cid}/completion/claim", headers=h["seller"])
    assert claimed.status_code == 200, claimed.text
    return dict(claimed.json())


async def test_completion_needs_the_sellers_claim_and_the_buyers_confirmation(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    contract = await _signed(world, h)
    cid = contract["id"]
    assert contract["allowed_transitions"] == ["performing", "terminated"]  # what /transitions accepts: no `registered`
    performing = await _pay(world, h, cid, 1)
    assert performing["allowed_transitions"] == ["terminated"]
    unpaid = await world.api.post(f"{API}/{cid}/completion/claim", headers=h["seller"])
    assert unpaid.status_code == 409 and unpaid.json()["code"] == "milestones_unpaid"
    await _pay(world, h, cid, 2)

    # Neither party completes alone through /transitions.
    for side in ("seller", "buyer"):
        alone = await world.api.post(f"{API}/{cid}/transitions", json={"to": "completed"}, headers=h[side])
        assert alone.status_code == 409 and alone.json()["code"] == "invalid_contract_transition"
        assert alone.json()["allowed"] == ["terminated"]
    assert (await world.api.post(f"{API}/{cid}/completion/claim", headers=h["buyer"])).json()[
        "code"
    ] == "completion_seller_only"

    claimed = await _claim(world, h, cid)
    assert claimed["status"] == "performing" and claimed["completion_claimed_at"] and claimed["completion_due_at"]
    days = (
        datetime.fromisoformat(claimed["completion_due_at"]) - datetime.fromisoformat(claimed["completion_claimed_at"])
    ).days
    assert days == 15
    assert (await world.api.post(f"{API}/{cid}/completion/claim", headers=h["seller"])).json()[
        "code"
    ] == "completion_already_claimed"
    early = await world.api.post(f"{API}/{cid}/completion/confirm", headers=h["seller"])
    assert early.status_code == 409 and early.json()["code"] == "completion_window_open"

    # The buyer objects with a reason: back to performing, the claim withdrawn.
    objected = await world.api.post(
        f"{API}/{cid}/completion/objection", json={"reason": "验收报告未交付"}, headers=h["buyer"]
    )
    assert objected.status_code == 200, objected.text
    assert objected.json()["status"] == "performing" and objected.json()["completion_claimed_at"] is None
    none = await world.api.post(f"{API}/{cid}/completion/confirm", headers=h["buyer"])
    assert none.status_code == 409 and none.json()["code"] == "completion_not_claimed"

    await _claim(world, h, cid)
    confirmed = await world.api.post(f"{API}/{cid}/completion/confirm", headers=h["buyer"])
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "completed"
    audit = (await world.api.get(f"{API}/{cid}/audit", headers=h["seller"])).json()["items"]
    steps = [
        (a["action"], a["reason"]) for a in audit if a["action"].startswith("completion") or a["action"] == "completed"
    ]
    assert steps == [
        ("completion_claimed", None),
        ("completion_objected", "验收报告未交付"),
        ("completion_claimed", None),
        ("completed", "买方确认履行完毕"),
    ]


async def test_an_unanswered_claim_completes_when_the_seller_asks_and_a_completed_contract_registers(
    payment_world: PaymentWorld,
) -> None:
    world = payment_world
    h = await headers_of(world.api)
    admin = await login(world.api, PLATFORM_ADMIN_EMAIL)
    before = await _overall(world, admin)
    contract = await _signed(world, h)
    cid = contract["id"]
    await _pay(world, h, cid, 1)
    await _pay(world, h, cid, 2)
    await _claim(world, h, cid)
    async with world.database.unit_of_work() as session:  # the buyer's 15 days pass without an answer
        await session.execute(
            update(Contract)
            .where(col(Contract.id) == cid)
            .values(completion_due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    late = await world.api.post(f"{API}/{cid}/completion/objection", json={"reason": "太晚了"}, headers=h["buyer"])
    assert late.status_code == 409 and late.json()["code"] == "completion_window_closed"
    completed = await world.api.post(f"{API}/{cid}/completion/confirm", headers=h["seller"])
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert await _overall(world, admin) == before

    # Registration is still given after completion, and the contract then counts.
    await attach_materials(world.api, cid, h["seller"])
    assert (await world.api.post(f"{API}/{cid}/registration-request", headers=h["seller"])).status_code == 200
    registered = await world.api.post(f"{API}/{cid}/register", json={}, headers=h["region"])
    assert registered.status_code == 200 and registered.json()["status"] == "completed"
    assert (await _overall(world, admin))[0] == before[0] + 1
