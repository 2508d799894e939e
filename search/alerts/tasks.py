"""Background work of alerts: score newly published listings, push notifications to webhooks.

Webhook calls run outside any database transaction (the events are leased first), so a slow or
dead receiver holds no lock and never slows publishing; failures retry with backoff, each
delivery carries a stable event id for the receiver to deduplicate.
"""

from __future__ import annotations

import json
import time

import httpx
import structlog

from core import outbox
from core.db import Database
from core.security import hmac_sha256_hex
from core.types import utcnow
from search.alerts.models import payload_of
from search.alerts.repository import AlertRepository
from search.alerts.service import ALERT_TOPIC, WEBHOOK_TOPIC, AlertService

log = structlog.get_logger("techmarket.alerts")
MAX_ATTEMPTS = 8
LEASE_SECONDS = 60
DELIVERY_TIMEOUT = 5.0
SIGNATURE_HEADER = "Techmarket-Signature"


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


async def deliver_once(database: Database, http: httpx.AsyncClient, *, limit: int = 20) -> int:
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [WEBHOOK_TOPIC], limit=limit)
        outbox.lease(events, LEASE_SECONDS)
        jobs = []
        repository = AlertRepository(session)
        for event in events:
            notification = await repository.notification(int(event.payload["notification_id"]))
            endpoint = await repository.webhook_of(notification.organization_id) if notification else None
            jobs.append((event.id, notification, endpoint))
    outcomes: dict[int, str | None] = {}
    for event_id, notification, endpoint in jobs:
        if notification is None or endpoint is None:
            outcomes[event_id or 0] = None  # nothing to deliver any more
            continue
        body = json.dumps(payload_of(notification), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Techmarket-Event-Id": f"ntf_{notification.id}",
            SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
        }
        try:
            reply = await http.post(endpoint.url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT)
            outcomes[event_id or 0] = None if reply.is_success else f"HTTP {reply.status_code}"
        except httpx.HTTPError as exc:
            outcomes[event_id or 0] = type(exc).__name__
    if not outcomes:
        return 0
    async with database.unit_of_work() as session:
        repository = AlertRepository(session)
        done = []
        for event_id, error in outcomes.items():
            event = await session.get(outbox.OutboxEvent, event_id)
            if event is None:
                continue
            notification = await repository.notification(int(event.payload["notification_id"]))
            if error is None or event.attempts + 1 >= MAX_ATTEMPTS:
                done.append(event_id)
                if notification is not None:
                    notification.delivered_at = utcnow() if error is None else None
                    notification.delivery_error = error
            else:
                outbox.schedule_retry(event, error)
                log.info("webhook_retry", event_id=event_id, error=error, attempt=event.attempts)
        await outbox.mark_processed(session, done)
    return len(outcomes)
