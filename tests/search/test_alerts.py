"""Alerts: a newly published listing that matches a subscription is stored as a notification and
pushed, signed, to the organization's webhook: a real HTTP receiver on loopback, which the egress
guard admits only with the development setting (``webhook_allow_insecure``) these tests turn on."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.db import Database
from core.egress import EgressClient, EgressPolicy
from core.settings import Settings
from search.alerts.tasks import deliver_once, evaluate_once
from tests.fixtures.app import login
from tests.market.test_listings import ENTERPRISE, INSTITUTE, achievement, demand
from tests.search.test_matching import _published


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_insecure": True})


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = Receiver(url=f"http://127.0.0.1:{port}/hook")

    async def hook(request: Request) -> Response:
        body = await request.body()
        if state.fail_next:
            state.fail_next -= 1
            return Response(status_code=503)
        state.received.append((dict(request.headers), body))
        return Response(status_code=204)

    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield state
    server.should_exit = True
    await task


async def test_matching_listing_notifies_and_pushes_a_signed_webhook(
    client: httpx.AsyncClient, database: Database, receiver: Receiver
) -> None:
    enterprise, institute = await login(client, ENTERPRISE), await login(client, INSTITUTE)
    me = (await client.get("/api/v1/users/me", headers=enterprise)).json()
    hook = await client.put(
        f"/api/v1/organizations/{me['organization_id']}/webhook", json={"url": receiver.url}, headers=enterprise
    )
    assert hook.status_code == 200 and hook.json()["secret"]
    secret = hook.json()["secret"]

    smell = await _published(client, enterprise, "demands", demand())
    reply = await client.post(
        "/api/v1/subscriptions",
        json={"listing_kind": "demand", "listing_id": smell["id"], "threshold": 0.3},
        headers=enterprise,
    )
    assert reply.status_code == 201
    query_sub = await client.post(
        "/api/v1/subscriptions",
        json={"query": "稀土永磁", "target_kind": "achievement", "threshold": 0.9},
        headers=enterprise,
    )
    assert query_sub.status_code == 201

    receiver.fail_next = 1  # the first push fails: it must be retried, not lost
    manure = await _published(
        client,
        institute,
        "achievements",
        achievement(
            title="规模化牧场粪污除臭与液体肥利用技术",
            field="environment",
            ip_numbers=[],
            summary="针对奶牛场干湿分离后的液体粪污, 采用微生物除臭与好氧发酵, 臭气浓度降低90%, 出水作液体肥还田。",
            keywords=["粪污处理", "除臭", "液体肥"],
            maturity="industrialized",
            trl=8,
            price="1500000",
        ),
    )
    assert await evaluate_once(database) >= 1
    inbox = (await client.get("/api/v1/notifications", params={"unread": True}, headers=enterprise)).json()
    assert inbox["total"] == 1  # the rare-earth query subscription's 0.9 threshold is not reached
    note = inbox["items"][0]
    assert note["listing_id"] == manure["id"] and note["score"] >= 0.3 and note["reasons"]

    async with EgressClient(EgressPolicy(allow_insecure=True)) as egress:
        assert await deliver_once(database, egress) == 1
        assert receiver.received == []  # 503: retried later
        retrying = (await client.get("/api/v1/notifications", headers=enterprise)).json()["items"][0]
        assert (retrying["delivery_status"], retrying["delivery_attempts"], retrying["delivery_error"]) == (
            "pending",
            1,
            "HTTP 503",
        )
        await asyncio.sleep(2.1)
        assert await deliver_once(database, egress) == 1
    headers, body = receiver.received[0]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["techmarket-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert json.loads(body)["data"]["listing_id"] == manure["id"]
    assert headers["techmarket-event-id"] == f"ntf_{note['id']}"

    read = await client.post(f"/api/v1/notifications/{note['id']}/read", headers=enterprise)
    assert read.json()["read_at"] and read.json()["delivered_at"]
    assert (read.json()["delivery_status"], read.json()["delivery_attempts"], read.json()["delivery_error"]) == (
        "delivered",
        2,
        None,
    )
    assert (await client.get("/api/v1/notifications", params={"unread": True}, headers=enterprise)).json()["total"] == 0
    assert (await client.post(f"/api/v1/notifications/{note['id']}/read", headers=institute)).status_code == 404


async def test_webhook_url_must_be_http_and_not_the_platform(client: httpx.AsyncClient) -> None:
    """Even with the development setting (http allowed): another scheme, or the platform itself."""
    enterprise = await login(client, ENTERPRISE)
    me = (await client.get("/api/v1/users/me", headers=enterprise)).json()
    url = f"/api/v1/organizations/{me['organization_id']}/webhook"
    ftp = await client.put(url, json={"url": "ftp://example.cn/x"}, headers=enterprise)
    assert ftp.status_code == 422 and ftp.json()["errors"][0]["code"] == "invalid_webhook_url"
    itself = await client.put(url, json={"url": "http://testserver/api/v1/healthz"}, headers=enterprise)
    assert itself.status_code == 422 and itself.json()["errors"][0]["code"] == "webhook_points_to_platform"
    other = await client.put(url, json={"url": "https://example.cn/hook"}, headers=await login(client, INSTITUTE))
    assert other.status_code == 403


async def test_subscription_needs_one_source_and_an_own_listing(client: httpx.AsyncClient) -> None:
    enterprise, institute = await login(client, ENTERPRISE), await login(client, INSTITUTE)
    both = await client.post(
        "/api/v1/subscriptions",
        json={"query": "稀土", "target_kind": "achievement", "listing_kind": "demand", "listing_id": 1},
        headers=enterprise,
    )
    assert both.status_code == 422
    theirs = (await client.post("/api/v1/demands", json=demand(), headers=enterprise)).json()
    stolen = await client.post(
        "/api/v1/subscriptions", json={"listing_kind": "demand", "listing_id": theirs["id"]}, headers=institute
    )
    assert (stolen.status_code, stolen.json()["code"]) == (403, "not_own_listing")
