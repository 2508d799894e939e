"""The background loop: search relay, alert scoring and webhook delivery, until told to stop.

Every step claims its own outbox events, so several of these loops (processes) can run at once on
PostgreSQL; the embedded profile runs one inside the API process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import structlog

from core.db import Database
from core.observability import SearchIndexMetrics
from search.alerts.tasks import deliver_once, evaluate_once
from search.engine import SearchEngine
from search.consistency import check_when_due
from search.indexing import SearchRelay

log = structlog.get_logger("techmarket.worker")


def steps(database: Database, engine: SearchEngine, http: httpx.AsyncClient, *,
          metrics: SearchIndexMetrics | None = None, periodic: bool = False) -> list[tuple[str, Callable[[], Awaitable[int]]]]:
    """``periodic`` adds the search index's consistency check (at most every ``CHECK_EVERY``)."""
    relay = SearchRelay(database, engine, metrics=metrics)  # remembers an outage across rounds
    named: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        ("search_relay", relay.step),
        ("alert_scoring", lambda: evaluate_once(database)),
        ("webhook_delivery", lambda: deliver_once(database, http)),
    ]
    if periodic:
        named.append(("search_consistency", lambda: check_when_due(database, engine, metrics=metrics)))
    return named


async def run_once(database: Database, engine: SearchEngine, http: httpx.AsyncClient) -> int:
    """Run every step until nothing is due (used by `techmarket worker --once` and tests)."""
    total = 0
    while True:
        handled = 0
        for _, step in steps(database, engine, http):
            handled += await step()
        if handled == 0:
            return total
        total += handled


async def run_forever(
    database: Database,
    engine: SearchEngine,
    http: httpx.AsyncClient,
    stop: asyncio.Event,
    *,
    idle_seconds: float = 0.5,
    heartbeat: Path | None = None,
    metrics: SearchIndexMetrics | None = None,
) -> None:
    """Loop until ``stop``; ``heartbeat`` (a file) is touched every round, for a container health check."""
    named_steps = steps(database, engine, http, metrics=metrics, periodic=True)
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat.touch()
        handled = 0
        for name, step in named_steps:
            try:
                handled += await step()
            except Exception:  # a failing dependency must not kill the loop; its events stay pending
                log.exception("worker_step_failed", step=name)
        if handled == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
