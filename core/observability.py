"""Structured logs with a request id, Prometheus metrics, and the ASGI middleware tying them together."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.problems import internal_error_response

REQUEST_ID_HEADER = "x-request-id"


def configure_logging(*, json_logs: bool, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info if json_logs else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),  # resolved per use: follows redirection
        cache_logger_on_first_use=False,
    )


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
        )


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
        structlog.contextvars.bind_contextvars(request_id=request_id)
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
            structlog.contextvars.unbind_contextvars("request_id")
