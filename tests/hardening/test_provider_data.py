"""What a signed provider webhook says is checked against what the platform created (issue examples),
on SQLite and PostgreSQL, with the payment stub served on a real port.

A success is applied only for the intent created for that milestone, with its amount and currency;
anything else is stored, not applied, and listed by ``payments reconcile`` (``refused_event``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from contracts.payment.client import PaymentProvider
from contracts.payment.models import Payment, WebhookEvent
from contracts.payment.reconcile import reconcile
from contracts.payment.signature import HEADER, sign
from tests.contracts.conftest import (
    WEBHOOK_SECRET,
    PaymentWorld,
    org_id,
    payment_world,  # noqa: F401 (a fixture, named as an argument below)
    published_achievement,
    wait_for,
)
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract

API = "/api/v1/contracts"


async def _contract(world: PaymentWorld) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Registered, one milestone of 80,000.00 (the issue's) and one of 20,000.00."""
    h = await headers_of(world.api)
    body = transfer_contract(
        await published_achievement(world.database, INSTITUTE),
        await org_id(world.database, ENTERPRISE),
        total="100000.00",
        technology_income="100000.00",
        deductions=[],
        milestones=[{"title": "首付款", "amount": "80000.00"}, {"title": "尾款", "amount": "20000.00"}],
    )
    return await registered_contract(world.api, h, body), h


def _event(intent: dict[str, Any], event_id: str) -> bytes:
    return json.dumps(
        {"id": event_id, "type": "payment_intent.succeeded", "created": int(time.time()), "data": {"object": intent}}
    ).encode()


async def _deliver(world: PaymentWorld, body: bytes) -> httpx.Response:
    return await world.api.post(
        "/api/v1/payments/webhook",
        content=body,
        headers={HEADER: sign(WEBHOOK_SECRET, body), "content-type": "application/json"},
    )


async def _milestone(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int, seq: int = 1) -> dict[str, Any]:
    return dict((await world.api.get(f"{API}/{cid}", headers=h["buyer"])).json()["milestones"][seq - 1])


async def _reconcile(world: PaymentWorld, *, repair: bool = False) -> list[Any]:
    async with httpx.AsyncClient() as http:
        return await reconcile(world.database, PaymentProvider(http, world.settings), repair=repair)


async def test_a_signed_success_for_an_intent_the_platform_never_created_pays_nothing(
    payment_world: PaymentWorld,
) -> None:
    world = payment_world
    contract, h = await _contract(world)
    cid, milestone = contract["id"], contract["milestones"][0]
    forged = {
        "object": "payment_intent",
        "id": "pi_forged_0001",
        "amount": 1,
        "currency": "usd",
        "status": "succeeded",
        "amount_received": 1,
        "amount_refunded": 0,
        "refunds": [],
        "version": 7,
        "metadata": {"contract_id": str(cid), "milestone_id": str(milestone["id"])},
    }
    reply = await _deliver(world, _event(forged, "evt_forged_0001"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == "unknown_intent"

    assert (await _milestone(world, h, cid))["status"] == "pending"
    assert (await world.api.get(f"{API}/{cid}/distributions", headers=h["seller"])).json()["total"] == 0
    async with world.database.unit_of_work() as session:
        assert (
            await session.execute(select(func.count()).select_from(Payment).where(Payment.contract_id == cid))
        ).scalar_one() == 0
        stored = (
            (await session.execute(select(WebhookEvent).where(WebhookEvent.event_id == "evt_forged_0001")))
            .scalars()
            .one()
        )
        assert stored.result == "unknown_intent" and stored.payload["data"]["object"]["currency"] == "usd"

    found = await _reconcile(world)
    assert [(d.kind, d.intent_id) for d in found] == [("refused_event", "pi_forged_0001")]
    assert "usd" in found[0].detail and "1" in found[0].detail
    assert [d.repaired for d in await _reconcile(world, repair=True)] == [False]
    assert (await _milestone(world, h, cid))["status"] == "pending"


async def test_a_success_for_our_intent_with_another_amount_or_currency_is_refused(payment_world: PaymentWorld) -> None:
    world = payment_world
    contract, h = await _contract(world)
    cid, m1 = contract["id"], contract["milestones"][0]["id"]
    await world.faults(drop_webhooks=True, settle_delay=0.0)
    paid = await world.api.post(f"{API}/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text
    intent_id = paid.json()["provider_intent_id"]
    ours = dict(next(iter(world.stub.state.intents.values())))
    assert ours["id"] == intent_id and ours["amount"] == 8_000_000

    lies = [
        ("evt_lie_amount", {"amount": 1, "amount_received": 1}, "amount_mismatch"),
        ("evt_lie_currency", {"currency": "usd"}, "currency_mismatch"),
        ("evt_lie_received", {"amount_received": 1}, "amount_mismatch"),
    ]
    for event_id, changes, result in lies:
        claim = ours | {"status": "succeeded", "amount_received": 8_000_000, "version": 50} | changes
        reply = await _deliver(world, _event(claim, event_id))
        assert reply.status_code == 200 and reply.json()["result"] == result, (event_id, reply.text)
        assert (await _milestone(world, h, cid))["status"] == "paying"
    assert (await world.api.get(f"{API}/{cid}/distributions", headers=h["seller"])).json()["total"] == 0

    await wait_for(lambda: _settled(world))
    found = await _reconcile(world)
    assert sorted(d.kind for d in found) == ["refused_event"] * 3 + ["status_mismatch"]
    # Repair takes the provider's own record of our intent: paid once, at 80,000.00; the lies stay listed.
    repaired = await _reconcile(world, repair=True)
    assert {d.kind: d.repaired for d in repaired} == {"status_mismatch": True, "refused_event": False}
    assert (await _milestone(world, h, cid))["status"] == "paid"
    ledger = (await world.api.get(f"{API}/{cid}/distributions", headers=h["seller"])).json()
    assert [d["gross"] for d in ledger["items"]] == ["80000.00"]


async def _settled(world: PaymentWorld) -> bool:
    return all(i["status"] == "succeeded" for i in world.stub.state.intents.values())


async def test_reconcile_records_a_lost_payment_only_when_the_provider_holds_exactly_what_we_asked(
    payment_world: PaymentWorld,
) -> None:
    """The request that created an intent rolled back: repair records it again from the provider's API,
    but only an intent naming that contract and milestone, for its exact amount, in yuan."""
    world = payment_world
    contract, h = await _contract(world)
    cid, (m1, m2) = contract["id"], [m["id"] for m in contract["milestones"]]
    await world.faults(drop_webhooks=True, settle_delay=0.0)
    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        exact = await provider.create_intent(8_000_000, {"contract_id": str(cid), "milestone_id": str(m1)}, "lost-1")
        await provider.confirm(exact.id, "lost-1-confirm")
        wrong = await provider.create_intent(100, {"contract_id": str(cid), "milestone_id": str(m2)}, "lost-2")
        await provider.confirm(wrong.id, "lost-2-confirm")
    await wait_for(lambda: _settled(world))

    repaired = {d.intent_id: (d.kind, d.repaired) for d in await _reconcile(world, repair=True)}
    assert repaired == {exact.id: ("missing_payment", True), wrong.id: ("missing_payment", False)}
    assert (await _milestone(world, h, cid, 1))["status"] == "paid"
    assert (await _milestone(world, h, cid, 2))["status"] == "pending"
