"""Fault injection on the server profile: the real processes, real PostgreSQL and Meilisearch.

1. Meilisearch SIGKILLed during a write load: no write fails, and after a restart on the same
   data directory and port the worker brings the index to exactly the database's published ids.
2. PostgreSQL restarted during a request load against ``techmarket serve`` (a throwaway cluster of
   our own, never the shared one): requests in flight fail as problem+json 5xx within a bound,
   and the same service process answers again once PostgreSQL is back (pool_pre_ping); the outbox
   worker rides it out as well.
3. The payment provider flapping across whole requests (tests/contracts/test_payments.py covers
   5xx, timeouts, down, duplicate/out-of-order/lost webhooks within one request): one intent,
   one payment, one distribution.
4. ``kill -9`` of ``techmarket import`` with a batch half-written: only whole batches landed, and
   a re-run completes with exactly N rows.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from core import migrations
from tests.contracts.conftest import PaymentWorld, payment_world, wait_for  # noqa: F401  (payment_world: fixture)
from tests.contracts.test_payments import _clean, _is, _ledger, _milestone_status, _setup
from tests.fixtures.databases import PostgresDatabases, _seed_demo
from tests.hardening.server_profile import REPO_ROOT as ROOT
from tests.hardening.server_profile import (
    Proc,
    asyncpg_dsn,
    fetch,
    free_port,
    meili_idle,
    meili_ids,
    publisher,
    server_env,
    start,
    start_serve,
    stopping,
    techmarket_command,
    wait_ready,
)
from tests.prerequisites import require
from tooling.meili_process import MeiliServer, restart_meilisearch

CONVERGE_TIMEOUT = 60.0
DOWN_SECONDS = 2.0


@pytest.fixture
def server_database(postgres_database_factory: PostgresDatabases) -> str:
    return postgres_database_factory.copy()


async def _converged(url: str, timeout: float = CONVERGE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    left = -1
    while time.monotonic() < deadline:
        left = (await fetch(url, "SELECT count(*) AS n FROM outbox_events WHERE processed_at IS NULL"))[0]["n"]
        if left == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{left} outbox events unprocessed after {timeout}s")


# --------------------------------------------------------------------------- 1. Meilisearch killed


async def test_meilisearch_killed_during_writes_loses_nothing_and_index_converges(
    server_database: str, restartable_meili: list[Any], tmp_path: Path
) -> None:
    meili: MeiliServer = restartable_meili[0]
    env = server_env(server_database, tmp_path, meili)
    api, base = start_serve(env, tmp_path, wait=False)
    worker = start("worker", ["worker"], env, tmp_path)
    with stopping(api, worker):
        wait_ready(api, f"{base}/readyz")
        async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as http:
            load = await publisher(http)

            async def wave(prefix: str, count: int) -> list[int]:
                gate = asyncio.Semaphore(8)

                async def one(n: int) -> int | None:
                    async with gate:
                        return await load.publish(f"{prefix}{n:03d}")

                return [i for i in await asyncio.gather(*(one(n) for n in range(count))) if i]

            before = await wave("UP", 40)
            meili.process.send_signal(signal.SIGKILL)  # no shutdown: whatever was in flight is cut
            meili.process.wait(timeout=10)
            killed_at = time.monotonic()
            during = await wave("DOWN", 40)
            withdrawn = during[:10]
            assert all([await load.withdraw(i) for i in withdrawn])
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503 and not_ready.headers["content-type"].startswith(
                "application/problem+json"
            )
            outage_writes = sum(1 for at, _, _ in load.writes if at >= killed_at)
            meili = restartable_meili[0] = restart_meilisearch(meili, restartable_meili[1])
            restarted_at = time.monotonic()
            after = await wave("BACK", 20)
            last_write = time.monotonic()
        assert load.failures == [], load.failures[:5]
        assert (len(before), len(during), len(after)) == (40, 40, 20)
        await _converged(server_database)
        await meili_idle(meili)
        caught_up, after_last_write = time.monotonic() - restarted_at, time.monotonic() - last_write
        assert worker.alive() and api.alive(), worker.log_tail() + api.log_tail()

    published = {
        r["id"] for r in await fetch(server_database, "SELECT id FROM achievements WHERE status = 'published'")
    }
    assert published == set(before + during + after) - set(withdrawn)
    indexed = await meili_ids(meili)
    assert len(indexed) == len(set(indexed))
    missing, extra = published - set(indexed), set(indexed) - published
    assert (missing, extra) == (set(), set())
    retried = (await fetch(server_database, "SELECT count(*) AS n FROM outbox_events WHERE attempts > 0"))[0]["n"]
    print(
        f"\n[meili-kill] {outage_writes} writes ({len(during)} publishes, {len(withdrawn)} withdrawals) "
        f"while Meilisearch was down {restarted_at - killed_at:.1f}s, 0 failed; {retried} relay events retried; "
        f"index caught up {caught_up:.1f}s after restart ({after_last_write:.1f}s after the last write); "
        f"{len(published)} published = {len(indexed)} indexed, 0 missing"
    )


# --------------------------------------------------------------------------- 2. PostgreSQL restarted


@dataclass
class OwnPostgres:
    bindir: Path
    root: Path
    port: int
    as_postgres: list[str]

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self.as_postgres, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )
        assert result.returncode == 0, f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}"

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c max_connections=60"
        starting = ["-o", options, "-l", str(self.root / "postgres.log")] if action in ("start", "restart") else []
        self.run(str(self.bindir / "pg_ctl"), action, "-D", str(self.datadir), *starting, "-w", "-t", "30", *extra)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A throwaway PostgreSQL cluster on a free loopback port, stopped and removed afterwards."""
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    require(initdbs, "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) to run a throwaway cluster")
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres OS user
        owner = next((a for a in pwd.getpwall() if a.pw_name == "postgres"), None)
        require(owner, "running as root and there is no `postgres` OS user to run a throwaway cluster as")
        require(shutil.which("runuser"), "running as root without `runuser` to start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="techmarket-pg-"))
    as_postgres: list[str] = []
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    cluster = OwnPostgres(Path(initdbs[-1]).parent, root, free_port(), as_postgres)
    try:
        cluster.run(
            str(cluster.bindir / "initdb"),
            "-D",
            str(cluster.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        cluster.pg_ctl("start")
        yield cluster
    finally:
        if (cluster.datadir / "postmaster.pid").exists():
            subprocess.run(
                [
                    *as_postgres,
                    str(cluster.bindir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(cluster.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_restart_fails_requests_cleanly_and_the_pool_recovers(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    admin = await asyncpg.connect(own_postgres.admin_dsn, timeout=10)
    try:
        await admin.execute('CREATE DATABASE "techmarket"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{own_postgres.port}/techmarket"
    await asyncio.to_thread(migrations.upgrade, url)
    await _seed_demo(url)
    bound = 10.0  # no request may take longer than this, whatever PostgreSQL does
    env = server_env(url, tmp_path, TECHMARKET_DB_TIMEOUT_SECONDS="3")
    api, base = start_serve(env, tmp_path, wait=False)
    worker = start("worker", ["worker"], env, tmp_path)  # the outbox worker must ride it out too
    with stopping(api, worker):
        wait_ready(api, f"{base}/readyz")
        outcomes: list[tuple[float, float, int, str]] = []  # (start, seconds, status, content type or error)
        stop_load = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=bound + 5, trust_env=False) as http:
            load = await publisher(http)

            async def client(n: int) -> None:
                for i in range(2000):  # bounded; the stop event ends it long before
                    if stop_load.is_set():
                        return
                    began = time.monotonic()
                    try:
                        if i % 3 == 0:
                            reply = await http.post(
                                "/api/v1/achievements", json=_draft(f"PG{n}-{i}"), headers=load.owner
                            )
                        else:
                            reply = await http.get("/api/v1/achievements", params={"limit": 5}, headers=load.owner)
                        outcomes.append(
                            (began, time.monotonic() - began, reply.status_code, reply.headers.get("content-type", ""))
                        )
                        if reply.status_code >= 500:
                            await asyncio.sleep(0.05)
                    except httpx.HTTPError as exc:
                        outcomes.append((began, time.monotonic() - began, 0, repr(exc)))

            clients = [asyncio.create_task(client(n)) for n in range(6)]
            try:
                await asyncio.sleep(1.5)
                down_at = time.monotonic()
                await asyncio.to_thread(own_postgres.pg_ctl, "stop", "-m", "fast")  # in-flight sessions terminated
                await asyncio.sleep(DOWN_SECONDS)  # new connections refused meanwhile
                await asyncio.to_thread(own_postgres.pg_ctl, "start")
                up_at = time.monotonic()
                deadline = up_at + 30
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    recent = [o for o in outcomes if o[0] > up_at]
                    ok_streak = 0
                    for o in sorted(recent):
                        ok_streak = ok_streak + 1 if o[2] < 300 else 0
                    if ok_streak >= 30:
                        break
            finally:
                stop_load.set()
                await asyncio.gather(*clients)
            ready = await http.get("/readyz")
            # The worker survived too: a listing published now is relayed without restarting it.
            published_at = time.monotonic()
            assert await load.publish("after-restart") is not None, load.failures
            await _converged(url, timeout=30)
            relayed_in = time.monotonic() - published_at
        assert api.alive(), api.log_tail()  # the same processes throughout: never restarted
        assert worker.alive(), worker.log_tail()
        # Its failures during the outage were logged as JSON lines, without tracebacks' local variables.
        logged = [
            json.loads(line)
            for line in worker.log_path.read_text(encoding="utf-8").splitlines()
            if line.startswith("{")
        ]
        assert any(entry["event"] == "worker_step_failed" for entry in logged)
        assert "locals" not in worker.log_path.read_text(encoding="utf-8")

    assert ready.status_code == 200, ready.text
    errors = [o for o in outcomes if o[2] == 0]
    assert errors == [], errors[:3]  # no hang, no dropped connection: every request got an answer
    slowest = max(o[1] for o in outcomes)
    assert slowest < bound, f"a request took {slowest:.1f}s"
    failed = [o for o in outcomes if o[2] >= 300]
    assert all(o[2] >= 500 and o[3].startswith("application/problem+json") for o in failed), failed[:3]
    assert all(down_at - 1 <= o[0] + o[1] for o in failed), "failures before PostgreSQL went down"
    after_up = sorted(o for o in outcomes if o[0] > up_at)
    first_ok = next((o for o in after_up if o[2] < 300), None)
    assert first_ok is not None, "no request succeeded after PostgreSQL came back"
    assert all(o[2] < 300 for o in after_up[-30:]), "the pool did not recover"
    print(
        f"\n[pg-restart] {len(outcomes)} requests, {len(failed)} failed cleanly ({sorted({o[2] for o in failed})}) "
        f"while PostgreSQL was stopped (fast) and down {up_at - down_at:.1f}s; "
        f"first success {first_ok[0] + first_ok[1] - up_at:.2f}s after it was back, same service process "
        f"(pid {api.pid}); slowest request {slowest:.2f}s; the same worker relayed a listing published "
        f"afterwards in {relayed_in:.1f}s"
    )


def _draft(tag: str) -> dict[str, Any]:
    from tests.market.test_listings import achievement

    return achievement(title=f"数据库重启期间创建的草稿 {tag}")


# --------------------------------------------------------------------------- 3. payments flapping


@pytest.mark.parametrize("dialect", ["postgresql"])  # the server profile; test_payments.py runs both dialects
async def test_payment_provider_flapping_across_requests_pays_once(payment_world: PaymentWorld) -> None:
    """Down (500s), then slow after doing the work (timeouts), then up: one intent, one payment."""
    world = payment_world
    contract, h = await _setup(world)
    cid, m1 = contract["id"], contract["milestones"][0]["id"]
    pay = f"/api/v1/contracts/{cid}/milestones/{m1}/pay"

    await world.faults(fail_next=world.settings.max_attempts)  # every attempt of this request: 500
    first = await world.api.post(pay, headers=h["buyer"])
    assert first.status_code == 503 and first.json()["code"] == "payment_provider_unavailable"
    assert world.stub.state.intents == {}

    # The provider creates the intent, then answers too late, on every attempt: we give up, it has one.
    await world.faults(delay_next=world.settings.max_attempts, delay_seconds=world.settings.timeout_seconds + 0.3)
    second = await world.api.post(pay, headers=h["buyer"])
    assert second.status_code == 503, second.text
    await wait_for(lambda: _stub_idle(world), timeout=STUB_IDLE_TIMEOUT)
    assert len(world.stub.state.intents) == 1
    assert await _milestone_status(world, h, cid, 1) == "pending"

    await world.faults(duplicate=2)
    third = await world.api.post(pay, headers=h["buyer"])
    assert third.status_code == 200, third.text
    await wait_for(lambda: _is(world, h, cid, 1, "paid"))
    again = await world.api.post(pay, headers=h["buyer"])
    assert again.status_code == 200 and again.json()["id"] == third.json()["id"]
    assert len(world.stub.state.intents) == 1, "paid twice"
    assert (await _ledger(world, h, cid))["total"] == 1
    await wait_for(lambda: _stub_idle(world), timeout=STUB_IDLE_TIMEOUT)
    assert await _clean(world) == []


# The stub delivers each webhook with up to 6 attempts of 5 s; on a loaded machine its tasks can
# outlive a 10 s wait without anything being wrong, so wait as long as they may legitimately take.
STUB_IDLE_TIMEOUT = 40.0


async def _stub_idle(world: PaymentWorld) -> bool:
    await asyncio.sleep(world.stub.faults.delay_seconds if world.stub.faults.delay_next == 0 else 0.05)
    return world.stub.faults.delay_next == 0 and not world.stub._tasks


# --------------------------------------------------------------------------- 4. kill -9 during import

IMPORT_ROWS = 1200
IMPORT_BATCH = 100


def _import_file(path: Path, count: int) -> None:
    template = json.loads(
        (ROOT / "market" / "demo_data" / "achievements.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            row = dict(
                template,
                external_id=f"KILL-{n:05d}",
                title=f"{template['title']} 批量导入 {n}",
                owner=f"批量导入测试企业{n % 7}",
                owner_kind="enterprise",
                region="150100",
            )
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


async def _import_counts(url: str) -> dict[str, int]:
    rows = await fetch(
        url,
        """
        SELECT (SELECT count(*) FROM achievements WHERE external_id LIKE 'KILL-%') AS listings,
               (SELECT count(DISTINCT external_id) FROM achievements WHERE external_id LIKE 'KILL-%') AS distinct_keys,
               (SELECT count(*) FROM audit_log a JOIN achievements l ON a.entity_type = 'achievement'
                  AND a.entity_id = l.id AND a.action = 'import' WHERE l.external_id LIKE 'KILL-%') AS audits,
               (SELECT count(*) FROM outbox_events e JOIN achievements l ON e.key = 'achievement:' || l.id
                  WHERE e.topic = 'search.listing' AND l.external_id LIKE 'KILL-%') AS events,
               (SELECT count(*) FROM organizations WHERE name LIKE '批量导入测试企业%') AS organizations
    """,
    )
    return dict(rows[0])


async def test_kill_9_during_bulk_import_leaves_whole_batches_and_a_rerun_completes(
    server_database: str, tmp_path: Path
) -> None:
    source = tmp_path / "achievements.jsonl"
    _import_file(source, IMPORT_ROWS)
    env = server_env(server_database, tmp_path)
    args = [
        "import",
        "achievements",
        str(source),
        "--publish",
        "--create-organizations",
        "--batch-size",
        str(IMPORT_BATCH),
    ]
    importer = start("import-1", args, env, tmp_path)
    blocker = await asyncpg.connect(asyncpg_dsn(server_database), timeout=10)
    try:
        with stopping(importer):
            # Let some batches land, then hold audit_log so the next batch blocks half-written (its
            # listings inserted, its audit rows waiting), and kill the importer right there.
            landed = await _wait_count(server_database, importer, at_least=2 * IMPORT_BATCH)
            await blocker.execute("BEGIN; LOCK TABLE audit_log IN SHARE MODE")
            blocked_pid = await _wait_blocked(blocker, importer)
            half_written = await blocker.fetchval(
                "SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = $1", blocked_pid
            )
            assert half_written, "the blocked batch had written nothing yet"  # its listings are in, uncommitted
            importer.kill9()
            killed_during = landed
        await blocker.execute("ROLLBACK")  # the orphaned backend goes on, finds its client gone, rolls back
        await _wait_backend_gone(blocker, blocked_pid)
    finally:
        await blocker.close()

    after_kill = await _import_counts(server_database)
    assert 0 < after_kill["listings"] < IMPORT_ROWS, after_kill
    assert after_kill["listings"] % IMPORT_BATCH == 0, f"a partial batch landed: {after_kill}"
    assert after_kill["audits"] == after_kill["events"] == after_kill["distinct_keys"] == after_kill["listings"], (
        after_kill
    )
    assert after_kill["organizations"] == 7

    rerun = subprocess.run(
        techmarket_command() + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = await _import_counts(server_database)
    assert final == {
        "listings": IMPORT_ROWS,
        "distinct_keys": IMPORT_ROWS,
        "audits": IMPORT_ROWS,
        "events": IMPORT_ROWS,
        "organizations": 7,
    }
    assert f"已存在跳过 {after_kill['listings']}" in rerun.stdout, rerun.stdout
    print(
        f"\n[import-kill] kill -9 after ≥{killed_during} rows with a batch half-written: {after_kill['listings']} rows "
        f"({after_kill['listings'] // IMPORT_BATCH} whole batches of {IMPORT_BATCH}) landed, none partial; "
        f"re-run added {IMPORT_ROWS - after_kill['listings']}, total exactly {IMPORT_ROWS}"
    )


async def _wait_count(url: str, proc: Proc, *, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = (await fetch(url, "SELECT count(*) AS n FROM achievements WHERE external_id LIKE 'KILL-%'"))[0]["n"]
        if count >= at_least:
            return int(count)
        if not proc.alive():
            raise AssertionError(f"import ended before it could be killed:\n{proc.log_tail()}")
        await asyncio.sleep(0.01)
    raise AssertionError(f"import did not land {at_least} rows in {timeout}s:\n{proc.log_tail()}")


async def _wait_blocked(blocker: asyncpg.Connection, proc: Proc, timeout: float = 30) -> int:
    """The importer's backend, once it waits for our lock (its batch transaction open, half-written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Waiting while its INSERT is parsed or run (pg_stat_activity may still show the previous query).
        pid = await blocker.fetchval(
            "SELECT pid FROM pg_locks"
            " WHERE NOT granted AND relation = 'audit_log'::regclass AND pid <> pg_backend_pid()"
        )
        if pid is not None:
            return int(pid)
        if not proc.alive():
            raise AssertionError(f"import ended before it blocked:\n{proc.log_tail()}")
        await asyncio.sleep(0.01)
    activity = await blocker.fetch(
        "SELECT pid, state, wait_event_type, wait_event, left(query, 120) AS query FROM pg_stat_activity "
        "WHERE datname = current_database()"
    )
    raise AssertionError(f"the importer never blocked on audit_log: {[dict(a) for a in activity]}\n{proc.log_tail()}")


async def _wait_backend_gone(blocker: asyncpg.Connection, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await blocker.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} of the killed importer still there after {timeout}s")
