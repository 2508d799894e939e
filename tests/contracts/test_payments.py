"""Milestone payments against the provider stub served on a real port, on SQLite and PostgreSQL.

Faults: 500s, a timeout after the provider did the work, duplicate and out-of-order webhook
deliveries, the provider down during confirm, lost webhooks. Nothing is lost, nothing doubled,
and reconciliation reports clean afterwards.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from contracts.payment.client import PaymentProvider
from contracts.payment.reconcile import reconcile
from contracts.payment.signature import HEADER, sign
from tests.contracts.conftest import WEBHOOK_SECRET, PaymentWorld, free_socket, org_id, published_achievement, wait_for
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract


async def _setup(world: PaymentWorld) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    h = await headers_of(world.api)
    achievement = await published_achievement(world.database, INSTITUTE)
    contract = await registered_contract(
        world.api, h, transfer_contract(achievement, await org_id(world.database, ENTERPRISE))
    )
    return contract, h


async def _milestone_status(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int, seq: int) -> str:
    contract = (await world.api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
    return str(contract["milestones"][seq - 1]["status"])


async def _ledger(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> dict[str, Any]:
    reply = await world.api.get(f"/api/v1/contracts/{cid}/distributions", headers=h["seller"])
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def _clean(world: PaymentWorld) -> list[Any]:
    async with httpx.AsyncClient() as http:
        return await reconcile(world.database, PaymentProvider(http, world.settings))


async def test_payments_survive_provider_faults_and_split_exactly(payment_world: PaymentWorld) -> None:
    world = payment_world
    contract, h = await _setup(world)
    cid, (m1, m2) = contract["id"], [m["id"] for m in contract["milestones"]]

    # Only the buyer pays.
    assert (await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m1}/pay", headers=h["seller"])).json()[
        "code"
    ] == "buyer_side_only"

    # Two 500s, then a response slower than our timeout after the provider did the work: retried with
    # the same Idempotency-Key, so the provider holds exactly one intent. Webhooks arrive three times each.
    await world.faults(fail_next=2, duplicate=3)
    await world.faults(delay_next=1, delay_seconds=1.0)
    paid = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] in ("processing", "succeeded")
    await wait_for(lambda: _is(world, h, cid, 1, "paid"))
    again = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert again.json()["id"] == paid.json()["id"]
    assert len(world.stub.state.intents) == 1
    assert world.stub.state.failed_on_purpose == 2

    ledger = await _ledger(world, h, cid)
    assert ledger["total"] == 1
    first = ledger["items"][0]
    # 300000.00 received - 20000.00 deductions (专利年费 8000 + 评估费 12000) = 280000.00 net; 70% to the team.
    assert (first["gross"], first["deductions"], first["net"]) == ("300000.00", "20000.00", "280000.00")
    assert (first["team"], first["institution"]) == ("196000.00", "84000.00")
    assert [line["amount"] for line in first["lines"]] == ["84000.00", "98000.00", "58800.00", "39200.00"]

    # The provider is down during confirm: 503, nothing recorded; back up, the retry pays once.
    up = world.settings.provider_url
    dead = free_socket()
    world.settings.provider_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there: connection refused
    down = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m2}/pay", headers=h["buyer"])
    assert down.status_code == 503 and down.json()["code"] == "payment_provider_unavailable"
    assert await _milestone_status(world, h, cid, 2) == "pending"
    world.settings.provider_url = up

    # Back up, with webhooks held: the payment stays processing on our side until they arrive.
    await world.faults(duplicate=1, hold_webhooks=True)
    paid2 = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m2}/pay", headers=h["buyer"])
    assert paid2.status_code == 200, paid2.text
    assert len(world.stub.state.intents) == 2
    await wait_for(lambda: _intent_status(world, "succeeded"))
    early = await world.api.post(
        f"/api/v1/contracts/{cid}/milestones/{m2}/refund", json={"amount": "70000.00"}, headers=h["seller"]
    )
    assert early.status_code == 409 and early.json()["code"] == "refund_not_allowed"

    # Held events (created, processing, succeeded) delivered newest first: the old ones are stale.
    await world.faults(hold_webhooks=False)
    released = await world.control.post("/_stub/webhooks/release", json={"order": "reverse"})
    assert released.json()["released"] == 3
    await wait_for(lambda: _is(world, h, cid, 2, "paid"))

    # Only the seller side refunds; the reversal is appended, proportional, and sums exactly.
    assert (
        await world.api.post(
            f"/api/v1/contracts/{cid}/milestones/{m2}/refund", json={"amount": "70000.00"}, headers=h["buyer"]
        )
    ).status_code == 403
    refund = await world.api.post(
        f"/api/v1/contracts/{cid}/milestones/{m2}/refund", json={"amount": "70000.00"}, headers=h["seller"]
    )
    assert refund.status_code == 200, refund.text
    assert refund.json()["refunded"] == "70000.00"
    await wait_for(lambda: _events_processed(world))

    ledger = await _ledger(world, h, cid)
    assert [d["source"] for d in ledger["items"]] == ["payment", "payment", "refund"]
    # Received 1000000 - 70000 refunded = 930000; net = 910000; team = 637000.00 (70%), institution 273000.00.
    assert ledger["totals"] == {
        "received": "930000.00",
        "net": "910000.00",
        "team": "637000.00",
        "institution": "273000.00",
    }
    reversal = ledger["items"][2]
    assert reversal["net"] == "-70000.00" and reversal["team"] == "-49000.00"
    assert [line["amount"] for line in reversal["lines"]] == ["-21000.00", "-24500.00", "-14700.00", "-9800.00"]
    assert sum(_fen(line["amount"]) for d in ledger["items"] for line in d["lines"]) == 91_000_000

    assert await _clean(world) == []
    claimed = await world.api.post(f"/api/v1/contracts/{cid}/completion/claim", headers=h["seller"])
    assert claimed.status_code == 200, claimed.text
    finished = await world.api.post(f"/api/v1/contracts/{cid}/completion/confirm", headers=h["buyer"])
    assert finished.status_code == 200 and finished.json()["status"] == "completed"


async def _events_processed(world: PaymentWorld) -> bool:
    return world.stub.state.deliveries >= len(world.stub.state.events) and not world.stub._tasks


def _fen(amount: str) -> int:
    sign_ = -1 if amount.startswith("-") else 1
    whole, _, cents = amount.lstrip("-").partition(".")
    return sign_ * (int(whole) * 100 + int(cents or 0))


async def _is(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int, seq: int, status: str) -> bool:
    return await _milestone_status(world, h, cid, seq) == status


async def _intent_status(world: PaymentWorld, status: str) -> bool:
    return all(i["status"] == status for i in world.stub.state.intents.values())


async def test_lost_webhooks_are_found_and_repaired_by_reconcile(payment_world: PaymentWorld) -> None:
    world = payment_world
    contract, h = await _setup(world)
    cid, m1 = contract["id"], contract["milestones"][0]["id"]
    await world.faults(drop_webhooks=True, settle_delay=0.0)
    paid = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text
    await wait_for(lambda: _intent_status(world, "succeeded"))
    assert await _milestone_status(world, h, cid, 1) == "paying"

    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        found = await reconcile(world.database, provider)
        assert [d.kind for d in found] == ["status_mismatch"] and not found[0].repaired
        repaired = await reconcile(world.database, provider, repair=True)
        assert [d.repaired for d in repaired] == [True]
        assert await reconcile(world.database, provider) == []
    assert await _milestone_status(world, h, cid, 1) == "paid"
    assert (await _ledger(world, h, cid))["total"] == 1


async def test_webhook_rejects_bad_signature_stale_timestamp_and_replay(payment_world: PaymentWorld) -> None:
    world = payment_world
    event = {
        "id": "evt_test_1",
        "type": "payment_intent.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "object": "payment_intent",
                "id": "pi_x",
                "amount": 1,
                "status": "requires_confirmation",
                "metadata": {},
                "version": 1,
            }
        },
    }
    body = json.dumps(event).encode()

    async def post(header: str) -> httpx.Response:
        return await world.api.post(
            "/api/v1/payments/webhook", content=body, headers={HEADER: header, "content-type": "application/json"}
        )

    bad = await post(sign("another-secret-of-enough-length-000000000", body))
    assert bad.status_code == 400 and bad.json()["code"] == "webhook_signature_invalid"
    tampered = await post(sign(WEBHOOK_SECRET, body + b" "))
    assert tampered.status_code == 400
    stale = await post(sign(WEBHOOK_SECRET, body, int(time.time()) - 301))
    assert stale.status_code == 400 and stale.json()["code"] == "webhook_timestamp_outside_window"
    missing = await world.api.post("/api/v1/payments/webhook", content=body)
    assert missing.status_code == 400
    good = await post(sign(WEBHOOK_SECRET, body))
    assert good.status_code == 200 and good.json()["result"] == "unknown_intent"
    replay = await post(sign(WEBHOOK_SECRET, body))
    assert replay.status_code == 409 and replay.json()["code"] == "webhook_replayed"
