"""The background loops: search relay, alert scoring and notification fan-out in one; webhook and
e-mail delivery in another.

Every step claims its own outbox events, so several of these workers (processes) can run at once on
PostgreSQL; the embedded profile runs one inside the API process. Webhook delivery waits on other
organizations' servers, so it has a loop of its own: a slow or silent receiver never delays the
search relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import structlog

from contracts.auction.closing import worker_steps as auction_steps
from contracts.payment.client import PaymentProvider
from contracts.settings import PaymentSettings
from contracts.voucher.tasks import expire_once, settle_once
from core.db import Database
from core.egress import EgressClient, EgressPolicy
from core.observability import SearchIndexMetrics, request_context
from core.settings import get_settings
from core.storage import ObjectStore, build_store
from market.attachments.cleanup import cleanup_once
from market.notifications.email import Mailer, send_email_once
from market.notifications.service import fan_out_once
from search.alerts.tasks import deliver_once, evaluate_once
from search.consistency import check_when_due
from search.outbox_relay import SearchRelay
from search.pipeline import SearchEngine
from search.semantic.tasks import VectorKeeper

log = structlog.get_logger("techmarket.worker")
Steps = list[tuple[str, Callable[[], Awaitable[int]]]]


def steps(
    database: Database,
    engine: SearchEngine,
    http: httpx.AsyncClient,
    *,
    metrics: SearchIndexMetrics | None = None,
    periodic: bool = False,
    mailer: Mailer | None = None,
    store: ObjectStore | None = None,
) -> Steps:
    """``periodic`` adds the search index's consistency check (at most every ``CHECK_EVERY``)."""
    relay = SearchRelay(database, engine, metrics=metrics)  # remembers an outage across rounds
    named: Steps = [
        ("search_relay", relay.step),
        ("alert_scoring", lambda: evaluate_once(database)),
        ("notification_fanout", lambda: fan_out_once(database, email=mailer is not None)),
        ("voucher_expiry", lambda: expire_once(database)),
        ("voucher_settlement", lambda: settle_once(database, lambda: payment_provider(http))),
        *auction_steps(database, http),  # closes lots at their end time, settles awards, refunds deposits
    ]
    if store is not None:
        named.append(("attachment_cleanup", lambda: cleanup_once(database, store)))
    model = get_settings().embedding_model
    if model is not None:
        named.append(("listing_vectors", VectorKeeper(database, model).step))
    if periodic:
        named.append(("search_consistency", lambda: check_when_due(database, engine, metrics=metrics)))
    return named


def payment_provider(http: httpx.AsyncClient) -> PaymentProvider:
    """The payment provider client from the environment (TECHMARKET_PAYMENT_*), built when first needed."""
    return PaymentProvider(http, PaymentSettings(env=get_settings().env))


def delivery_steps(database: Database, egress: EgressClient, mailer: Mailer | None = None) -> Steps:
    return [
        ("webhook_delivery", lambda: deliver_once(database, egress)),
        ("email_delivery", lambda: send_email_once(database, mailer)),
    ]


def _egress(policy: EgressPolicy | None) -> EgressClient:
    return EgressClient(policy or EgressPolicy.from_settings(get_settings()))


def _mailer(mailer: Mailer | None | bool) -> Mailer | None:
    """An explicit mailer, False for none, or (None) the environment's SMTP settings."""
    if mailer is False:
        return None
    return mailer if isinstance(mailer, Mailer) else Mailer.from_settings(get_settings())


async def run_once(
    database: Database,
    engine: SearchEngine,
    http: httpx.AsyncClient,
    *,
    egress_policy: EgressPolicy | None = None,
    mailer: Mailer | None | bool = None,
    store: ObjectStore | None = None,
) -> int:
    """Run every step until nothing is due (used by `techmarket worker --once` and tests)."""
    total = 0
    mail = _mailer(mailer)
    owned = store is None
    objects = store or build_store(get_settings())
    try:
        async with _egress(egress_policy) as egress:
            while True:
                handled = 0
                named = steps(database, engine, http, mailer=mail, store=objects) + delivery_steps(
                    database, egress, mail
                )
                for _, step in named:
                    with request_context():
                        handled += await step()
                if handled == 0:
                    return total
                total += handled
    finally:
        if owned:
            await objects.aclose()


async def run_forever(
    database: Database,
    engine: SearchEngine,
    http: httpx.AsyncClient,
    stop: asyncio.Event,
    *,
    egress_policy: EgressPolicy | None = None,
    idle_seconds: float = 0.5,
    heartbeat: Path | None = None,
    metrics: SearchIndexMetrics | None = None,
    mailer: Mailer | None | bool = None,
    store: ObjectStore | None = None,
) -> None:
    """Loop until ``stop``; ``heartbeat`` (a file) is touched every round of the main loop, for a
    container health check. ``egress_policy``, ``mailer`` and ``store`` (attachment objects) default
    to the environment's settings."""
    mail = _mailer(mailer)
    owned = store is None
    objects = store or build_store(get_settings())
    try:
        async with _egress(egress_policy) as egress, asyncio.TaskGroup() as loops:
            loops.create_task(
                _loop(
                    steps(database, engine, http, metrics=metrics, periodic=True, mailer=mail, store=objects),
                    stop,
                    idle_seconds,
                    heartbeat,
                )
            )
            loops.create_task(_loop(delivery_steps(database, egress, mail), stop, idle_seconds, None))
    finally:
        if owned:
            await objects.aclose()


async def _loop(named_steps: Steps, stop: asyncio.Event, idle_seconds: float, heartbeat: Path | None) -> None:
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat.touch()
        handled = 0
        for name, step in named_steps:
            with request_context():  # one id per step: in its log lines and on its outgoing calls
                try:
                    handled += await step()
                except Exception:  # a failing dependency must not kill the loop; its events stay pending
                    log.exception("worker_step_failed", step=name)
        if handled == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
