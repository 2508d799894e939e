"""One tenant's webhook cannot stall anyone else's alerts, nor search indexing.

The issue: a URL with a tab raised outside the handled errors, so the whole delivery batch was
discarded every 60 s (events re-sent, other organizations' skipped), and six receivers that never
answer delayed search indexing to 28 s. Now each delivery's failure stays with its event (attempts
counted, dead-lettered after the last, shown to the organization), a batch's deliveries run
concurrently under a per-destination cap, and delivery has a loop of its own beside the relay.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.factory import create_app
from app.worker import run_forever
from core.db import Database, create_engine
from core.egress import EgressClient, EgressPolicy
from core.settings import Settings
from search.alerts.models import DeliveryStatus
from search.alerts.tasks import MAX_ATTEMPTS, PER_DESTINATION, deliver_once
from tests.fixtures.app import login
from tests.fixtures.databases import PostgresDatabases
from tests.hardening.webhooks import delivery_of, http_receiver, make_due, organization, queue_alert, silent_receiver
from tests.market.test_listings import ENTERPRISE, INSTITUTE, achievement
from tests.search.test_matching import PLATFORM_ADMIN_EMAIL

TIMEOUT = 0.5  # per phase of a delivery; a whole delivery is bounded by twice that


async def test_a_broken_url_or_a_silent_receiver_stays_with_its_own_event(database: Database) -> None:
    orgs = [await organization(database, f"回调隔离测试单位{i}") for i in range(5)]
    async with http_receiver() as good, silent_receiver() as silent, http_receiver(status=500) as failing:
        tab = await queue_alert(database, orgs[0], "http://ex\tample.com/")
        delivered = await queue_alert(database, orgs[1], good.url)
        hung = await queue_alert(database, orgs[2], silent.url)
        malformed = await queue_alert(database, orgs[3], "http://[::1/")
        erroring = await queue_alert(database, orgs[4], failing.url)
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=TIMEOUT)) as egress:
            assert await deliver_once(database, egress) == 5  # one batch, nothing discarded
            assert await deliver_once(database, egress) == 0  # nothing re-sent: every outcome was recorded
        assert len(good.received) == 1 and len(failing.received) == 1 and silent.accepted == 1

        assert (await delivery_of(database, delivered)).status == DeliveryStatus.delivered
        for broken in (tab, malformed):  # the URL itself is refused: dead-lettered at once
            state = await delivery_of(database, broken)
            assert (state.status, state.attempts, state.event_done) == (DeliveryStatus.failed, 1, True)
            assert state.error is not None and state.error.startswith("invalid_url")
        for waiting, error in ((hung, "timeout"), (erroring, "HTTP 500")):  # retried with backoff
            state = await delivery_of(database, waiting)
            assert (state.status, state.attempts, state.error, state.event_done) == (
                DeliveryStatus.pending,
                1,
                error,
                False,
            )


async def test_a_failing_delivery_is_dead_lettered_after_the_last_attempt_and_shown_to_its_organization(
    settings: Settings, client: httpx.AsyncClient, database: Database, app: FastAPI
) -> None:
    app.state.settings = settings.model_copy(update={"webhook_allow_insecure": True})
    enterprise, institute = await login(client, ENTERPRISE), await login(client, INSTITUTE)
    org = (await client.get("/api/v1/users/me", headers=enterprise)).json()["organization_id"]
    async with http_receiver(status=500) as failing:
        notification = await queue_alert(database, org, failing.url)
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=TIMEOUT)) as egress:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                assert await deliver_once(database, egress) == 1
                state = await delivery_of(database, notification)
                assert state.attempts == attempt and state.error == "HTTP 500"
                await make_due(database)
            assert await deliver_once(database, egress) == 0  # dead: never sent again
        assert len(failing.received) == MAX_ATTEMPTS
    state = await delivery_of(database, notification)
    assert (state.status, state.event_done, state.delivered) == (DeliveryStatus.failed, True, False)

    failed = (await client.get("/api/v1/notifications", params={"delivery": "failed"}, headers=enterprise)).json()
    assert [(n["id"], n["delivery_status"], n["delivery_attempts"], n["delivery_error"]) for n in failed["items"]] == [
        (notification, "failed", MAX_ATTEMPTS, "HTTP 500")
    ]
    assert (await client.get("/api/v1/notifications", params={"delivery": "pending"}, headers=enterprise)).json()[
        "total"
    ] == 0
    theirs = (await client.get("/api/v1/notifications", params={"delivery": "failed"}, headers=institute)).json()
    assert notification not in [n["id"] for n in theirs["items"]]


async def test_deliveries_run_concurrently_with_at_most_a_few_per_destination(database: Database) -> None:
    orgs = [await organization(database, f"回调并发测试单位{i}") for i in range(8)]
    async with silent_receiver() as shared, silent_receiver() as a, silent_receiver() as b, silent_receiver() as c:
        for org in orgs[:5]:
            await queue_alert(database, org, shared.url)
        for org, receiver in zip(orgs[5:], (a, b, c), strict=True):
            await queue_alert(database, org, receiver.url)
        async with EgressClient(EgressPolicy(allow_insecure=True, timeout_seconds=TIMEOUT)) as egress:
            started = time.monotonic()
            assert await deliver_once(database, egress) == 8
            elapsed = time.monotonic() - started
    assert shared.accepted == 5 and shared.peak == PER_DESTINATION  # five waited their turn, two at a time
    third_turn = sorted(shared.accepted_at)[PER_DESTINATION]  # after the first round had timed out
    for other in (a, b, c):  # the crowded destination held nobody else up: all in the first round
        assert other.accepted == 1 and other.accepted_at[0] < third_turn
    assert elapsed < 8 * TIMEOUT, f"{elapsed:.2f} s: as long as eight deliveries one after another"


@pytest.fixture
def live_database_url(
    dialect: str, migrated_urls: dict[str, str], tmp_path: Path, postgres_database_factory: PostgresDatabases
) -> Iterator[str]:
    """A database with real commits and a pool (both loops of the worker hold connections at once)."""
    if dialect == "sqlite":
        copy = tmp_path / "live.db"
        shutil.copyfile(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///"), copy)
        yield f"sqlite+aiosqlite:///{copy}"
        return
    yield postgres_database_factory.copy()


@pytest.fixture
async def live_app(settings: Settings, live_database_url: str) -> AsyncIterator[tuple[FastAPI, Database]]:
    database = Database(create_engine(live_database_url, pool_size=5))
    application = create_app(settings, database=database)
    try:
        async with application.router.lifespan_context(application):
            yield application, database
    finally:
        await database.dispose()


async def test_hung_receivers_do_not_delay_search_indexing(live_app: tuple[FastAPI, Database]) -> None:
    """Six receivers that never answer, deliveries in flight; a listing published meanwhile is
    searchable while all six still hang. With the steps in one sequence the relay could not run
    until every delivery had timed out, one after another (28 s in the issue, 6 x 8 s here)."""
    app, database = live_app
    hang = 8.0  # each delivery hangs until its read times out
    orgs = [await organization(database, f"回调挂起测试单位{i}") for i in range(6)]
    async with (
        AsyncExitStack() as stack,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
        ) as client,
    ):
        receivers = [await stack.enter_async_context(silent_receiver()) for _ in orgs]
        for org, receiver in zip(orgs, receivers, strict=True):
            await queue_alert(database, org, receiver.url)
        institute, admin = await login(client, INSTITUTE), await login(client, PLATFORM_ADMIN_EMAIL)
        title = "回调挂起期间发布的盐碱地改良微生物菌剂"
        draft = (
            await client.post("/api/v1/achievements", json=achievement(title=title, ip_numbers=[]), headers=institute)
        ).json()
        assert (await client.post(f"/api/v1/achievements/{draft['id']}/submit", headers=institute)).status_code == 200
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_forever(
                database,
                app.state.search,
                app.state.http,
                stop,
                idle_seconds=0.05,
                egress_policy=EgressPolicy(allow_insecure=True, timeout_seconds=hang),
            )
        )
        try:
            deadline = time.monotonic() + 10
            while sum(r.open for r in receivers) < len(receivers):  # every delivery is hanging now
                assert time.monotonic() < deadline and not worker.done(), (
                    "the six deliveries were never in flight at once"
                )
                await asyncio.sleep(0.02)
            hanging_since = max(r.accepted_at[0] for r in receivers)
            approved = await client.post(f"/api/v1/achievements/{draft['id']}/approve", headers=admin)
            assert approved.status_code == 200, approved.text
            published = time.monotonic()
            while True:
                page = (await client.get("/api/v1/search/achievements", params={"q": title})).json()
                if draft["id"] in [hit["listing"]["id"] for hit in page.get("items", [])]:
                    break
                assert time.monotonic() - hanging_since < hang - 1, "search indexing waited for the hung receivers"
                await asyncio.sleep(0.05)
            lag = time.monotonic() - published
            assert sum(r.open for r in receivers) == len(receivers)  # ... while every delivery still hangs
            print(f"\nindexed {lag:.2f} s after publishing, with {len(receivers)} receivers hanging")
        finally:
            stop.set()
            await stack.aclose()  # the receivers hang up: the deliveries in flight end now, not at their timeout
            await asyncio.wait_for(worker, timeout=3 * hang)
