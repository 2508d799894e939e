"""Auctions end to end against the provider stub on a real port, on SQLite and PostgreSQL.

Deposits paid through the provider (webhooks), idempotent and ordered bids, the anti-sniping
extension, the SSE stream resumed with Last-Event-ID, closing exactly once, the award (contract draft,
成交公示), refunds, credit on signature, forfeiture and the runner-up's offer; the ledger to the fen.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from contracts.auction.closing import close_due, refund_due, settle_awards
from contracts.auction.models import Auction, AuctionDeposit, DepositEntry, DepositStatus
from contracts.contract.models import Contract
from contracts.contract.service import today
from contracts.payment.client import PaymentProvider
from contracts.pricing.models import DealNotice
from contracts.reward import rules
from contracts.reward.models import Distribution
from core.types import utcnow
from market.listings.models import Achievement, PricingMode
from tests.contracts.conftest import PaymentWorld, published_achievement, wait_for
from tests.contracts.helpers import INSTITUTE, UNIVERSITY, headers_of
from tests.fixtures.app import login

API = "/api/v1/auctions"


async def _lot(world: PaymentWorld, h: dict[str, dict[str, str]], **overrides: Any) -> dict[str, Any]:
    achievement = await published_achievement(world.database, INSTITUTE)
    async with world.database.unit_of_work() as session:
        await session.execute(
            update(Achievement).where(Achievement.id == achievement).values(pricing_mode=PricingMode.auction)
        )
    now = utcnow()
    body = {
        "achievement_id": achievement,
        "start_price": "100000.00",
        "reserve_price": "150000.00",
        "increment": "10000.00",
        "deposit": "20000.00",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "extension_minutes": 5,
        "sign_days": 7,
        **overrides,
    }
    reply = await world.api.post(API, json=body, headers=h["seller"])
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def _deposit(world: PaymentWorld, aid: int, headers: dict[str, str]) -> None:
    reply = await world.api.post(f"{API}/{aid}/deposit", headers=headers)
    assert reply.status_code == 200, reply.text
    deposit_id = reply.json()["id"]

    async def held() -> bool:
        async with world.database.unit_of_work() as session:
            deposit = await session.get(AuctionDeposit, deposit_id)
            return deposit is not None and deposit.status == DepositStatus.held

    await wait_for(held)


async def _bid(world: PaymentWorld, aid: int, headers: dict[str, str], amount: str, key: str) -> httpx.Response:
    return await world.api.post(
        f"{API}/{aid}/bids", json={"amount": amount}, headers={**headers, "Idempotency-Key": key}
    )


async def _move_end(world: PaymentWorld, aid: int, delta: timedelta) -> None:
    async with world.database.unit_of_work() as session:
        await session.execute(update(Auction).where(Auction.id == aid).values(ends_at=utcnow() + delta))


async def _ledger(world: PaymentWorld, aid: int) -> dict[str, int]:
    async with world.database.unit_of_work() as session:
        rows = await session.execute(
            select(DepositEntry.kind, func.sum(DepositEntry.amount_fen))
            .where(DepositEntry.auction_id == aid)
            .group_by(DepositEntry.kind)
        )
        return {str(kind.value if hasattr(kind, "value") else kind): int(total) for kind, total in rows.all()}


async def _stream(
    world: PaymentWorld, aid: int, headers: dict[str, str], last: int, count: int
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with world.api.stream(
        "GET", f"{API}/{aid}/events", headers={**headers, "Last-Event-ID": str(last)}, timeout=10
    ) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        async for line in reply.aiter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "id" in current:
                events.append(current)
                current = {}
                if len(events) == count:
                    break
    return events


async def test_auction_from_deposits_to_credit(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    h["third"] = await login(world.api, UNIVERSITY)
    lot = await _lot(world, h)
    aid = lot["id"]
    assert lot["reserve_price"] == "150000.00"  # the seller sees its reserve
    seen = (await world.api.get(f"{API}/{aid}", headers=h["buyer"])).json()
    assert "reserve_price" not in seen and seen["minimum_bid"] == "100000.00"

    assert (await _bid(world, aid, h["seller"], "100000.00", "s1")).json()["code"] == "own_auction"
    assert (await _bid(world, aid, h["buyer"], "100000.00", "b1")).json()["code"] == "deposit_required"
    for role in ("buyer", "other", "third"):
        await _deposit(world, aid, h[role])
    again = await world.api.post(f"{API}/{aid}/deposit", headers=h["buyer"])
    assert again.status_code == 200 and again.json()["status"] == "held"
    assert len(world.stub.state.intents) == 3  # asked twice, charged once

    no_key = await world.api.post(f"{API}/{aid}/bids", json={"amount": "100000.00"}, headers=h["buyer"])
    assert no_key.status_code == 422 and no_key.json()["code"] == "idempotency_key_required"
    first = await _bid(world, aid, h["buyer"], "100000.00", "b1")
    assert first.status_code == 201, first.text
    replay = await _bid(world, aid, h["buyer"], "100000.00", "b1")
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert (await _bid(world, aid, h["buyer"], "130000.00", "b1")).json()["code"] == "idempotency_key_reused"
    low = await _bid(world, aid, h["other"], "105000.00", "o1")
    assert low.status_code == 409 and low.json()["code"] == "bid_too_low" and low.json()["minimum"] == "110000.00"
    assert (await _bid(world, aid, h["buyer"], "120000.00", "b2")).json()["code"] == "already_leading"
    assert (await _bid(world, aid, h["other"], "110000.00", "o1")).status_code == 201
    assert (await _bid(world, aid, h["third"], "140000.00", "t1")).status_code == 201

    # A bid in the last 5 minutes moves the end 5 minutes later.
    await _move_end(world, aid, timedelta(minutes=2))
    before = (await world.api.get(f"{API}/{aid}", headers=h["buyer"])).json()["ends_at"]
    assert (await _bid(world, aid, h["other"], "160000.00", "o2")).status_code == 201
    after = (await world.api.get(f"{API}/{aid}", headers=h["buyer"])).json()
    assert after["ends_at"] > before and after["current_price"] == "160000.00" and after["bid_count"] == 4

    # The stream resumes after the event the client last saw.
    events = await _stream(world, aid, h["third"], 2, 3)
    assert [(e["id"], e["event"]) for e in events] == [(3, "bid"), (4, "bid"), (5, "extended")]
    assert events[1]["data"]["amount"] == "160000.00"

    # Not due yet: nothing closes. Due: it closes once, however many times the worker looks.
    assert await close_due(world.database) == 0
    await _move_end(world, aid, timedelta(seconds=-1))
    assert await close_due(world.database) == 1
    assert await close_due(world.database) == 0
    assert (await _bid(world, aid, h["buyer"], "200000.00", "b9")).json()["code"] == "auction_not_open"
    closed = (await world.api.get(f"{API}/{aid}", headers=h["other"])).json()
    assert closed["status"] == "awarded" and closed["price"] == "160000.00" and closed["contract_id"]
    tail = await _stream(world, aid, h["buyer"], 5, 1)
    assert tail[0]["event"] == "closed" and tail[0]["data"]["result"] == "awarded"

    contract = (await world.api.get(f"/api/v1/contracts/{closed['contract_id']}", headers=h["other"])).json()
    assert contract["total"] == "160000.00" and contract["status"] == "draft"
    assert [m["amount"] for m in contract["milestones"]] == ["20000.00", "140000.00"]
    async with world.database.unit_of_work() as session:
        notice = (
            await session.execute(select(DealNotice).where(DealNotice.contract_id == contract["id"]))
        ).scalar_one()
        assert (notice.price_fen, notice.mode.value) == (16_000_000, "auction")

    # Losers are refunded through the provider, once, however often the step runs.
    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        # The step or the provider's refund webhook, whichever lands first, records each refund once.
        for _ in range(100):
            await refund_due(world.database, provider)
            if sorted(i["amount_refunded"] for i in world.stub.state.intents.values()) == [0, 2_000_000, 2_000_000]:
                break
            await asyncio.sleep(0.1)
        assert await refund_due(world.database, provider) == 0
    refunded = sorted(i["amount_refunded"] for i in world.stub.state.intents.values())
    assert refunded == [0, 2_000_000, 2_000_000]

    for side in ("seller", "other"):
        signed = await world.api.post(f"/api/v1/contracts/{contract['id']}/sign", headers=h[side])
        assert signed.status_code == 200, signed.text
    assert await settle_awards(world.database) == 1
    assert (await world.api.get(f"{API}/{aid}", headers=h["other"])).json()["status"] == "contracted"
    ledger = await _ledger(world, aid)
    assert ledger == {"paid": 6_000_000, "refunded": 4_000_000, "credited": 2_000_000}

    admin = await world.api.get("/api/v1/auction-deposits", params={"status": "credited"}, headers=h["admin"])
    assert admin.status_code == 200 and admin.json()["total"] == 1
    assert (await world.api.get("/api/v1/auction-deposits", headers=h["buyer"])).status_code == 403


async def test_unsigned_award_forfeits_and_goes_to_the_runner_up(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    aid = (await _lot(world, h))["id"]
    for role in ("buyer", "other"):
        await _deposit(world, aid, h[role])
    assert (await _bid(world, aid, h["buyer"], "150000.00", "b1")).status_code == 201
    assert (await _bid(world, aid, h["other"], "170000.00", "o1")).status_code == 201
    await _move_end(world, aid, timedelta(seconds=-1))
    assert await close_due(world.database) == 1
    async with world.database.unit_of_work() as session:
        await session.execute(update(Auction).where(Auction.id == aid).values(sign_due_at=utcnow() - timedelta(1)))
    assert await settle_awards(world.database) == 1
    offered = (await world.api.get(f"{API}/{aid}", headers=h["buyer"])).json()
    assert offered["status"] == "awarded" and offered["price"] == "150000.00"
    contract = (await world.api.get(f"/api/v1/contracts/{offered['contract_id']}", headers=h["buyer"])).json()
    assert contract["total"] == "150000.00"
    async with httpx.AsyncClient() as http:
        assert await refund_due(world.database, PaymentProvider(http, world.settings)) == 1
    assert await _ledger(world, aid) == {"paid": 4_000_000, "refunded": 2_000_000, "forfeited": 2_000_000}
    forfeits = await world.api.get("/api/v1/auction-deposits", params={"status": "forfeited"}, headers=h["admin"])
    assert forfeits.json()["total"] == 1


async def _won_and_signed(world: PaymentWorld, h: dict[str, dict[str, str]], milestones: list[str] | None) -> int:
    """The buyer wins at 150000 with a 20000 deposit, both sign (after correcting the milestones to
    ``milestones``), the worker credits the deposit; the contract's id."""
    aid = (await _lot(world, h))["id"]
    await _deposit(world, aid, h["buyer"])
    assert (await _bid(world, aid, h["buyer"], "150000.00", "b1")).status_code == 201
    await _move_end(world, aid, timedelta(seconds=-1))
    assert await close_due(world.database) == 1
    cid = int((await world.api.get(f"{API}/{aid}", headers=h["buyer"])).json()["contract_id"])
    async with world.database.unit_of_work() as session:  # a service invention: its income rewards the inventors
        contract = await session.get(Contract, cid)
        assert contract is not None
        rate, rule = rules.check_rate(None, contract.seller_region, today())
        contract.service_invention, contract.reward_rate_bp, contract.reward_rule = True, rate, rule.code
        contract.inventors = [{"name": "张三", "weight": 1}]
        session.add(contract)
    if milestones is not None:
        body = {
            "total": "150000.00",
            "technology_income": "150000.00",
            "milestones": [{"title": f"第{n}期", "amount": amount} for n, amount in enumerate(milestones, 1)],
            "reason": "首付款多于保证金",
        }
        corrected = await world.api.patch(f"/api/v1/contracts/{cid}/amounts", json=body, headers=h["seller"])
        assert corrected.status_code == 200, corrected.text
    for side in ("seller", "buyer"):
        signed = await world.api.post(f"/api/v1/contracts/{cid}/sign", headers=h[side])
        assert signed.status_code == 200, signed.text
    assert await settle_awards(world.database) == 1
    ledger = await _ledger(world, aid)  # paid = refunded + credited + forfeited
    assert ledger == {"paid": 2_000_000, "credited": 2_000_000}
    return cid


