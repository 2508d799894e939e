"""What a bench runs against: a throwaway PostgreSQL database and the API on the server profile.

The API runs as ``techmarket serve`` in a subprocess (``tooling.servers``, the starter the
multi-process tests use), on the server profile with production's checks (``ENV=production``,
random secrets), so a figure is what a deployment would do on this machine. ``CpuMeter`` charges
the CPU each process spent to its side of a measurement.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from core import migrations
from tooling.servers import app_env, serving

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_GROUPS: dict[str, int] = {}  # base URL of a running `techmarket serve` → its process group (CpuMeter)


@asynccontextmanager
async def temp_database(dsn: str = DEFAULT_DSN, *, migrate: bool = True) -> AsyncIterator[tuple[str, str]]:
    """(asyncpg dsn, SQLAlchemy url) of a fresh database, migrated; dropped (FORCE) at the end."""
    name = f"techmarket_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_dsn = dsn.rsplit("/", 1)[0] + f"/{name}"
    url = db_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        if migrate:
            await asyncio.to_thread(migrations.upgrade, url)
        yield db_dsn, url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def postgres_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval("SHOW server_version")).split()[0]
    finally:
        await connection.close()


@contextmanager
def api_server(
    database_url: str, search_url: str, search_key: str, *, workers: int = 1, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """``techmarket serve`` on the server profile (ENV=production); yields its base URL, stops it after.

    ``settings``: more ``TECHMARKET_*`` variables for the server (e.g. a login throttle's limits)."""
    with tempfile.TemporaryDirectory(prefix="techmarket-bench-serve-") as scratch:
        data = Path(scratch, "data")
        data.mkdir()
        env = app_env(
            TECHMARKET_ENV="production",
            TECHMARKET_DATABASE_URL=database_url,
            TECHMARKET_SEARCH_URL=search_url,
            TECHMARKET_SEARCH_KEY=search_key,
            TECHMARKET_SECRET_KEY=secrets.token_urlsafe(48),
            # production also refuses the development payment secrets; no payment is made here
            TECHMARKET_PAYMENT_WEBHOOK_SECRET=secrets.token_urlsafe(48),
            TECHMARKET_PAYMENT_PROVIDER_API_KEY=secrets.token_urlsafe(24),
            TECHMARKET_DATA_DIR=str(data),
            TECHMARKET_LOG_LEVEL="WARNING",
            **(settings or {}),
        )
        # A server with 100k listings and several workers may take longer than a test's to be ready.
        with serving(env, Path(scratch), workers=workers, timeout=180) as (proc, url):
            SERVER_GROUPS[url] = proc.pid
            try:
                yield url
            finally:
                SERVER_GROUPS.pop(url, None)


class CpuMeter:
    """CPU seconds (user + system) each side of a measurement spent, read from /proc (Linux).

    Throughput on this 2-core machine is a share of the same two cores between the API, the
    engine, PostgreSQL and the load generator, and it swings with the host's noise; CPU time per
    request does not, and it shows which process a target's cost is in."""

    def __init__(self, *, api_url: str | None = None, meili_pid: int | None = None) -> None:
        self.group = SERVER_GROUPS.get(api_url or "")
        self.meili_pid = meili_pid

    def read(self) -> dict[str, float]:
        totals = {"API": 0.0, "Meilisearch": 0.0, "PostgreSQL": 0.0}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            command, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if self.group is not None and int(fields[2]) == self.group:
                totals["API"] += seconds
            elif int(entry.name) == self.meili_pid:
                totals["Meilisearch"] += seconds
            elif command == "postgres":
                totals["PostgreSQL"] += seconds
        usage = resource.getrusage(resource.RUSAGE_SELF)
        totals["load generator"] = usage.ru_utime + usage.ru_stime
        return totals

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request by side."""
        return {side: (after[side] - before[side]) * 1000 / max(requests, 1) for side in before}
