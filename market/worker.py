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
from search.alerts.tasks import deliver_once, evaluate_once
from search.engine import SearchEngine
from search.indexing import relay_once

log = structlog.get_logger("techmarket.worker")


def steps(database: Database, engine: SearchEngine, http: httpx.AsyncClient) -> list[tuple[str, Callable[[], Awaitable[int]]]]:
    return [
        ("search_relay", lambda: relay_once(database, engine)),
        ("alert_scoring", lambda: evaluate_once(database)),
        ("webhook_delivery", lambda: deliver_once(database, http)),
    ]


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
) -> None:
    """Loop until ``stop``; ``heartbeat`` (a file) is touched every round, for a container health check."""
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat.touch()
        handled = 0
        for name, step in steps(database, engine, http):
            try:
                handled += await step()
            except Exception:  # a failing dependency must not kill the loop; its events stay pending
                log.exception("worker_step_failed", step=name)
        if handled == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
