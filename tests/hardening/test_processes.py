"""The docker-compose deployment without docker: the same processes on this machine.

``techmarket serve --workers 2``, two ``techmarket worker`` processes and the payment stub, with
production settings, against one PostgreSQL database and one Meilisearch. A few hundred listings are
published and some withdrawn through the API; afterwards every published listing is in the index
exactly once, no withdrawn one is, and no outbox event is left. "Exactly once" is read from
Meilisearch's own task log: the documents received by its addition tasks plus the ids given to its
deletion tasks add up to the number of search events (each event makes the relay upsert or delete
exactly one id), so an event handled by both workers would show up as one too many.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.databases import PostgresDatabases
from tests.hardening.server_profile import (
    fetch,
    free_port,
    meili_idle,
    meili_ids,
    meili_tasks,
    publisher,
    server_env,
    start,
    start_serve,
    stopping,
    wait_ready,
)
from tooling.meili_process import MeiliServer, start_meilisearch, stop_meilisearch

LISTINGS = 240
WITHDRAWN_EVERY = 3  # every third published listing is withdrawn again
CONCURRENCY = 12
CONVERGE_TIMEOUT = 60.0


@pytest.fixture
def meili() -> Iterator[MeiliServer]:
    server, workdir = start_meilisearch()
    try:
        yield server
    finally:
        stop_meilisearch(server, workdir)


@pytest.fixture
def server_database(postgres_database_factory: PostgresDatabases) -> str:
    return postgres_database_factory.copy()


async def _bounded(limit: int, jobs: list) -> list:
    gate = asyncio.Semaphore(limit)

    async def run(job):
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


async def _unprocessed(url: str) -> int:
    return int((await fetch(url, "SELECT count(*) AS n FROM outbox_events WHERE processed_at IS NULL"))[0]["n"])


async def test_two_api_workers_and_two_outbox_workers_index_everything_exactly_once(
    server_database: str, meili: MeiliServer, tmp_path: Path
) -> None:
    # As in docker-compose.yml: production settings, the app wired to the payment stub process.
    stub_port = free_port()
    env = server_env(
        server_database,
        tmp_path,
        meili,
        TECHMARKET_ENV="production",
        TECHMARKET_PAYMENT_PROVIDER_URL=f"http://127.0.0.1:{stub_port}",
        TECHMARKET_PAYMENT_PROVIDER_API_KEY="sk_test_processes_0123456789",
        TECHMARKET_PAYMENT_WEBHOOK_SECRET="processes-webhook-secret-0123456789abcdef",
    )
    launched = time.monotonic()
    api, base = start_serve(env, tmp_path, workers=2, wait=False)
    heartbeat = tmp_path / "worker-1.alive"
    workers = [  # started alongside
        start("worker-1", ["worker", "--heartbeat", str(heartbeat)], env, tmp_path),
        start("worker-2", ["worker"], env, tmp_path),
    ]
    stub = start(
        "payments",
        [
            "payments-stub",
            "--host",
            "127.0.0.1",
            "--port",
            str(stub_port),
            "--webhook-url",
            f"{base}/api/v1/payments/webhook",
        ],
        env,
        tmp_path,
    )
    with stopping(api, *workers, stub):
        wait_ready(api, f"{base}/readyz")
        wait_ready(stub, f"http://127.0.0.1:{stub_port}/healthz")
        startup_seconds = time.monotonic() - launched
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
            load = await publisher(http)
            published = [
                i for i in await _bounded(CONCURRENCY, [load.publish(f"P{n:04d}") for n in range(LISTINGS)]) if i
            ]
            withdrawn = published[::WITHDRAWN_EVERY]
            await _bounded(CONCURRENCY, [load.withdraw(i) for i in withdrawn])
        assert load.failures == [], load.failures[:5]
        assert len(published) == LISTINGS
        load_seconds = time.monotonic() - started

        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while (left := await _unprocessed(server_database)) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert left == 0, f"{left} outbox events still unprocessed after {CONVERGE_TIMEOUT}s"
        await meili_idle(meili)
        converged_seconds = time.monotonic() - started
        assert all(w.alive() for w in workers), [w.log_tail() for w in workers]
        assert time.time() - heartbeat.stat().st_mtime < 5  # what the compose health check reads
        assert api.alive(), api.log_tail()

    expected = set(published) - set(withdrawn)
    in_db = {r["id"] for r in await fetch(server_database, "SELECT id FROM achievements WHERE status = 'published'")}
    indexed = await meili_ids(meili)
    assert in_db == expected
    assert len(indexed) == len(set(indexed)), "a document is in the index twice"
    assert set(indexed) == expected, (sorted(expected - set(indexed))[:10], sorted(set(indexed) - expected)[:10])
    assert not set(indexed) & set(withdrawn)

    events = await fetch(
        server_database, "SELECT attempts, processed_at FROM outbox_events WHERE topic = 'search.listing'"
    )
    assert len(events) == LISTINGS + len(withdrawn)  # approve and withdraw each announce once
    every_task = await meili_tasks(meili)
    # Each process's start-up creates the indexes; all but the first creation fail as already there.
    assert {(t["error"] or {}).get("code") for t in every_task if t["status"] != "succeeded"} <= {
        "index_already_exists"
    }
    tasks = [t for t in every_task if t["type"] in ("documentAdditionOrUpdate", "documentDeletion")]
    assert all(t["status"] == "succeeded" for t in tasks), [t for t in tasks if t["status"] != "succeeded"][:3]
    received = sum(t["details"].get("receivedDocuments", 0) for t in tasks if t["type"] == "documentAdditionOrUpdate")
    deleted = sum(t["details"].get("providedIds", 0) for t in tasks if t["type"] == "documentDeletion")
    assert received + deleted == len(events), f"{received} upserted + {deleted} deleted ids for {len(events)} events"
    print(
        f"\n[processes] started in {startup_seconds:.1f}s; {LISTINGS} published, {len(withdrawn)} withdrawn "
        f"through serve --workers 2 in {load_seconds:.1f}s; "
        f"2 outbox workers converged at {converged_seconds:.1f}s; {len(events)} search events → "
        f"{received} upserts + {deleted} deletes in {len(tasks)} Meilisearch tasks; "
        f"retried events: {sum(1 for e in events if e['attempts'])}"
    )
