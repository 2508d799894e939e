"""Operability: health, readiness, metrics, request ids, and one error shape everywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from app.cli import app as cli
from app.factory import create_app
from app.worker import run_once
from contracts.payment.client import PaymentProvider
from contracts.settings import PaymentSettings
from core.db import Database
from core.egress import EgressPolicy
from core.observability import configure_logging, request_context
from core.settings import Settings
from search.consistency import check_index
from tests.fixtures.meilisearch import MeiliServer
from tests.hardening.server_profile import free_port, server_env, start_serve, stopping, techmarket_command
from tests.hardening.webhooks import http_receiver, organization, queue_alert
from tests.search.test_relay_and_api import publish, search


async def test_healthz_and_readyz_report_the_database(client: httpx.AsyncClient, dialect: str) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "search": "ok"}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_readyz_answers_503_quickly_when_search_engine_is_down(settings: Settings, database: Database) -> None:
    settings = settings.model_copy(
        update={"search_url": f"http://127.0.0.1:{_closed_port()}", "search_key": "k", "search_timeout_seconds": 1.0}
    )
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            started = time.monotonic()
            reply = await client.get("/readyz")
    assert time.monotonic() - started < 5
    assert reply.status_code == 503
    assert reply.json()["code"] == "not_ready"
    assert reply.json()["checks"] == {"database": "ok", "search": "unavailable"}


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_readyz_checks_a_real_meilisearch(
    settings: Settings, database: Database, meili_server: MeiliServer
) -> None:
    settings = settings.model_copy(update={"search_url": meili_server.url, "search_key": meili_server.master_key})
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            reply = await client.get("/readyz")
    assert reply.json()["checks"] == {"database": "ok", "search": "ok"}


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/organizations")
    await client.get("/api/v1/organizations")
    text = (await client.get("/metrics")).text
    assert 'techmarket_http_requests_total{method="GET",route="/api/v1/organizations",status="200"} 2.0' in text
    assert "techmarket_http_request_duration_seconds_bucket" in text


async def test_request_id_is_echoed_or_made_and_logged(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-abc-123"})
    assert reply.headers["x-request-id"] == "trace-abc-123"
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "not_found" and reply.json()["request_id"] == "trace-abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    log_lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "trace-abc-123" and line.get("status") == 404 for line in log_lines)


async def test_unexpected_crash_is_a_problem_without_stack_trace(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    reply = await client.get("/boom")
    assert reply.status_code == 500
    body = reply.json()
    assert body["code"] == "internal_error"
    assert "secret internal detail" not in reply.text and "Traceback" not in reply.text
    assert body["request_id"] == reply.headers["x-request-id"]


async def test_malformed_json_is_a_field_level_problem(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/v1/organizations/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["code"] == "json_invalid"


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    register = spec["paths"]["/api/v1/organizations/register"]["post"]["responses"]
    assert {"409", "422"} <= set(register)
    assert "duplicate_organization" in register["409"]["description"]
    assert "application/problem+json" in register["409"]["content"]


async def test_oversized_body_is_refused_with_413(client: httpx.AsyncClient) -> None:
    huge = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    reply = await client.post("/api/v1/achievements", content=huge, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert reply.json()["code"] == "payload_too_large"

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b"x" * 65536

    reply = await client.post("/api/v1/achievements", content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


async def test_unreachable_database_is_a_503_with_retry_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A restarting PostgreSQL is a moment to retry, not a crash (no lifespan: the schema check would fail first)."""
    from core.http import build_http_client
    from search.adapters import build_engine

    settings = Settings(
        env="test",
        secret_key="x" * 40,
        data_dir=tmp_path,
        worker_in_process=False,
        db_timeout_seconds=1,
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nowhere",
    )
    database = Database.from_settings(settings)
    app = create_app(settings, database=database)
    app.state.database, app.state.http = database, build_http_client(settings)
    app.state.search = build_engine(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as client:
            reply = await client.get("/api/v1/achievements")
    finally:
        await app.state.search.aclose()
        await app.state.http.aclose()
        await database.dispose()
    assert reply.status_code == 503
    assert reply.json()["code"] == "database_unavailable" and reply.headers["retry-after"] == "2"


# --- /metrics: the token, the outbox backlog, the per-process counters ------------------------------

METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789"


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_metrics_answer_only_the_token_when_one_is_set(settings: Settings, database: Database) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": METRICS_TOKEN}), database=database)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN[:-1]}x"})
            right = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    for refused in (anonymous, wrong):
        assert refused.status_code == 401 and refused.json()["code"] == "metrics_unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer" and "techmarket_" not in refused.text
    assert right.status_code == 200 and "techmarket_http_requests_total" in right.text


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_metrics_are_closed_in_production_without_a_token(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHMARKET_PAYMENT_PROVIDER_API_KEY", "sk_live_ops_test")
    monkeypatch.setenv("TECHMARKET_PAYMENT_WEBHOOK_SECRET", "w" * 40)
    app = create_app(settings.model_copy(update={"env": "production"}), database=database)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            reply = await client.get("/metrics")
    assert reply.status_code == 404 and reply.json()["code"] == "metrics_disabled"


async def test_metrics_report_the_outbox_backlog(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    before = (await client.get("/metrics")).text
    assert samples(before, "techmarket_outbox_pending_events", topic="alerts.webhook") == 0  # reported while empty
    await publish(client)
    await asyncio.sleep(0.05)  # the event ages
    waiting = (await client.get("/metrics")).text
    assert samples(waiting, "techmarket_outbox_pending_events", topic="search.listing") >= 1
    assert samples(waiting, "techmarket_outbox_lag_seconds", topic="search.listing") > 0
    await run_once(database, app.state.search, app.state.http)  # the worker catches up
    drained = (await client.get("/metrics")).text
    assert samples(drained, "techmarket_outbox_pending_events", topic="search.listing") == 0
    assert samples(drained, "techmarket_outbox_lag_seconds", topic="search.listing") == 0


# --- X-Request-ID on outgoing calls, seen by real HTTP servers ---------------------------------------


@dataclass
class Recorder:
    """A real HTTP server on loopback: answers each request from ``script`` (then ``default``), keeps what came."""

    port: int
    default: tuple[int, dict[str, Any]]
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    received: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, path, headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def recorder(default: tuple[int, dict[str, Any]], *script: tuple[int, dict[str, Any]]) -> AsyncIterator[Recorder]:
    state = Recorder(port=free_port(), default=default, script=list(script))

    async def answer(request: Request) -> JSONResponse:
        state.received.append((request.method, request.url.path, dict(request.headers)))
        status, body = state.script.pop(0) if state.script else state.default
        return JSONResponse(body, status_code=status)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=state.port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        await task


INTENT = {"id": "pi_ops", "amount": 12_300, "currency": "cny", "status": "requires_confirmation", "metadata": {}}


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_the_payment_provider_gets_the_request_id_and_retries_are_counted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with recorder((200, INTENT), (503, {"error": {"code": "busy"}})) as provider:
        payments = PaymentSettings(
            env="test",
            provider_url=provider.url,
            provider_api_key="sk_test_ops",
            webhook_secret="w" * 40,
            backoff_seconds=0.01,
        )

        @app.post("/_probe/pay")
        async def pay(request: Request) -> dict[str, str]:
            intent = await PaymentProvider(request.app.state.http, payments).create_intent(12_300, {}, "idem-ops-1")
            return {"id": intent.id}

        before = (await client.get("/metrics")).text
        reply = await client.post("/_probe/pay", headers={"X-Request-ID": "trace-pay-42"})
        after = (await client.get("/metrics")).text
    assert reply.status_code == 200 and reply.json() == {"id": "pi_ops"}
    assert [(method, headers["x-request-id"]) for method, _, headers in provider.received] == [
        ("POST", "trace-pay-42"),  # answered 503
        ("POST", "trace-pay-42"),  # the retry, same request
    ]
    retries = "techmarket_payment_provider_retries_total"
    assert (
        samples(after, retries, method="POST", reason="http_5xx")
        == samples(before, retries, method="POST", reason="http_5xx") + 1
    )


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_meilisearch_calls_carry_the_request_id_and_its_errors_are_counted(
    settings: Settings, database: Database
) -> None:
    async with recorder((503, {"message": "down for maintenance", "code": "internal"})) as engine_stub:
        engine_stub.script = []
        search_settings = settings.model_copy(update={"search_url": engine_stub.url, "search_key": "scoped-key"})
        app = create_app(search_settings, database=database)
        async with app.router.lifespan_context(app):  # the engine is down at start: logged, not fatal
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                before = (await client.get("/metrics")).text
                ready = await client.get("/readyz", headers={"X-Request-ID": "trace-ready-7"})
                found = await client.get("/api/v1/search/achievements?q=稀土", headers={"X-Request-ID": "trace-q-8"})
                after = (await client.get("/metrics")).text
    assert ready.status_code == 503 and found.status_code == 503
    ids = {headers.get("x-request-id") for _, _, headers in engine_stub.received}
    assert {"trace-ready-7", "trace-q-8"} <= ids
    errors = "techmarket_search_engine_errors_total"
    assert samples(after, errors, engine="meilisearch", reason="http_5xx") >= (
        samples(before, errors, engine="meilisearch", reason="http_5xx") + 2  # readyz's call and the search's
    )


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_webhooks_carry_the_worker_rounds_request_id(app: FastAPI, database: Database) -> None:
    async with http_receiver() as receiver:
        org = await organization(database, "请求编号测试企业")
        await queue_alert(database, org, receiver.url)
        policy = EgressPolicy(allow_insecure=True, timeout_seconds=5)
        await run_once(database, app.state.search, app.state.http, egress_policy=policy)
    assert len(receiver.received) == 1
    headers, _ = receiver.received[0]
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


# --- logs: the standard library's loggers come out as structlog's JSON -------------------------------


def test_a_stdlib_log_line_is_json_with_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_logs=True, level="INFO")
    capsys.readouterr()
    with request_context("trace-log-1"):
        logging.getLogger("alembic.runtime.migration").info("Running upgrade %s -> %s", "0011", "0012")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("sqlalchemy.engine").debug("below the level: not shown")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 2
    migration, crash = lines
    assert migration["event"] == "Running upgrade 0011 -> 0012"
    assert migration["level"] == "info" and migration["logger"] == "alembic.runtime.migration"
    assert migration["request_id"] == "trace-log-1" and migration["timestamp"].endswith("Z")
    assert crash["level"] == "error" and "RuntimeError: boom" in crash["exception"]


# --- several worker processes: one scrape adds them all up -------------------------------------------


async def test_metrics_add_up_every_worker_process_and_logs_stay_json(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"an earlier run's file")
    env = server_env(
        f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}",
        tmp_path,
        TECHMARKET_LOG_LEVEL="INFO",
        TECHMARKET_PAYMENT_PROVIDER_URL="http://127.0.0.1:9",  # no bundled provider
        TECHMARKET_PAYMENT_PROVIDER_API_KEY="sk_test_ops",
        TECHMARKET_PAYMENT_WEBHOOK_SECRET="w" * 40,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    migrated = subprocess.run(
        [*techmarket_command(), "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    alembic = [json.loads(line) for line in migrated.stderr.splitlines() if "alembic" in line]
    assert alembic and all(line["logger"].startswith("alembic") for line in alembic)  # JSON, not alembic's format

    proc, base = start_serve(env, tmp_path, workers=2)
    with stopping(proc):
        assert not (metrics_dir / "counter_999999.db").exists()  # emptied before the workers started
        sent, pids, deadline = 0, set(), time.monotonic() + 90
        # bursts of concurrent connections, a new one per request, until both workers have answered
        # (the second may still be loading when the first is ready; while one is busy the kernel
        # hands connections to the other)
        fresh = httpx.Limits(max_connections=64, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, limits=fresh, timeout=10, trust_env=False) as http:
            while len(pids) < 2 and time.monotonic() < deadline:
                replies = await asyncio.gather(*(http.get("/healthz") for _ in range(20)))
                assert all(reply.status_code == 200 for reply in replies)
                sent += len(replies)
                pids = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
                await asyncio.sleep(0.2)
            assert len(pids) >= 2, "both worker processes answered"
            for _ in range(4):  # whichever worker answers the scrape, it counts every process's requests
                scrape = (await http.get("/metrics")).text
                assert samples(scrape, "techmarket_http_requests_total", route="/healthz", status="200") == sent
    stderr = [line for line in proc.log_path.read_text(encoding="utf-8").splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in stderr]
    assert any(e["event"] == "Application startup complete." and e["logger"] == "uvicorn.error" for e in events)
    assert "INFO:     " not in proc.log_path.read_text(encoding="utf-8")  # uvicorn's own format never shows


# --- the app's own Meilisearch key ---------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_the_app_runs_on_its_scoped_search_key_which_can_do_nothing_else(
    settings: Settings, database: Database, meili_server: MeiliServer, tmp_path: Path
) -> None:
    prefix = f"sk{uuid.uuid4().hex[:10]}"
    key_file = tmp_path / "keys" / "search-key"
    env = {
        "TECHMARKET_ENV": "test",
        "TECHMARKET_SECRET_KEY": settings.secret_key,
        "TECHMARKET_SEARCH_URL": meili_server.url,
        "TECHMARKET_SEARCH_KEY": meili_server.master_key,
        "TECHMARKET_SEARCH_INDEX_PREFIX": prefix,
    }
    runs = [CliRunner().invoke(cli, ["search-key", "--out", str(key_file)], env=env) for _ in range(2)]
    assert [run.exit_code for run in runs] == [0, 0], runs[0].output
    key = key_file.read_text(encoding="utf-8").strip()
    assert key and key != meili_server.master_key and key_file.stat().st_mode & 0o777 == 0o600
    reprinted = CliRunner().invoke(cli, ["search-key"], env=env)
    assert reprinted.output.strip().splitlines()[-1] == key  # found again, not a second key

    scoped = Settings(
        env="test",
        secret_key=settings.secret_key,
        data_dir=tmp_path,
        worker_in_process=False,
        search_url=meili_server.url,
        search_key_file=key_file,
        search_index_prefix=prefix,
    )
    assert scoped.search_key == key
    app = create_app(scoped, database=database)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            engine = app.state.search
            item = await publish(client)
            await run_once(database, engine, app.state.http)  # relayed with the scoped key
            assert [hit["listing"]["id"] for hit in (await search(client, "钕铁硼"))["items"]] == [item["id"]]
            report = await check_index(database, engine, "achievement")
            assert (report.missing, report.extra) == ([], [])
            assert (await client.get("/readyz")).json()["checks"]["search"] == "ok"
    async with httpx.AsyncClient(base_url=meili_server.url, headers={"Authorization": f"Bearer {key}"}) as meili:
        assert (await meili.get("/keys")).status_code == 403
        assert (await meili.post("/indexes", json={"uid": "someone_else"})).status_code == 403
        assert (await meili.get("/indexes/someone_else/documents")).status_code == 403
        assert (await meili.get(f"/indexes/{prefix}_achievement/documents")).status_code == 200
        assert (
            await meili.post("/swap-indexes", json=[{"indexes": [f"{prefix}_a", f"{prefix}_b"]}])
        ).status_code == 403
