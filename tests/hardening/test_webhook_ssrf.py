"""Webhook URLs cannot reach the platform's own network (SSRF), at saving and at every delivery.

The issue's examples were accepted and delivered to: http://localhost, http://[::1], http://0.0.0.0,
http://169.254.169.254, http://2130706433, https://user:pw@127.0.0.1, internal host names. One guard
(core.egress) refuses them when saved (422, a code per cause, field ``body.url``) and again when
sending, after resolving the name itself and connecting only to the address it checked. Loopback
receivers are reachable only through the development setting, which production refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from core.db import Database
from core.egress import EgressClient, EgressPolicy
from core.settings import Settings
from search.alerts.models import DeliveryStatus, WebhookEndpoint
from search.alerts.tasks import deliver_once
from tests.fixtures.app import TEST_SECRET, login
from tests.hardening.webhooks import delivery_of, http_receiver, organization, queue_alert, silent_receiver
from tests.market.test_listings import ENTERPRISE

REFUSED_AT_SAVE = [
    ("http://localhost:8000/hook", "webhook_https_required"),
    ("http://[::1]:8000/hook", "webhook_https_required"),
    ("https://localhost/hook", "webhook_host_not_allowed"),
    ("https://LOCALHOST./hook", "webhook_host_not_allowed"),
    ("https://[::1]/hook", "webhook_address_not_allowed"),
    ("https://0.0.0.0/hook", "webhook_address_not_allowed"),
    ("https://[::]/hook", "webhook_address_not_allowed"),
    ("https://169.254.169.254/latest/meta-data/", "webhook_address_not_allowed"),
    ("https://[::ffff:169.254.169.254]/latest/meta-data/", "webhook_address_not_allowed"),
    ("https://[::ffff:127.0.0.1]/hook", "webhook_address_not_allowed"),
    ("https://[64:ff9b::a00:1]/hook", "webhook_address_not_allowed"),  # NAT64 form of 10.0.0.1
    ("https://2130706433/hook", "webhook_host_not_allowed"),  # 127.0.0.1 as one number
    ("https://0x7f.1/hook", "webhook_host_not_allowed"),
    ("https://127.1/hook", "webhook_host_not_allowed"),
    ("https://user:pw@127.0.0.1/hook", "webhook_userinfo_not_allowed"),
    ("https://user:pw@hooks.example.cn/hook", "webhook_userinfo_not_allowed"),
    ("https://metadata.google.internal/computeMetadata/v1/", "webhook_host_not_allowed"),
    ("https://meilisearch/", "webhook_host_not_allowed"),
    ("https://postgres.local/", "webhook_host_not_allowed"),
    ("https://10.0.0.8/hook", "webhook_address_not_allowed"),
    ("https://172.16.5.4/hook", "webhook_address_not_allowed"),
    ("https://192.168.1.1/hook", "webhook_address_not_allowed"),
    ("https://100.64.0.1/hook", "webhook_address_not_allowed"),  # CGNAT
    ("https://224.0.0.251/hook", "webhook_address_not_allowed"),  # multicast
    ("https://240.0.0.1/hook", "webhook_address_not_allowed"),  # reserved
    ("https://[fd00::1]/hook", "webhook_address_not_allowed"),
    ("https://[fe80::1]/hook", "webhook_address_not_allowed"),
    ("https://[ff02::1]/hook", "webhook_address_not_allowed"),
    ("https://hooks.example.cn:8080/hook", "webhook_port_not_allowed"),
    ("https://hooks.example.cn:22/hook", "webhook_port_not_allowed"),
    ("http://ex\tample.com/", "invalid_webhook_url"),
    ("http://[::1/", "invalid_webhook_url"),
    ("https://hooks.example.cn\\@evil.cn/", "invalid_webhook_url"),
    ("https://hooks.example.cn:99999/", "invalid_webhook_url"),
    ("ftp://example.cn/x", "invalid_webhook_url"),
]


async def _webhook_url(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    return f"/api/v1/organizations/{me['organization_id']}/webhook"


async def _stored(database: Database) -> Sequence[str]:
    async with database.unit_of_work() as session:
        return (await session.execute(select(WebhookEndpoint.url))).scalars().all()


async def test_internal_and_malformed_urls_are_refused_when_saved(
    client: httpx.AsyncClient, database: Database
) -> None:
    enterprise = await login(client, ENTERPRISE)
    path = await _webhook_url(client, enterprise)
    before = await _stored(database)
    for url, code in REFUSED_AT_SAVE:
        reply = await client.put(path, json={"url": url}, headers=enterprise)
        assert reply.status_code == 422, (url, reply.status_code, reply.text)
        problem = reply.json()
        assert problem["code"] == "invalid_webhook_url", (url, problem)
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.url", code)], (url, problem)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["errors"][0]["message"]), problem
    assert await _stored(database) == before  # nothing written by any refusal

    ok = await client.put(path, json={"url": "https://hooks.example.cn/techmarket"}, headers=enterprise)
    assert ok.status_code == 200 and ok.json()["url"] == "https://hooks.example.cn/techmarket"


async def test_the_development_setting_admits_loopback_http_but_never_userinfo_or_malformed_urls(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_insecure": True})
    enterprise = await login(client, ENTERPRISE)
    path = await _webhook_url(client, enterprise)
    assert (await client.put(path, json={"url": "http://127.0.0.1:8123/hook"}, headers=enterprise)).status_code == 200
    assert (await client.put(path, json={"url": "http://localhost:8123/hook"}, headers=enterprise)).status_code == 200
    for url, code in [
        ("http://user:pw@127.0.0.1:8123/", "webhook_userinfo_not_allowed"),
        ("http://[::1/", "invalid_webhook_url"),
        ("http://ex\tample.com/", "invalid_webhook_url"),
    ]:
        reply = await client.put(path, json={"url": url}, headers=enterprise)
        assert (reply.status_code, reply.json()["errors"][0]["code"]) == (422, code), url


def test_production_refuses_the_development_setting() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_ALLOW_INSECURE"):
        Settings(env="production", secret_key=TEST_SECRET, webhook_allow_insecure=True)
    assert Settings(env="test", secret_key=TEST_SECRET).webhook_allow_insecure is False  # off by default


async def test_stored_internal_urls_are_refused_at_delivery_and_nothing_connects(database: Database) -> None:
    """Rows saved before the rule (or by hand) pointing at a live loopback listener: the strict
    guard refuses each before any connection (the listener counts none), dead-lettered at once;
    the same listener is reached as soon as the development setting admits loopback."""
    org = await organization(database, "回调防护测试单位")
    async with silent_receiver(hosts=("127.0.0.1", "::1")) as tripwire:
        port = tripwire.port
        strict = EgressPolicy(allowed_ports=frozenset({443, port}), timeout_seconds=1)
        cases = [
            (f"http://localhost:{port}/hook", "https_required"),
            (f"http://127.0.0.1:{port}/hook", "https_required"),
            (f"https://localhost:{port}/hook", "host_not_allowed"),
            (f"https://[::1]:{port}/hook", "address_not_allowed"),
            (f"https://0.0.0.0:{port}/hook", "address_not_allowed"),
            (f"https://127.0.0.1:{port}/hook", "address_not_allowed"),
            (f"https://[::ffff:127.0.0.1]:{port}/hook", "address_not_allowed"),
            (f"https://2130706433:{port}/hook", "host_not_allowed"),
            (f"https://user:pw@127.0.0.1:{port}/hook", "userinfo_not_allowed"),
            ("https://169.254.169.254/latest/meta-data/", "address_not_allowed"),
            ("http://ex\tample.com/", "invalid_url"),
        ]
        async with EgressClient(strict) as egress:
            for url, code in cases:
                notification = await queue_alert(database, org, url)
                assert await deliver_once(database, egress) == 1
                state = await delivery_of(database, notification)
                assert (state.status, state.attempts, state.event_done) == (DeliveryStatus.failed, 1, True), (
                    url,
                    state,
                )
                assert state.error is not None and state.error.startswith(code), (url, state.error)
        assert tripwire.accepted == 0

        notification = await queue_alert(database, org, f"http://127.0.0.1:{port}/hook")
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=0.3)) as egress:
            assert await deliver_once(database, egress) == 1
        assert tripwire.accepted == 1  # the control: the listener was reachable all along
        assert (await delivery_of(database, notification)).error == "timeout"


async def test_the_name_is_resolved_checked_and_connected_to_once(database: Database) -> None:
    """No DNS rebinding: the transport resolves the name itself, refuses it if any answer is internal,
    and connects to the very address it checked (one lookup per connection, none by the system)."""
    org = await organization(database, "回调解析测试单位")
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:  # public first, then an internal one too
        lookups.append(host)
        return ["93.184.216.34", "127.0.0.1"]

    async with silent_receiver() as tripwire:
        policy = EgressPolicy(allowed_ports=frozenset({443, tripwire.port}), timeout_seconds=1, resolver=rebinding)
        notification = await queue_alert(database, org, f"https://hooks.example.cn:{tripwire.port}/hook")
        async with EgressClient(policy) as egress:
            assert await deliver_once(database, egress) == 1
        state = await delivery_of(database, notification)
        assert state.status == DeliveryStatus.pending and state.attempts == 1  # a name may be fixed: retried
        assert state.error is not None and state.error.startswith("address_not_allowed: hooks.example.cn → 127.0.0.1")
        assert tripwire.accepted == 0 and lookups == ["hooks.example.cn"]

    async with http_receiver() as receiver:
        answers = iter([["127.0.0.1"]])  # a second lookup would raise: there is none

        async def once(host: str, port: int) -> list[str]:
            lookups.append(host)
            return next(answers)

        lookups.clear()
        other = await organization(database, "回调解析测试单位二")
        notification = await queue_alert(database, other, f"http://hooks.example.cn:{receiver.port}/hook")
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=2, resolver=once)) as egress:
            assert await deliver_once(database, egress) == 1
        assert (await delivery_of(database, notification)).status == DeliveryStatus.delivered
        assert lookups == ["hooks.example.cn"]
        headers, _ = receiver.received[0]
        assert headers["host"] == f"hooks.example.cn:{receiver.port}"  # the URL's host, sent to the checked address


async def test_redirects_are_not_followed(database: Database) -> None:
    org = await organization(database, "回调重定向测试单位")
    async with http_receiver() as inside, http_receiver(status=307) as outside:
        outside.location = inside.url
        notification = await queue_alert(database, org, outside.url)
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=2)) as egress:
            assert await deliver_once(database, egress) == 1
        assert len(outside.received) == 1 and inside.received == []
        state = await delivery_of(database, notification)
        assert (state.status, state.error) == (DeliveryStatus.pending, "HTTP 307")
