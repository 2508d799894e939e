"""The server profile's real processes (serve, worker, import) as subprocesses, for fault tests.

Starting, waiting for and stopping them is ``tooling.servers``, the starter the benches use too
(re-exported here); this module adds the test profile (``server_env``), database queries, and load
and Meilisearch helpers. Everything listens on loopback only and every wait is bounded. Databases
are copies of the run's template (``postgres_database_factory.copy()``, tests.fixtures.databases).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.fixtures.app import TEST_SECRET
from tests.market.test_listings import INSTITUTE, achievement
from tooling.meili_process import MeiliServer
from tooling.servers import REPO_ROOT as REPO_ROOT
from tooling.servers import Proc as Proc
from tooling.servers import app_env
from tooling.servers import free_port as free_port
from tooling.servers import start as start
from tooling.servers import start_serve as start_serve
from tooling.servers import stopping as stopping
from tooling.servers import techmarket_command as techmarket_command
from tooling.servers import wait_ready as wait_ready


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --------------------------------------------------------------------------- database queries


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


# --------------------------------------------------------------------------- processes


def server_env(database_url: str, data_dir: Path, meili: MeiliServer | None = None, **extra: str) -> dict[str, str]:
    env = app_env(
        TECHMARKET_ENV="test",
        TECHMARKET_SECRET_KEY=TEST_SECRET,
        TECHMARKET_DATABASE_URL=database_url,
        TECHMARKET_DATA_DIR=str(data_dir),
        TECHMARKET_LOG_JSON="true",
        TECHMARKET_LOG_LEVEL="WARNING",
        TECHMARKET_WORKER_IN_PROCESS="false",
    )
    if meili is not None:
        env.update(TECHMARKET_SEARCH_URL=meili.url, TECHMARKET_SEARCH_KEY=meili.master_key)
    env.update(extra)
    return env


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
