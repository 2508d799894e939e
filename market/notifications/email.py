"""Notification e-mail through the configured SMTP server (``TECHMARKET_SMTP_*``), with aiosmtplib.

Each e-mail is a push with its own outbox event (ordered per user): the worker leases a batch,
sends with no transaction open, and settles each by the same rule as webhooks (``delivery.settle``):
a failure (server down, timeout, a 4xx answer) is retried with backoff and the e-mail is sent once
the server answers again; a 5xx refusal of the message, or the last attempt, dead-letters it,
visible on the user's notification.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import structlog

from core import outbox
from core.db import Database
from core.settings import Settings
from market.notifications.delivery import settle
from market.notifications.models import EMAIL_TOPIC, NotificationDelivery

log = structlog.get_logger("techmarket.notifications.email")
LEASE_SECONDS = 120
CONCURRENCY = 4  # SMTP sessions open at once per worker
ERROR_LENGTH = 500


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "noreply@techmarket.cn"
    starttls: bool = True
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    async def send(self, address: str, subject: str, body: str, message_id: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, address, subject
        message["Message-ID"] = message_id
        message.set_content(f"{body}\n\n—— 科技成果网络交易平台 (本邮件由系统发送, 请勿回复)\n")
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout_seconds,
        )


def describe(exc: BaseException) -> tuple[str, bool]:
    """A failure as people see it (stable code first) and whether retrying cannot help."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"smtp_refused: {exc.code} {exc.message}"[:ERROR_LENGTH], 500 <= exc.code < 600
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return f"smtp_recipient_refused: {exc}"[:ERROR_LENGTH], True
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "smtp_timeout", False
    if isinstance(exc, aiosmtplib.SMTPConnectError | OSError):
        return f"smtp_connect_failed: {exc}"[:ERROR_LENGTH], False
    return f"smtp_error: {type(exc).__name__}: {exc}"[:ERROR_LENGTH], False


async def send_email_once(database: Database, mailer: Mailer | None, *, limit: int = 20) -> int:
    """Send the due e-mails of up to ``limit`` users; returns how many events were handled."""
    if mailer is None:
        return 0
    jobs: list[tuple[int, int | None, str, str, str, str]] = []
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [EMAIL_TOPIC], limit=limit)
        outbox.lease(events, LEASE_SECONDS)
        for event in events:
            assert event.id is not None
            row = await session.get(NotificationDelivery, int(event.payload.get("delivery_id") or 0))
            if row is None:
                jobs.append((event.id, None, "", "", "", ""))
                continue
            jobs.append(
                (event.id, row.id, row.recipient, row.subject, row.body, f"<{row.event_id}.{row.id}@techmarket>")
            )
    if not jobs:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(
        delivery_id: int | None, address: str, subject: str, body: str, message_id: str
    ) -> tuple[str, bool] | None:
        if delivery_id is None:
            return None
        async with gate:
            try:
                async with asyncio.timeout(2 * mailer.timeout_seconds):
                    await mailer.send(address, subject, body, message_id)
            except Exception as exc:  # whatever it is, it stays with this e-mail
                return describe(exc)
        return None

    outcomes = await asyncio.gather(*(attempt(*job[1:]) for job in jobs))
    async with database.unit_of_work() as session:
        done = []
        for (event_id, delivery_id, *_), outcome in zip(jobs, outcomes, strict=True):
            leased = await session.get(outbox.OutboxEvent, event_id)
            if leased is None or leased.processed_at is not None:
                continue
            if delivery_id is None:
                done.append(event_id)  # the push is gone (its user or organization was deleted)
                continue
            row = await session.get(NotificationDelivery, delivery_id)
            error, permanent = outcome if outcome is not None else (None, False)
            if settle(leased, row, error, permanent=permanent):
                done.append(event_id)
        await outbox.mark_processed(session, done)
    return len(jobs)
