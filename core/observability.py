"""Structured logs with a request id, Prometheus metrics, and the ASGI middleware tying them together.

Logs: structlog's own loggers and the standard library's (uvicorn, SQLAlchemy, Alembic) come out in
one format, JSON lines in the server profile. Metrics: per app (``Metrics``) plus a few counters per
process (``PROCESS_METRICS``: search engine errors, payment provider retries) that lower layers bump
without being handed anything. Under ``PROMETHEUS_MULTIPROC_DIR`` (``serve --workers N``) every
process writes its values to files there and a scrape adds them up, whichever worker answers it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlmodel import col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.db import Database
from core.outbox import OutboxEvent
from core.problems import internal_error_response
from core.types import utcnow

REQUEST_ID_HEADER = "x-request-id"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The id of the request (or worker round) being handled; outgoing HTTP calls carry it (core.http).
current_request_id: ContextVar[str | None] = ContextVar("techmarket_request_id", default=None)


@contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    """Binds a request id (a new one if none is given) for logs and outgoing calls."""
    request_id = request_id or uuid.uuid4().hex
    token = current_request_id.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield request_id
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
        current_request_id.reset(token)


# --- logs -------------------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (follows redirection, as the structlog side does)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(*, json_logs: bool, level: str = "INFO") -> None:
    """One format for every log line. Idempotent: replaces only the handler it installed before."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json_logs else structlog.dev.ConsoleRenderer()
    )
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info if json_logs else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),  # resolved per use: follows redirection
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if json_logs else structlog.dev.set_exc_info,
                renderer,
            ],
        )
    )
    handler.setLevel(numeric_level)  # also for loggers that set a lower level of their own (jieba's DEBUG)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # handlers a library installed on its own loggers (uvicorn's defaults) would print another format
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    if logging.getLogger("httpx").level == logging.NOTSET:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per outgoing request otherwise


# --- metrics ----------------------------------------------------------------------------------------


class Metrics:
    """One registry per app, so several apps (tests, workers) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "techmarket_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "techmarket_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.search_index = SearchIndexMetrics(self.registry)
        self.outbox = OutboxMetrics(self.registry)


class SearchIndexMetrics:
    """How the search index keeps up with the database: writes by outcome, and the last
    consistency check's differences (published ids against indexed ids) and repairs."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.index_writes = Counter(
            "techmarket_search_index_writes_total",
            "Listing changes written to the search engine, by outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.drift = Gauge(
            "techmarket_search_index_drift",
            "Differences found by the last consistency check "
            "(missing: published but not indexed; extra: indexed but not published)",
            ["kind", "side"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.repairs = Counter(
            "techmarket_search_index_repairs_total",
            "Documents the consistency check wrote or deleted",
            ["kind", "action"],
            registry=registry,
        )
        self.checked = Gauge(
            "techmarket_search_index_checked_timestamp_seconds",
            "When the last consistency check finished",
            ["kind"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )


class OutboxMetrics:
    """The outbox backlog per topic, read from the database when metrics are scraped."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "techmarket_outbox_pending_events",
            "Outbox events not yet handled",
            ["topic"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.lag = Gauge(
            "techmarket_outbox_lag_seconds",
            "Age of the oldest outbox event not yet handled (0: nothing waits)",
            ["topic"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )

    async def refresh(self, database: Database, topics: Iterable[str] = ()) -> None:
        """``topics`` are reported even when nothing of theirs waits (as 0)."""
        statement = (
            select(col(OutboxEvent.topic), func.count(), func.min(col(OutboxEvent.created_at)))
            .where(col(OutboxEvent.processed_at).is_(None))
            .group_by(OutboxEvent.topic)
        )
        async with database.unit_of_work() as session:
            rows = (await session.execute(statement)).all()
        now = utcnow()
        backlog: dict[str, tuple[int, datetime | None]] = {topic: (0, None) for topic in topics}
        backlog.update({topic: (count, oldest) for topic, count, oldest in rows})
        for topic, (count, oldest) in backlog.items():
            self.pending.labels(topic).set(count)
            self.lag.labels(topic).set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)


class ProcessMetrics:
    """Counters bumped deep inside adapters, one set per process (see the module doc)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.search_engine_errors = Counter(
            "techmarket_search_engine_errors_total",
            "Search engine calls that failed (transport: no answer; http_4xx/http_5xx: an error reply)",
            ["engine", "reason"],
            registry=self.registry,
        )
        self.payment_provider_retries = Counter(
            "techmarket_payment_provider_retries_total",
            "Payment provider calls that failed and were retried or given up (transport, http_5xx)",
            ["method", "reason"],
            registry=self.registry,
        )


PROCESS_METRICS = ProcessMetrics()


def prepare_multiprocess_dir(path: Path) -> Path:
    """Before the worker processes start: an empty metrics folder (last run's files removed), exported
    as ``PROMETHEUS_MULTIPROC_DIR`` for them. prometheus_client reads it when first imported, so a
    process that imported it earlier keeps its values in memory."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def render_metrics(*registries: CollectorRegistry) -> bytes:
    """The exposition text: every process's files under ``PROMETHEUS_MULTIPROC_DIR`` when set, else
    the given registries of this process."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
    return b"".join(generate_latest(registry) for registry in registries)


class RequestContextMiddleware:
    """Request id (taken from ``X-Request-ID`` or made), access log line, and metrics per route."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = structlog.get_logger("techmarket.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        with request_context(request_id):
            await self._handle(scope, receive, send, request_id)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            self.log.exception("unhandled_error", path=scope["path"])
            if response_started:
                raise
            await internal_error_response(scope["path"], request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route_path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route_path).observe(elapsed)
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
