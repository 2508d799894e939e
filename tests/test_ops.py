"""Operability: health, readiness, metrics, request ids, and one error shape everywhere."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from fastapi import FastAPI

from app.factory import create_app
from core.db import Database
from core.settings import Settings
from tests.fixtures.meilisearch import MeiliServer


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
