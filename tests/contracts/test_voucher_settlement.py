"""创新券 and the milestone's cash part, on SQLite and PostgreSQL with the provider stub on a real port:
a retried payment, a payment adopted by reconciliation and the inventors' reward all see the voucher's
part, and a spend on a milestone never paid (the contract terminated) goes back to the voucher."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from contracts.payment.client import PaymentProvider
from contracts.payment.models import Payment
from contracts.payment.reconcile import reconcile
from contracts.subsidy import budget
from contracts.subsidy.budget_models import SubsidyBudget
from contracts.voucher.models import Voucher
from contracts.voucher.service import today
from contracts.voucher.tasks import expire_once
from core.db import Database
from tests.contracts.conftest import PaymentWorld, org_id, published_achievement, wait_for
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract
from tests.contracts.test_voucher_journey import _conserved

API = "/api/v1/vouchers"
Headers = dict[str, dict[str, str]]


async def _budget(database: Database) -> SubsidyBudget:
    async with database.unit_of_work() as session:
        row = await budget.get(session, "150000", today().year, "voucher")
        assert row is not None
        assert await budget.unbalanced(session) == []  # the row equals the sum of its ledger
        return row


async def _voucher_and_contract(world: PaymentWorld, face: str = "100000.00") -> tuple[Headers, int, int, int]:
    """A held voucher of the buyer, a listed seller, and a registered contract (milestone 1: 300000)."""
    api, h = world.api, await headers_of(world.api)
    enterprise, institute = await org_id(world.database, ENTERPRISE), await org_id(world.database, INSTITUTE)
    async with world.database.unit_of_work() as session:
        await budget.allocate(
            session, region_code="150000", year=today().year, instrument="voucher", amount_fen=30_000_000, reference="t"
        )
    listing = {"organization_id": institute, "categories": ["technology_transfer"]}
    assert (await api.post(f"{API}/providers", json=listing, headers=h["admin"])).status_code == 201
    issue = {
        "organization_id": enterprise,
        "face_value": face,
        "categories": ["technology_transfer"],
        "sme_number": "2026150100A0001",
    }
    vid = (await api.post(API, json=issue, headers=h["admin"])).json()["id"]
    assert (await api.post(f"{API}/{vid}/accept", headers=h["buyer"])).status_code == 200
    cid, mid = await _contract(world, h)
    return h, vid, cid, mid


async def _contract(world: PaymentWorld, h: Headers) -> tuple[int, int]:
    achievement = await published_achievement(world.database, INSTITUTE)
    enterprise = await org_id(world.database, ENTERPRISE)
    contract = await registered_contract(world.api, h, transfer_contract(achievement, enterprise))
    return contract["id"], contract["milestones"][0]["id"]


async def _spend(world: PaymentWorld, h: Headers, vid: int, cid: int, mid: int, amount: str) -> dict[str, Any]:
    body = {"contract_id": cid, "milestone_id": mid, "amount": amount}
    reply = await world.api.post(f"{API}/{vid}/spend", json=body, headers=h["buyer"])
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def _milestone(world: PaymentWorld, h: Headers, cid: int) -> str:
    contract = (await world.api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
    return str(contract["milestones"][0]["status"])


async def _wait_milestone(world: PaymentWorld, h: Headers, cid: int, status: str) -> None:
    async def reached() -> bool:
        return await _milestone(world, h, cid) == status

    await wait_for(reached)


async def _balances(world: PaymentWorld, h: Headers, vid: int) -> dict[str, str]:
    return dict((await world.api.get(f"{API}/{vid}", headers=h["buyer"])).json()["balances"])


async def test_a_retried_payment_asks_only_for_the_cash_part(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await world.faults(decline_payments=1)
    assert (await _spend(world, h, vid, cid, mid, "100000.00"))["payment_amount"] == "200000.00"
    await _wait_milestone(world, h, cid, "pending")  # the card was declined

    retried = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{mid}/pay", headers=h["buyer"])
    assert retried.status_code == 200, retried.text
    assert [i["amount"] for i in world.stub.state.intents.values()] == [20_000_000, 20_000_000]
    await _wait_milestone(world, h, cid, "paid")
    async with world.database.unit_of_work() as session:
        payment = (await session.execute(select(Payment).where(Payment.milestone_id == mid))).scalar_one()
        assert (payment.amount_fen, payment.attempt) == (20_000_000, 2)


async def test_reconcile_adopts_a_lost_payment_for_the_cash_part(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await world.faults(drop_webhooks=True, settle_delay=0.0)
    await _spend(world, h, vid, cid, mid, "100000.00")

    async def succeeded() -> bool:
        return all(i["status"] == "succeeded" for i in world.stub.state.intents.values())

    await wait_for(succeeded)
    async with world.database.unit_of_work() as session:  # our side lost the payment row
        await session.execute(delete(Payment).where(Payment.milestone_id == mid))
    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        repaired = await reconcile(world.database, provider, repair=True)
        assert [(d.kind, d.repaired) for d in repaired] == [("missing_payment", True)]
        assert await reconcile(world.database, provider) == []
    assert await _milestone(world, h, cid) == "paid"
    async with world.database.unit_of_work() as session:
        payment = (await session.execute(select(Payment).where(Payment.milestone_id == mid))).scalar_one()
        assert payment.amount_fen == 20_000_000


async def test_the_inventors_share_the_voucher_part_of_a_milestone_too(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await _spend(world, h, vid, cid, mid, "100000.00")
    await _wait_milestone(world, h, cid, "paid")
    ledger = (await world.api.get(f"/api/v1/contracts/{cid}/distributions", headers=h["seller"])).json()
    assert [d["gross"] for d in ledger["items"]] == ["300000.00"]  # 200000 cash + 100000 voucher


async def test_terminating_the_contract_returns_an_unpaid_spend_to_the_voucher(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await world.faults(decline_payments=1)
    await _spend(world, h, vid, cid, mid, "100000.00")
    await _wait_milestone(world, h, cid, "pending")
    assert (await _balances(world, h, vid))["spent"] == "100000.00"

    ended = await world.api.post(
        f"/api/v1/contracts/{cid}/transitions", json={"to": "terminated", "reason": "协商解除"}, headers=h["buyer"]
    )
    assert ended.status_code == 200, ended.text
    balances = await _balances(world, h, vid)
    assert (balances["held"], balances["spent"]) == ("100000.00", "0.00")
    entries = (await world.api.get(f"{API}/{vid}", headers=h["buyer"])).json()["entries"]
    assert [e["move"] for e in entries] == ["issue", "accept", "spend", "void"]
    row = await _budget(world.database)
    assert (row.reserved_fen, row.disbursed_fen) == (10_000_000, 0)
    await _conserved(world.database)

    # The value is spendable again; on expiry what is left goes back to the budget, nothing stays reserved.
    cid2, mid2 = await _contract(world, h)
    await _spend(world, h, vid, cid2, mid2, "40000.00")
    await _wait_milestone(world, h, cid2, "paid")
    async with world.database.unit_of_work() as session:
        await session.execute(update(Voucher).where(Voucher.id == vid).values(valid_until=today() - timedelta(days=1)))
    assert await expire_once(world.database) == 1
    balances = await _balances(world, h, vid)
    assert (balances["held"], balances["spent"], balances["expired"]) == ("0.00", "40000.00", "60000.00")
    row = await _budget(world.database)
    assert (row.reserved_fen, row.disbursed_fen) == (4_000_000, 0)
    await _conserved(world.database)


async def test_a_spend_voided_after_the_voucher_expired_expires(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await world.faults(decline_payments=1)
    await _spend(world, h, vid, cid, mid, "100000.00")
    await _wait_milestone(world, h, cid, "pending")
    async with world.database.unit_of_work() as session:
        await session.execute(update(Voucher).where(Voucher.id == vid).values(valid_until=today() - timedelta(days=1)))
    assert await expire_once(world.database) == 1  # nothing held: all of it is spent, nothing returned
    ended = await world.api.post(f"/api/v1/contracts/{cid}/transitions", json={"to": "terminated"}, headers=h["seller"])
    assert ended.status_code == 200, ended.text
    balances = await _balances(world, h, vid)
    assert (balances["spent"], balances["expired"]) == ("0.00", "100000.00")
    row = await _budget(world.database)
    assert (row.reserved_fen, row.disbursed_fen, row.available_fen) == (0, 0, 30_000_000)
    await _conserved(world.database)


async def test_a_payment_failing_after_termination_returns_the_spend(payment_world: PaymentWorld) -> None:
    world = payment_world
    h, vid, cid, mid = await _voucher_and_contract(world)
    await world.faults(decline_payments=1, settle_delay=1.0)
    await _spend(world, h, vid, cid, mid, "100000.00")
    ended = await world.api.post(f"/api/v1/contracts/{cid}/transitions", json={"to": "terminated"}, headers=h["buyer"])
    assert ended.status_code == 200, ended.text
    assert (await _balances(world, h, vid))["spent"] == "100000.00"  # its payment is still on its way
    await _wait_milestone(world, h, cid, "pending")
    balances = await _balances(world, h, vid)
    assert (balances["held"], balances["spent"]) == ("100000.00", "0.00")
    row = await _budget(world.database)
    assert (row.reserved_fen, row.disbursed_fen) == (10_000_000, 0)
    await _conserved(world.database)
