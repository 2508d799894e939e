"""Webhook receivers on loopback (a real HTTP server, and one that accepts and never answers) and
alerts queued straight in the database for organizations of the tests' own.

Loopback is reachable only through the development setting (``allow_insecure``) or, for the
tripwire, not at all: that is what the tests show.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import outbox
from core.db import Database
from market.identity.models import Organization, OrganizationKind, OrganizationStatus
from search.alerts.models import DeliveryStatus, ListingKindName, Notification, Subscription, WebhookEndpoint
from search.alerts.service import WEBHOOK_TOPIC


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class HttpReceiver:
    """Answers ``status`` (and ``location``) to every POST /hook; keeps what it received."""

    port: int
    status: int = 204
    location: str | None = None
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@asynccontextmanager
async def http_receiver(status: int = 204, location: str | None = None) -> AsyncIterator[HttpReceiver]:
    state = HttpReceiver(port=free_port(), status=status, location=location)

    async def hook(request: Request) -> Response:
        state.received.append((dict(request.headers), await request.body()))
        headers = {"Location": state.location} if state.location else None
        return Response(status_code=state.status, headers=headers)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=state.port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        await task


@dataclass
class SilentReceiver:
    """Accepts connections, reads what comes, never answers (a hung receiver). Also a tripwire:
    ``accepted`` counts every connection that reached it."""

    port: int
    accepted: int = 0
    open: int = 0
    peak: int = 0
    accepted_at: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@asynccontextmanager
async def silent_receiver(hosts: tuple[str, ...] = ("127.0.0.1",)) -> AsyncIterator[SilentReceiver]:
    state = SilentReceiver(port=free_port())
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        state.accepted += 1
        state.accepted_at.append(time.monotonic())
        state.open += 1
        state.peak = max(state.peak, state.open)
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            state.open -= 1
            writer.close()

    servers = [await asyncio.start_server(hold, host, state.port) for host in hosts]
    try:
        yield state
    finally:
        for server in servers:
            server.close()
        for writer in writers:
            writer.close()
        for server in servers:
            await server.wait_closed()


async def organization(database: Database, name: str) -> int:
    """A verified organization of the test's own (one webhook per organization)."""
    async with database.unit_of_work() as session:
        row = Organization(
            kind=OrganizationKind.enterprise, name=name, region="150100", status=OrganizationStatus.verified
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


async def queue_alert(database: Database, organization_id: int, url: str, *, title: str = "稀土永磁回收技术") -> int:
    """A notification for the organization and its delivery event, the webhook set to ``url`` as
    stored (no validation here: rows saved before the rule, or written by hand, are the point)."""
    async with database.unit_of_work() as session:
        endpoint = (
            (
                await session.execute(
                    select(WebhookEndpoint).where(col(WebhookEndpoint.organization_id) == organization_id)
                )
            )
            .scalars()
            .first()
        )
        if endpoint is None:
            session.add(WebhookEndpoint(organization_id=organization_id, url=url, secret="s" * 43))
        else:
            endpoint.url = url
        subscription = Subscription(
            organization_id=organization_id, query="稀土", target_kind=ListingKindName.achievement, threshold=0.1
        )
        session.add(subscription)
        await session.flush()
        assert subscription.id is not None
        notification = Notification(
            organization_id=organization_id,
            subscription_id=subscription.id,
            listing_kind=ListingKindName.achievement,
            listing_id=900_000 + subscription.id,
            title=title,
            score=0.8,
            reasons=["匹配: 稀土"],
            delivery_status=DeliveryStatus.pending,
        )
        session.add(notification)
        await session.flush()
        assert notification.id is not None
        await outbox.enqueue(session, WEBHOOK_TOPIC, f"org:{organization_id}", {"notification_id": notification.id})
        return notification.id


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus | None
    attempts: int
    error: str | None
    delivered: bool
    event_done: bool


async def delivery_of(database: Database, notification_id: int) -> Delivery:
    async with database.unit_of_work() as session:
        row = await session.get(Notification, notification_id)
        assert row is not None
        events = (
            (await session.execute(select(outbox.OutboxEvent).where(outbox.OutboxEvent.topic == WEBHOOK_TOPIC)))
            .scalars()
            .all()
        )
        event = next(e for e in events if e.payload.get("notification_id") == notification_id)
        return Delivery(
            row.delivery_status,
            row.delivery_attempts,
            row.delivery_error,
            row.delivered_at is not None,
            event.processed_at is not None,
        )


async def make_due(database: Database) -> None:
    """Let every waiting delivery retry now (as if its backoff had passed)."""
    async with database.unit_of_work() as session:
        pending = (
            (
                await session.execute(
                    select(outbox.OutboxEvent).where(
                        outbox.OutboxEvent.topic == WEBHOOK_TOPIC, outbox.OutboxEvent.processed_at.is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
        for event in pending:
            event.available_at = event.created_at
