"""Fixtures of the contracts tests: hypothesis settings, the provider stub on a real port."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import select

from app.factory import create_app
from contracts.payment.stub import StubProvider
from contracts.settings import PaymentSettings
from core.db import Database, create_engine
from core.settings import Settings
from market.demo import DEMO_ORGANIZATIONS
from market.identity.models import Organization
from market.listings.models import Achievement, IpType, ListingStatus, Maturity
from tests.fixtures.databases import isolated_database

# Nothing written into the work tree (hypothesis caches under the system temp directory instead),
# no example database, and no per-example deadline (CI machines are slow and shared).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "techmarket-hypothesis")
hypothesis_settings.register_profile("techmarket", database=None, deadline=None, max_examples=100)
hypothesis_settings.load_profile("techmarket")

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef-0123"
PROVIDER_KEY = "sk_test_contracts"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(app: Any, sock: socket.socket, *, lifespan: str = "on") -> AsyncIterator[uvicorn.Server]:
    """An ASGI app served by uvicorn on ``sock``, in this event loop, until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False, timeout_keep_alive=120)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


@dataclass
class PaymentWorld:
    api: httpx.AsyncClient  # talks to the backend served on a real port
    control: httpx.AsyncClient  # talks to the stub's control endpoints
    stub: StubProvider
    stub_sock: socket.socket
    database: Database
    settings: PaymentSettings

    async def faults(self, **knobs: Any) -> None:
        reply = await self.control.post("/_stub/faults", json=knobs)
        assert reply.status_code == 200, reply.text


@asynccontextmanager
async def _own_database(
    dialect: str, migrated_urls: dict[str, str], directory: Path, postgres_copy_factory: Any
) -> AsyncIterator[Database]:
    """SQLite: a copy of the template file. PostgreSQL: a real database of its own (a copy of the
    template), never one rolled-back transaction: the backend, the stub's webhooks and the test
    really run side by side, each on its own connection, as in production."""
    if dialect == "sqlite":
        async with isolated_database(dialect, migrated_urls, directory) as database:
            yield database
        return
    database = Database(create_engine(await asyncio.to_thread(postgres_copy_factory), pool_size=5))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def payment_world(
    settings: Settings, dialect: str, migrated_urls: dict[str, str], tmp_path: Path, postgres_copy_factory: Any
) -> AsyncIterator[PaymentWorld]:
    backend_sock, stub_sock = free_socket(), free_socket()
    backend_url = f"http://127.0.0.1:{backend_sock.getsockname()[1]}"
    stub_url = f"http://127.0.0.1:{stub_sock.getsockname()[1]}"
    stub = StubProvider(
        webhook_url=f"{backend_url}/api/v1/payments/webhook", webhook_secret=WEBHOOK_SECRET, api_key=PROVIDER_KEY
    )
    payment_settings = PaymentSettings(
        env="test",
        provider_url=stub_url,
        provider_api_key=PROVIDER_KEY,
        webhook_secret=WEBHOOK_SECRET,
        timeout_seconds=0.5,
        max_attempts=4,
        backoff_seconds=0.05,
    )
    async with _own_database(dialect, migrated_urls, tmp_path, postgres_copy_factory) as database:
        app = create_app(settings, database=database)
        app.state.payment_settings = payment_settings
        async with serve(stub.app, stub_sock), serve(app, backend_sock):
            async with (
                httpx.AsyncClient(base_url=backend_url, timeout=30) as api,
                httpx.AsyncClient(base_url=stub_url) as control,
            ):
                yield PaymentWorld(api, control, stub, stub_sock, database, payment_settings)


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await predicate():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def org_id(database: Database, email: str) -> int:
    name = next(o.name for o in DEMO_ORGANIZATIONS if o.admin_email == email)
    async with database.unit_of_work() as session:
        return int((await session.execute(select(Organization.id).where(Organization.name == name))).scalar_one())


async def published_achievement(
    database: Database, owner_email: str, inventors: list[dict[str, Any]] | None = None
) -> int:
    owner = await org_id(database, owner_email)
    async with database.unit_of_work() as session:
        achievement = Achievement(
            owner_id=owner,
            status=ListingStatus.published,
            title="稀土永磁材料低重稀土制备技术",
            field="new_materials",
            region="150200",
            summary="一种降低重稀土用量的烧结钕铁硼制备方法。",
            maturity=Maturity.pilot,
            trl=6,
            ip_type=IpType.invention_patent,
            inventors=inventors
            if inventors is not None
            else [{"name": "王教授", "share": 5}, {"name": "李博士", "share": 3}, {"name": "赵工", "share": 2}],
        )
        session.add(achievement)
        await session.flush()
        return achievement.id or 0
