"""Payouts at the provider stub (a real HTTP server): one payout per Idempotency-Key, retried through
injected 500s, and settled to paid or failed with an event each."""

from __future__ import annotations

import httpx

from contracts.payment.client import PaymentProvider
from contracts.payment.stub import StubProvider
from contracts.settings import PaymentSettings
from tests.contracts.conftest import PROVIDER_KEY, WEBHOOK_SECRET, free_socket, serve, wait_for


async def test_payouts_are_idempotent_retried_and_settled() -> None:
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stub = StubProvider(webhook_url=None, webhook_secret=WEBHOOK_SECRET, api_key=PROVIDER_KEY)
    settings = PaymentSettings(
        env="test", provider_url=url, provider_api_key=PROVIDER_KEY, webhook_secret=WEBHOOK_SECRET, backoff_seconds=0.01
    )
    async with serve(stub.app, sock), httpx.AsyncClient() as http:
        provider = PaymentProvider(http, settings)
        stub.faults.fail_next = 2  # two 500s: the client retries with the same key
        first = await provider.create_payout(12_345, {"name": "包头稀土研究院", "account": "6222"}, {"a": "1"}, "k-1")
        again = await provider.create_payout(12_345, {"name": "包头稀土研究院", "account": "6222"}, {"a": "1"}, "k-1")
        failing = await provider.create_payout(100, {"name": "某公司", "account": "fail-0001"}, {}, "k-2")
        assert first.id == again.id and first.status == "pending" and first.amount == 12_345
        assert len(stub.state.payouts) == 2

        async def settled() -> bool:
            return {p.status for p in await provider.list_payouts()} == {"paid", "failed"}

        await wait_for(settled)
        done = await provider.get_payout(failing.id)
        assert (done.status, done.failure_code, done.version) == ("failed", "account_closed", 2)
        assert [e["type"] for e in stub.state.events].count("payout.paid") == 1
