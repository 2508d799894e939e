"""The one rule for settling a push (webhook or e-mail) after an attempt: done, retried, or dead-lettered.

The push's outbox event carries the attempts and the backoff; the delivery row (an alert or a
``NotificationDelivery``) carries what its people see: status, attempts, the last error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import structlog

from core import outbox
from core.types import utcnow
from market.notifications.models import DeliveryStatus

log = structlog.get_logger("techmarket.notifications")
MAX_ATTEMPTS = 8


class Pushed(Protocol):
    delivered_at: datetime | None
    delivery_status: DeliveryStatus | None
    delivery_attempts: int
    delivery_error: str | None


def settle(event: outbox.OutboxEvent, row: Pushed | None, error: str | None, *, permanent: bool = False) -> bool:
    """Record one attempt's outcome; True when the event is finished (delivered or dead-lettered)."""
    attempts = event.attempts + 1
    if row is not None:
        row.delivery_attempts, row.delivery_error = attempts, error
    if error is None:
        event.attempts = attempts
        if row is not None:
            row.delivered_at, row.delivery_status = utcnow(), DeliveryStatus.delivered
        return True
    if permanent or attempts >= MAX_ATTEMPTS:
        event.attempts, event.last_error = attempts, error
        if row is not None:
            row.delivered_at, row.delivery_status = None, DeliveryStatus.failed
        log.warning("push_dead_lettered", topic=event.topic, event_id=event.id, error=error, attempts=attempts)
        return True
    outbox.schedule_retry(event, error)
    if row is not None:
        row.delivery_status = DeliveryStatus.pending
    log.info("push_retry", topic=event.topic, event_id=event.id, error=error, attempt=attempts)
    return False
