"""On PostgreSQL, truly concurrently: confirmations and webhook deliveries racing on the same milestones.

A real database of its own (a copy of the migrated demo template), the backend and the provider stub
each served by uvicorn on a loopback port, a pool of 20 (+20) connections and no lock in the test:
the requests interleave as they would in production, which the test proves by counting the units of
work holding a connection at the same moment. Invariants: one payment per milestone, one intent per
milestone at the provider, one distribution per payment, and the split exact to the fen.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlmodel import col

from app.factory import create_app
from contracts.payment.models import Payment
from contracts.payment.signature import HEADER, sign
from contracts.payment.stub import StubProvider
from contracts.reward.models import Distribution, DistributionLine
from contracts.settings import PaymentSettings
from core.db import Database, create_engine
from core.settings import Settings
from tests.contracts.conftest import (
    PROVIDER_KEY,
    WEBHOOK_SECRET,
    free_socket,
    org_id,
    published_achievement,
    serve,
    wait_for,
)
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract

CONFIRMATIONS = 100  # split over the contract's two milestones, all in flight at once
REDELIVERIES = 20  # distinct events carrying the same "succeeded" snapshot, per milestone, at once


class Overlap:
    """Counts connections checked out of the pool at the same moment (the proof nothing serialised)."""

    def __init__(self, database: Database) -> None:
        self.now = self.peak = 0
        event.listen(database.engine.sync_engine.pool, "checkout", self._out)
        event.listen(database.engine.sync_engine.pool, "checkin", self._in)

    def _out(self, *_: Any) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def _in(self, *_: Any) -> None:
        self.now -= 1

    def reset(self) -> None:
        self.peak = self.now


async def _count(database: Database, model: Any, **where: Any) -> int:
    async with database.unit_of_work() as session:
        query = select(func.count()).select_from(model).where(*(getattr(model, k) == v for k, v in where.items()))
        return int((await session.execute(query)).scalar_one())


def _redelivery(snapshot: dict[str, Any], n: int) -> bytes:
    """The provider telling the same news again under a new event id (as after a lost acknowledgement)."""
    body = {
        "id": f"evt_race_{snapshot['id']}_{n}",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": snapshot},
    }
    return json.dumps(body).encode()


async def test_concurrent_confirmations_and_deliveries_pay_once_and_split_exactly(
    postgres_copy_factory: Callable[[], str], settings: Settings
) -> None:
    url = await asyncio.to_thread(postgres_copy_factory)
    database = Database(create_engine(url, pool_size=20, timeout=30))
    overlap = Overlap(database)
    try:
        backend_sock, stub_sock = free_socket(), free_socket()
        backend_url = f"http://127.0.0.1:{backend_sock.getsockname()[1]}"
        stub = StubProvider(
            webhook_url=f"{backend_url}/api/v1/payments/webhook", webhook_secret=WEBHOOK_SECRET, api_key=PROVIDER_KEY
        )
        stub.faults.duplicate = 3  # every event delivered three times, the deliveries of different events racing
        app = create_app(settings, database=database)
        app.state.payment_settings = PaymentSettings(
            env="test",
            provider_url=f"http://127.0.0.1:{stub_sock.getsockname()[1]}",
            provider_api_key=PROVIDER_KEY,
            webhook_secret=WEBHOOK_SECRET,
            timeout_seconds=5,
            backoff_seconds=0.05,
        )
        async with (
            serve(stub.app, stub_sock),
            serve(app, backend_sock),
            httpx.AsyncClient(
                base_url=backend_url, timeout=60, limits=httpx.Limits(max_connections=CONFIRMATIONS)
            ) as api,
        ):
            h = await headers_of(api)
            achievement = await published_achievement(database, INSTITUTE)
            contract = await registered_contract(
                api, h, transfer_contract(achievement, await org_id(database, ENTERPRISE))
            )
            cid, milestones = contract["id"], [m["id"] for m in contract["milestones"]]

            overlap.reset()
            replies = await asyncio.gather(
                *[
                    api.post(f"/api/v1/contracts/{cid}/milestones/{milestones[i % 2]}/pay", headers=h["buyer"])
                    for i in range(CONFIRMATIONS)
                ]
            )
            assert [r.status_code for r in replies] == [200] * CONFIRMATIONS, {r.status_code: r.text for r in replies}
            assert overlap.peak >= 5, (
                f"only {overlap.peak} units of work ever overlapped: the confirmations did not race"
            )
            by_milestone: dict[int, set[int]] = {}
            for reply in replies:
                by_milestone.setdefault(reply.json()["milestone_id"], set()).add(reply.json()["id"])
            assert {m: len(ids) for m, ids in by_milestone.items()} == {milestones[0]: 1, milestones[1]: 1}

            async def settled() -> bool:
                return await _count(database, Distribution, contract_id=cid) >= 2 and not stub._tasks

            await wait_for(settled, timeout=30)

            # The same "succeeded" snapshot again, under many new event ids, all at once for both milestones.
            succeeded = [i for i in stub.state.intents.values() if i["status"] == "succeeded"]
            assert len(succeeded) == 2
            bodies = [_redelivery(intent, n) for intent in succeeded for n in range(REDELIVERIES)]
            overlap.reset()
            acks = await asyncio.gather(
                *[
                    api.post(
                        "/api/v1/payments/webhook",
                        content=b,
                        headers={HEADER: sign(WEBHOOK_SECRET, b), "content-type": "application/json"},
                    )
                    for b in bodies
                ]
            )
            assert {r.status_code for r in acks} == {200}, {r.status_code: r.text for r in acks}
            assert overlap.peak >= 5, f"only {overlap.peak} webhook units of work ever overlapped"

        assert len(stub.state.intents) == 2
        assert stub.state.deliveries >= 3 * len(stub.state.events)
        assert await _count(database, Payment, contract_id=cid) == 2
        for milestone in milestones:
            assert await _count(database, Payment, milestone_id=milestone) == 1
        async with database.unit_of_work() as session:
            distributions = (
                (
                    await session.execute(
                        select(Distribution).where(col(Distribution.contract_id) == cid).order_by(col(Distribution.id))
                    )
                )
                .scalars()
                .all()
            )
            lines = (
                (await session.execute(select(DistributionLine).where(col(DistributionLine.contract_id) == cid)))
                .scalars()
                .all()
            )
        assert len(distributions) == 2 and len({d.payment_id for d in distributions}) == 2
        # 1,000,000.00 received in two payments, whichever landed first; the 20,000.00 of deductions charged
        # once, against the first; 70% of the 980,000.00 net to the inventors: 686,000.00, institution 294,000.00.
        assert sorted(d.gross_fen for d in distributions) == [30_000_000, 70_000_000]
        first, second = distributions
        assert (first.deductions_fen, second.deductions_fen) == (2_000_000, 0)
        assert all(
            d.net_fen == d.gross_fen - d.deductions_fen and d.team_fen + d.institution_fen == d.net_fen
            for d in distributions
        )
        assert (sum(d.team_fen for d in distributions), sum(d.institution_fen for d in distributions)) == (
            68_600_000,
            29_400_000,
        )
        for d in distributions:
            assert sum(line.amount_fen for line in lines if line.distribution_id == d.id) == d.net_fen
        assert sum(line.amount_fen for line in lines) == 98_000_000
    finally:
        await database.dispose()
