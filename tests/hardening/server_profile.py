"""The server profile's real processes (serve, worker, import) as subprocesses, for fault tests.

Everything listens on loopback only; every wait is bounded; processes run in their own session
(process group) so that ``serve --workers N`` is stopped with its children, by their group id.
Databases are copies of one migrated template holding the demo accounts, made on the shared
PostgreSQL server and dropped afterwards (the server itself is never touched).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from core import migrations
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.databases import _pg_admin, _pg_url, _seed_demo
from tests.market.test_listings import INSTITUTE, achievement
from tooling.meili_process import MeiliServer

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
_TEMPLATE: dict[str, str] = {}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def techmarket_command() -> list[str]:
    script = Path(sys.executable).with_name("techmarket")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --------------------------------------------------------------------------- databases


def template_database(postgres_database_factory: Callable[[], str]) -> str:
    """Name of a migrated database with the demo accounts, made once per run (dropped with the run)."""
    if "name" not in _TEMPLATE:
        url = postgres_database_factory()
        migrations.upgrade(url)
        asyncio.run(_seed_demo(url))
        _TEMPLATE["name"] = url.rsplit("/", 1)[1]
    return _TEMPLATE["name"]


@contextmanager
def copied_database(template: str) -> Iterator[str]:
    """A fresh copy of the template (CREATE DATABASE … TEMPLATE), dropped at the end."""
    name = f"techmarket_hard_{uuid.uuid4().hex[:12]}"
    for attempt in range(10):  # the template may still be held for a moment by a closing connection
        try:
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            break
        except asyncpg.ObjectInUseError:
            if attempt == 9:
                raise
            time.sleep(0.3)
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


# --------------------------------------------------------------------------- processes


def server_env(database_url: str, data_dir: Path, meili: MeiliServer | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHMARKET_", "MEILI_"))}
    env.update(
        TECHMARKET_ENV="test",
        TECHMARKET_SECRET_KEY=TEST_SECRET,
        TECHMARKET_DATABASE_URL=database_url,
        TECHMARKET_DATA_DIR=str(data_dir),
        TECHMARKET_LOG_JSON="true",
        TECHMARKET_LOG_LEVEL="WARNING",
        TECHMARKET_WORKER_IN_PROCESS="false",
        NO_PROXY="127.0.0.1,localhost",
    )
    if meili is not None:
        env.update(TECHMARKET_SEARCH_URL=meili.url, TECHMARKET_SEARCH_KEY=meili.master_key)
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        """SIGKILL the process alone (its children, if any, are left to the group stop)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM to the process group, then SIGKILL to it after STOP_TIMEOUT; returns the exit code."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of the group (uvicorn's children)
        except ProcessLookupError:
            pass
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None


def start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log_file:
        popen = subprocess.Popen(
            techmarket_command() + args,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log_path)


def wait_ready(proc: Proc, url: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            try:
                reply = client.get(url)
                if reply.status_code == 200:
                    return
                last = f"HTTP {reply.status_code}: {reply.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
    raise AssertionError(f"{proc.name} not ready at {url} after {timeout:.0f}s ({last}):\n{proc.log_tail()}")


def start_serve(
    env: dict[str, str], log_dir: Path, *, workers: int = 1, name: str = "serve", wait: bool = True
) -> tuple[Proc, str]:
    """``techmarket serve`` on a free loopback port; with ``wait``, returns once /readyz answers 200."""
    port = free_port()
    proc = start(name, ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)], env, log_dir)
    base = f"http://127.0.0.1:{port}"
    if wait:
        try:
            wait_ready(proc, f"{base}/readyz")
        except BaseException:
            proc.stop()
            raise
    return proc, base


@contextmanager
def stopping(*procs: Proc) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            proc.stop()


# --------------------------------------------------------------------------- API load


