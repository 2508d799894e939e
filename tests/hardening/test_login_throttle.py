"""Login throttle and argon2 off the event loop, on SQLite and PostgreSQL.

The issue's example: 40 wrong passwords in 11 s went through, and every argon2 verification
(~100 ms) ran on the event loop, so a login storm stalled every request. Each test below asserts
what a client or an operator would see; the limits are the defaults (40 per account, 100 per
address) unless a test needs small ones, and the window is a day so that a slow machine's 40
attempts (each a real argon2 verification) always fall inside it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlmodel import col
from starlette.requests import Request

from app.factory import create_app
from core import security
from core.audit import AuditEntry
from core.db import Database, create_engine
from core.settings import Settings
from market.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL
from market.identity.login import client_address
from tests.fixtures.app import TEST_SECRET

TOKEN = "/api/v1/auth/token"
DAY = 86_400
HOME = ("192.0.2.10", 50_000)  # the attacker's socket peer
ELSEWHERE = ("203.0.113.7", 50_001)  # someone else's


def throttle_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        log_json=True,
        worker_in_process=False,
        login_window_seconds=DAY,
    )
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def served(settings: Settings, database: Database) -> AsyncIterator[dict[tuple[str, int], httpx.AsyncClient]]:
    """The app with one client per socket peer address (``clients[HOME]``, ``clients[ELSEWHERE]``)."""
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        clients = {
            peer: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False, client=peer),
                base_url="http://testserver",
            )
            for peer in (HOME, ELSEWHERE)
        }
        try:
            yield clients
        finally:
            for client in clients.values():
                await client.aclose()


async def attempt(client: httpx.AsyncClient, email: str, password: str, **headers: str) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password}, headers=headers)


async def throttle_audit(database: Database) -> list[AuditEntry]:
    async with database.unit_of_work() as session:
        statement = select(AuditEntry).where(
            col(AuditEntry.entity_type) == "login", col(AuditEntry.action) == "throttled"
        )
        return list((await session.execute(statement.order_by(col(AuditEntry.id)))).scalars())


async def test_the_41st_wrong_password_is_refused_with_retry_after_audited_and_the_window_ends_it(
    database: Database, tmp_path: Path
) -> None:
    async with served(throttle_settings(tmp_path), database) as clients:
        attacker = clients[HOME]
        for n in range(40):
            reply = await attempt(attacker, PLATFORM_ADMIN_EMAIL, f"guess-{n}")
            assert (reply.status_code, reply.json()["code"]) == (401, "invalid_credentials"), (n, reply.text)

        refused = await attempt(attacker, PLATFORM_ADMIN_EMAIL, "guess-40")
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["code"] == "login_throttled" and body["title"] == "登录失败次数过多, 请稍后再试"
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= DAY and body["retry_after"] == retry_after

        # Refused whatever the password, from any address and through the dashboard's form too.
        right = await attempt(attacker, PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD)
        assert right.status_code == 429 and right.json()["code"] == "login_throttled"
        assert (await attempt(clients[ELSEWHERE], PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD)).status_code == 429
        form = await clients[ELSEWHERE].post(
            "/admin/login", data={"username": PLATFORM_ADMIN_EMAIL, "password": DEMO_PASSWORD}
        )
        assert form.status_code == 429 and int(form.headers["Retry-After"]) >= 1
        assert "登录失败次数过多" in form.text and "techmarket_admin" not in form.headers.get("set-cookie", "")

        # Another account from another address is unaffected.
        other = await attempt(clients[ELSEWHERE], "institute@demo.techmarket.cn", DEMO_PASSWORD)
        assert other.status_code == 200, other.text

        # One audit entry for the run of refusals (not one per refused request), naming account and address.
        entries = await throttle_audit(database)
        assert len(entries) == 1, [(e.reason, e.changes) for e in entries]
        assert entries[0].reason == "account" and entries[0].entity_id > 0
        assert entries[0].changes["email"] == PLATFORM_ADMIN_EMAIL and entries[0].changes["address"] == HOME[0]
        assert entries[0].changes["via"] == TOKEN

        # A day later (the buckets aged by the window) the right password works, and it ends the run of failures.
        async with database.unit_of_work() as session:
            await session.execute(text("UPDATE login_throttle SET busy_until = busy_until - :day"), {"day": DAY})
        assert (await attempt(attacker, PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD)).status_code == 200
        async with database.unit_of_work() as session:
            left = (
                (await session.execute(text("SELECT key FROM login_throttle WHERE key LIKE 'account:%'")))
                .scalars()
                .all()
            )
        assert left == []


async def test_one_address_spraying_many_accounts_is_throttled_and_a_forged_forwarded_for_does_not_help(
    database: Database, tmp_path: Path
) -> None:
    async with served(throttle_settings(tmp_path, login_address_failures=3), database) as clients:
        for n in range(3):
            assert (await attempt(clients[HOME], f"nobody{n}@example.cn", "guess")).status_code == 401
        forged = await attempt(clients[HOME], "nobody9@example.cn", "guess", **{"X-Forwarded-For": "198.51.100.1"})
        assert forged.status_code == 429 and forged.json()["code"] == "login_throttled", forged.text
        assert int(forged.headers["Retry-After"]) >= 1
        # Another address, even for one of the sprayed accounts, is not concerned.
        assert (await attempt(clients[ELSEWHERE], "nobody0@example.cn", "guess")).status_code == 401
        assert (await attempt(clients[ELSEWHERE], "univ@demo.techmarket.cn", DEMO_PASSWORD)).status_code == 200
        entries = await throttle_audit(database)
        assert [(e.reason, e.entity_id, e.changes["address"]) for e in entries] == [("address", 0, HOME[0])]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    database: Database, tmp_path: Path
) -> None:
    settings = throttle_settings(tmp_path, login_address_failures=2, trusted_proxies=f"{HOME[0]}/32")
    async with served(settings, database) as clients:
        proxy = clients[HOME]
        for n in range(2):
            assert (
                await attempt(proxy, f"a{n}@example.cn", "guess", **{"X-Forwarded-For": "198.51.100.1"})
            ).status_code == 401
        assert (
            await attempt(proxy, "a3@example.cn", "guess", **{"X-Forwarded-For": "198.51.100.1"})
        ).status_code == 429
        # the proxy appends the real client: what the client wrote to the left of it is not believed
        spoofed = await attempt(proxy, "a4@example.cn", "guess", **{"X-Forwarded-For": "10.9.9.9, 198.51.100.1"})
        assert spoofed.status_code == 429
        assert (
            await attempt(proxy, "a5@example.cn", "guess", **{"X-Forwarded-For": "198.51.100.2"})
        ).status_code == 401


@asynccontextmanager
async def argon2_threads_held() -> AsyncIterator[None]:
    """Every argon2 thread busy until the block ends: a verification submitted inside it must wait."""
    release, started = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        started.release()
        release.wait(60)

    holders = [security.PASSWORD_POOL.submit(hold) for _ in range(security.PASSWORD_THREADS)]
    try:
        for _ in holders:
            assert await asyncio.to_thread(started.acquire, True, 30)
        yield
    finally:
        release.set()


async def test_while_a_login_is_being_verified_other_requests_are_served(database: Database, tmp_path: Path) -> None:
    """Deterministic, not timed: every argon2 thread is held busy, so the login's verification
    cannot finish until released; meanwhile other requests (one reads the database) must be answered.
    With argon2 on the event loop the login never reaches the pool at all. The account is unknown,
    so this also shows that an unknown e-mail costs the same verification as a real one."""
    async with served(throttle_settings(tmp_path), database) as clients:
        client = clients[HOME]
        async with argon2_threads_held():
            login = asyncio.create_task(attempt(client, "ghost@example.cn", "guess"))
            for _ in range(1000):  # the login reads its buckets and account, then waits for an argon2 thread
                if security.password_jobs() >= 1 or login.done():
                    break
                await asyncio.sleep(0.01)
            assert security.password_jobs() >= 1, "the verification never went to the argon2 threads"
            for _ in range(5):
                assert (await client.get("/healthz")).status_code == 200
                assert (await client.get("/api/v1/organizations?limit=1")).status_code == 200
            assert not login.done()
        reply = await asyncio.wait_for(login, 60)
        assert (reply.status_code, reply.json()["code"]) == (401, "invalid_credentials")


async def test_a_throttled_attempt_runs_no_argon2(database: Database, tmp_path: Path) -> None:
    """With every argon2 thread held, a refused attempt still answers at once: it never queued for one."""
    async with served(throttle_settings(tmp_path, login_account_failures=1), database) as clients:
        client = clients[HOME]
        assert (await attempt(client, PLATFORM_ADMIN_EMAIL, "guess")).status_code == 401
        async with argon2_threads_held():
            refused = await asyncio.wait_for(attempt(client, PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD), 30)
            assert refused.status_code == 429 and security.password_jobs() == 0


@pytest.fixture
def concurrent_url(dialect: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """PostgreSQL: a database of its own (the usual test fixture runs on one connection, so nothing there
    is concurrent)."""
    if dialect == "sqlite":
        yield None  # the usual SQLite copy is a real file with a real pool
        return
    yield request.getfixturevalue("postgres_database_factory").copy()


@pytest.fixture
async def concurrent_database(concurrent_url: str | None, database: Database) -> AsyncIterator[Database]:
    if concurrent_url is None:
        yield database
        return
    own = Database(create_engine(concurrent_url, pool_size=10))
    try:
        yield own
    finally:
        await own.dispose()


async def test_concurrent_wrong_passwords_cannot_overspend_the_budget(
    concurrent_database: Database, tmp_path: Path
) -> None:
    """20 wrong passwords for one account at once, 5 allowed: exactly 5 verified (401), 15 refused (429)."""
    async with served(throttle_settings(tmp_path, login_account_failures=5), concurrent_database) as clients:
        replies = await asyncio.gather(*(attempt(clients[HOME], PLATFORM_ADMIN_EMAIL, f"guess-{n}") for n in range(20)))
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [401] * 5 + [429] * 15, [reply.text for reply in replies if reply.status_code not in (401, 429)]


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "client": (peer, 1)})


def test_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it(tmp_path: Path) -> None:
    plain = throttle_settings(tmp_path)
    assert client_address(_request("192.0.2.1", "198.51.100.1"), plain) == "192.0.2.1"
    assert client_address(_request("2001:db8:1:2:aaaa::1"), plain) == "2001:db8:1:2::/64"
    assert client_address(_request("::ffff:192.0.2.1"), plain) == "192.0.2.1"
    proxied = throttle_settings(tmp_path, trusted_proxies="10.0.0.0/8, 192.0.2.1")
    assert client_address(_request("192.0.2.1", "198.51.100.1"), proxied) == "198.51.100.1"
    assert client_address(_request("192.0.2.1", "203.0.113.5, 198.51.100.1, 10.1.1.1"), proxied) == "198.51.100.1"
    assert client_address(_request("192.0.2.1", "not-an-address"), proxied) == "192.0.2.1"
    assert client_address(_request("192.0.2.99", "198.51.100.1"), proxied) == "192.0.2.99"  # not a trusted peer