async def _pay_and_wait(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int, index: int) -> dict[str, Any]:
    milestone = (await world.api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()["milestones"][index]
    paid = await world.api.post(f"/api/v1/contracts/{cid}/milestones/{milestone['id']}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text

    async def settled() -> bool:
        contract = (await world.api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
        return bool(contract["milestones"][index]["status"] == "paid")

    await wait_for(settled)
    return dict(paid.json())


async def _gross(world: PaymentWorld, cid: int) -> list[int]:
    """The income of each payment in the reward ledger, in order."""
    async with world.database.unit_of_work() as session:
        statement = select(Distribution.gross_fen).where(Distribution.contract_id == cid).order_by(Distribution.id)
        return [int(gross) for gross in (await session.execute(statement)).scalars()]


async def test_the_winner_pays_the_first_milestone_less_the_credited_deposit(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    cid = await _won_and_signed(world, h, ["50000.00", "100000.00"])
    before = set(world.stub.state.intents)
    await _pay_and_wait(world, h, cid, 0)
    asked = [i["amount"] for k, i in world.stub.state.intents.items() if k not in before]
    assert asked == [3_000_000]  # 50000 - the 20000 deposit, not 50000 again
    assert await _gross(world, cid) == [5_000_000]  # the inventors' income: the cash and the deposit


async def test_a_first_milestone_the_deposit_covers_is_paid_without_the_provider(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    cid = await _won_and_signed(world, h, None)  # the draft: 20000 (the deposit) + 130000
    before = set(world.stub.state.intents)
    await _pay_and_wait(world, h, cid, 0)
    assert set(world.stub.state.intents) == before  # nothing asked of the provider
    await _pay_and_wait(world, h, cid, 1)
    asked = [i["amount"] for k, i in world.stub.state.intents.items() if k not in before]
    assert asked == [13_000_000]
    assert await _gross(world, cid) == [2_000_000, 13_000_000]  # the deposit counts as income received