async def token(http: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    reply = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@dataclass
class Publisher:
    """Publishes achievements through the API (create → submit → approve) and withdraws them."""

    http: httpx.AsyncClient
    owner: dict[str, str]
    admin: dict[str, str]
    failures: list[str] = field(default_factory=list)
    writes: list[tuple[float, str, int]] = field(default_factory=list)  # (monotonic time, what, status)

    async def _post(self, what: str, path: str, **kwargs: Any) -> httpx.Response | None:
        try:
            reply = await self.http.post(path, **kwargs)
        except httpx.HTTPError as exc:
            self.failures.append(f"{what} {path}: {exc!r}")
            self.writes.append((time.monotonic(), what, 0))
            return None
        self.writes.append((time.monotonic(), what, reply.status_code))
        if reply.status_code >= 300:
            self.failures.append(f"{what} {path}: {reply.status_code} {reply.text[:300]}")
            return None
        return reply

    async def publish(self, tag: str) -> int | None:
        body = achievement(title=f"稀土永磁材料晶界扩散技术 {tag}", keywords=["钕铁硼", "晶界扩散", tag])
        created = await self._post("create", "/api/v1/achievements", json=body, headers=self.owner)
        if created is None:
            return None
        listing_id = int(created.json()["id"])
        if await self._post("submit", f"/api/v1/achievements/{listing_id}/submit", headers=self.owner) is None:
            return None
        if await self._post("approve", f"/api/v1/achievements/{listing_id}/approve", headers=self.admin) is None:
            return None
        return listing_id

    async def withdraw(self, listing_id: int) -> bool:
        return (
            await self._post("withdraw", f"/api/v1/achievements/{listing_id}/withdraw", headers=self.owner) is not None
        )


async def publisher(http: httpx.AsyncClient) -> Publisher:
    from market.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL

    return Publisher(
        http, await token(http, INSTITUTE, DEMO_PASSWORD), await token(http, PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD)
    )


# --------------------------------------------------------------------------- Meilisearch


async def meili_ids(meili: MeiliServer, index: str = "techmarket_achievement") -> list[int]:
    """Every document id in an index (ids as stored: a duplicate would show twice)."""
    ids: list[int] = []
    async with httpx.AsyncClient(base_url=meili.url, headers=meili.headers, timeout=10, trust_env=False) as http:
        for page in range(1000):
            reply = await http.get(
                f"/indexes/{index}/documents", params={"fields": "id", "limit": 1000, "offset": page * 1000}
            )
            if reply.status_code == 404:
                return ids
            reply.raise_for_status()
            results = reply.json()["results"]
            ids.extend(int(doc["id"]) for doc in results)
            if len(results) < 1000:
                return ids
    raise AssertionError("index larger than the bound of this helper")


async def meili_tasks(meili: MeiliServer, index: str = "techmarket_achievement") -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=meili.url, headers=meili.headers, timeout=10, trust_env=False) as http:
        params: dict[str, Any] = {"indexUids": index, "limit": 1000}
        for _ in range(1000):
            reply = await http.get("/tasks", params=params)
            reply.raise_for_status()
            body = reply.json()
            tasks.extend(body["results"])
            if body.get("next") is None:
                return tasks
            params["from"] = body["next"]
    raise AssertionError("more tasks than the bound of this helper")


async def meili_idle(meili: MeiliServer, timeout: float = 30.0) -> None:
    """Wait until Meilisearch has no enqueued or processing task."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=meili.url, headers=meili.headers, timeout=5, trust_env=False) as http:
        while time.monotonic() < deadline:
            reply = await http.get("/tasks", params={"statuses": "enqueued,processing", "limit": 1})
            if reply.status_code == 200 and reply.json()["total"] == 0:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"Meilisearch still busy after {timeout}s")


def which_compose() -> list[str] | None:
    """``docker compose`` (plugin) or ``docker-compose``, if a client that parses files offline is here."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        probe = subprocess.run([legacy, "version"], capture_output=True, text=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [legacy]
    return None
