"""On PostgreSQL: 200 concurrent confirmations of the same milestone pay once and distribute once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from sqlalchemy import func, select

from contracts.payment.models import Payment
from contracts.payment.stub import StubProvider
from contracts.reward.models import Distribution
from contracts.settings import PaymentSettings
from core import migrations
from core.db import Database, create_engine
from core.settings import Settings
from market.app import create_app
from market.demo import load_demo
from tests.contracts.conftest import PROVIDER_KEY, WEBHOOK_SECRET, free_socket, org_id, published_achievement, serve, wait_for
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract


async def test_two_hundred_concurrent_confirmations_pay_once(postgres_database_factory: Callable[[], str], settings: Settings) -> None:
    url = await asyncio.to_thread(postgres_database_factory)
    await asyncio.to_thread(migrations.upgrade, url)
    database = Database(create_engine(url, pool_size=20, timeout=30))
    try:
        async with database.unit_of_work() as session:
            await load_demo(session, Settings(env="development"))
        backend_sock, stub_sock = free_socket(), free_socket()
        backend_url = f"http://127.0.0.1:{backend_sock.getsockname()[1]}"
        stub = StubProvider(webhook_url=f"{backend_url}/api/v1/payments/webhook", webhook_secret=WEBHOOK_SECRET, api_key=PROVIDER_KEY)
        app = create_app(settings, database=database)
        app.state.payment_settings = PaymentSettings(
            env="test", provider_url=f"http://127.0.0.1:{stub_sock.getsockname()[1]}", provider_api_key=PROVIDER_KEY,
            webhook_secret=WEBHOOK_SECRET, timeout_seconds=5, backoff_seconds=0.05,
        )
        async with serve(stub.app, stub_sock), serve(app, backend_sock), httpx.AsyncClient(
            base_url=backend_url, timeout=60, limits=httpx.Limits(max_connections=200)
        ) as api:
            h = await headers_of(api)
            achievement = await published_achievement(database, INSTITUTE)
            contract = await registered_contract(api, h, transfer_contract(achievement, await org_id(database, ENTERPRISE)))
            cid, mid = contract["id"], contract["milestones"][0]["id"]

            replies = await asyncio.gather(
                *[api.post(f"/api/v1/contracts/{cid}/milestones/{mid}/pay", headers=h["buyer"]) for _ in range(200)]
            )
            assert [r.status_code for r in replies] == [200] * 200, {r.status_code: r.text for r in replies}
            assert len({r.json()["id"] for r in replies}) == 1

            async def settled() -> bool:
                async with database.unit_of_work() as session:
                    return (await session.execute(select(func.count()).select_from(Distribution).where(Distribution.contract_id == cid))).scalar_one() > 0

            await wait_for(settled)
            await asyncio.sleep(0.3)  # let any late duplicate delivery land
            async with database.unit_of_work() as session:
                assert (await session.execute(select(func.count()).select_from(Payment).where(Payment.contract_id == cid))).scalar_one() == 1
                assert (await session.execute(select(func.count()).select_from(Distribution).where(Distribution.contract_id == cid))).scalar_one() == 1
            assert len(stub.state.intents) == 1
    finally:
        await database.dispose()
