"""Background work of alerts: score newly published listings; push to organizations' webhooks both
match alerts and contract notifications (``market.notifications``: one signed delivery for both).

Webhook calls run outside any database transaction (the events are leased first), so a slow or
dead receiver holds no lock and never slows publishing. Each delivery stands alone: whatever goes
wrong with one (a refused or malformed URL, a timeout, a receiver's error, a crash) is recorded on
that notification (attempts, last error) and retried with backoff; after the last attempt, or at
once when the URL itself is refused, it is dead-lettered (``delivery_status`` failed, shown to the
organization). A batch's deliveries run concurrently, at most ``PER_DESTINATION`` at a time to one
host and port and ``CONCURRENCY`` in all, each bounded in time, every one through the egress guard
(core.egress). Each delivery carries a stable event id for the receiver to deduplicate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.db import Database
from core.egress import EgressClient, EgressRefused, check_url
from core.security import hmac_sha256_hex
from core.types import utcnow
from market.notifications.delivery import MAX_ATTEMPTS, settle
from market.notifications.models import NotificationDelivery
from search.alerts.models import Notification, payload_of
from search.alerts.repository import AlertRepository
from search.alerts.service import ALERT_TOPIC, WEBHOOK_TOPIC, AlertService

log = structlog.get_logger("techmarket.alerts")
__all__ = ["MAX_ATTEMPTS", "deliver_once", "evaluate_once", "sign"]
LEASE_SECONDS = 60
LEASE_MARGIN = 5  # seconds kept to record the outcomes before another worker may claim the events again
CONCURRENCY = 16  # deliveries in flight per worker
PER_DESTINATION = 2  # ... of which to one host and port
SIGNATURE_HEADER = "Techmarket-Signature"
ERROR_LENGTH = 500  # Notification.delivery_error


def sign(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={hmac_sha256_hex(secret, str(timestamp).encode() + b'.' + body)}"


async def evaluate_once(database: Database, *, limit: int = 50) -> int:
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [ALERT_TOPIC], limit=limit)
        service = AlertService(AlertRepository(session))
        for event in events:
            await service.evaluate(event.payload["kind"], int(event.payload["id"]))
        await outbox.mark_processed(session, [e.id for e in events if e.id is not None])
        return len(events)


@dataclass(frozen=True)
class _Job:
    event_id: int
    notification_id: int
    url: str
    secret: str
    body: bytes
    name: str  # the receiver's deduplication id (Techmarket-Event-Id)
    push: bool = False


@dataclass(frozen=True)
class _Outcome:
    event_id: int
    notification_id: int | None = None  # an alert's, or (``push``) a NotificationDelivery's id
    error: str | None = None
    permanent: bool = False  # retrying cannot help: dead-letter now
    deferred: bool = False  # not tried before the lease ran short: claimable again at once, no attempt counted
    gone: bool = False  # the notification or the webhook no longer exists
    push: bool = False  # a contract notification's push rather than a match alert


def describe(exc: BaseException) -> str:
    """A delivery failure as the organization sees it: a stable code first, then what happened."""
    if isinstance(exc, EgressRefused):
        text = str(exc)
    elif isinstance(exc, TimeoutError | httpx.TimeoutException):
        text = "timeout"
    elif isinstance(exc, httpx.ConnectError):
        text = f"connect_failed: {exc}"
    elif isinstance(exc, httpx.HTTPError):
        text = f"http_error: {type(exc).__name__}"
    else:
        text = f"error: {type(exc).__name__}"
    return text[:ERROR_LENGTH]


async def deliver_once(database: Database, egress: EgressClient, *, limit: int = 20) -> int:
    """Push the due notifications of up to ``limit`` organizations (one event per organization is
    claimable at a time: outbox order per key); returns how many events were handled."""
    outcomes: list[_Outcome] = []
    jobs: list[_Job] = []
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [WEBHOOK_TOPIC], limit=limit)
        outbox.lease(events, LEASE_SECONDS)
        repository = AlertRepository(session)
        for event in events:
            assert event.id is not None
            push = "delivery_id" in event.payload
            try:
                notification_id = int(event.payload["delivery_id" if push else "notification_id"])
            except (KeyError, TypeError, ValueError):
                outcomes.append(_Outcome(event.id, error="invalid_event", permanent=True))
                continue
            notification = await _pushed(session, notification_id, push)
            owner = notification.organization_id if notification else None
            endpoint = await repository.webhook_of(owner) if owner is not None else None
            if notification is None or endpoint is None:
                outcomes.append(_Outcome(event.id, notification_id, gone=True, push=push))
                continue
            if isinstance(notification, NotificationDelivery):
                payload, name = notification.payload, notification.event_id
            else:
                payload, name = payload_of(notification), f"ntf_{notification_id}"
            body = json.dumps(payload, ensure_ascii=False).encode()
            jobs.append(_Job(event.id, notification_id, endpoint.url, endpoint.secret, body, name, push))
    if not events:
        return 0
    deadline = asyncio.get_running_loop().time() + LEASE_SECONDS - LEASE_MARGIN  # recorded before the lease ends
    gate = asyncio.Semaphore(CONCURRENCY)
    per_destination: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(PER_DESTINATION))
    outcomes += await asyncio.gather(*(_deliver(job, egress, gate, per_destination, deadline) for job in jobs))
    await _record(database, outcomes)
    return len(outcomes)


async def _deliver(
    job: _Job,
    egress: EgressClient,
    gate: asyncio.Semaphore,
    per_destination: defaultdict[str, asyncio.Semaphore],
    deadline: float,
) -> _Outcome:
    """One delivery; never raises (but for cancellation): its outcome is its event's alone."""
    try:
        target = check_url(job.url, egress.policy)
    except EgressRefused as refusal:
        return _Outcome(job.event_id, job.notification_id, describe(refusal), permanent=True, push=job.push)
    bound = 2 * egress.policy.timeout_seconds  # httpx times each phase; this bounds the whole call
    async with (
        per_destination[f"{target.host}:{target.port}"],
        gate,
    ):  # a crowded destination holds no global slot while it waits
        if asyncio.get_running_loop().time() + bound > deadline:
            return _Outcome(job.event_id, job.notification_id, deferred=True, push=job.push)
        headers = {
            "Content-Type": "application/json",
            "Techmarket-Event-Id": job.name,
            SIGNATURE_HEADER: sign(job.secret, job.body, int(time.time())),
        }
        try:
            async with asyncio.timeout(bound):
                status = await egress.post(job.url, content=job.body, headers=headers)
        except Exception as exc:  # whatever it is, it stays with this delivery
            if not isinstance(exc, EgressRefused | httpx.HTTPError | TimeoutError):
                log.exception("webhook_delivery_crashed", event_id=job.event_id)
            permanent = isinstance(exc, EgressRefused) and exc.permanent
            return _Outcome(job.event_id, job.notification_id, describe(exc), permanent=permanent, push=job.push)
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return _Outcome(job.event_id, job.notification_id, error, push=job.push)


async def _pushed(session: AsyncSession, row_id: int, push: bool) -> Notification | NotificationDelivery | None:
    return await session.get(NotificationDelivery if push else Notification, row_id)


async def _record(database: Database, outcomes: list[_Outcome]) -> None:
    async with database.unit_of_work() as session:
        done = []
        for outcome in outcomes:
            event = await session.get(outbox.OutboxEvent, outcome.event_id)
            if event is None or event.processed_at is not None:
                continue
            if outcome.deferred:
                event.available_at = utcnow()
                continue
            if outcome.gone:
                done.append(outcome.event_id)
                continue
            row = await _pushed(session, outcome.notification_id, outcome.push) if outcome.notification_id else None
            if settle(event, row, outcome.error, permanent=outcome.permanent):
                done.append(outcome.event_id)  # delivered, or dead-lettered with its last error
        await outbox.mark_processed(session, done)
