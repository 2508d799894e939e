"""The index cannot drift silently: a write the engine refuses is retried and visible, and the
periodic consistency check repairs what differs between published listings and indexed documents."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from core.db import Database
from core.observability import Metrics
from core.types import utcnow
from search.adapters.embedded import EmbeddedEngine
from search.adapters.meilisearch import MeilisearchEngine
from search.consistency import check_when_due, last_checks
from search.outbox_relay import relay_once, relay_round
from search.query import SearchQuery
from tests.fixtures.meilisearch import MeiliServer, wait_for_task
from tests.search.test_conformance import doc
from tests.search.test_relay_and_api import publish, search_event


@pytest.fixture
async def meili(meili_server: MeiliServer) -> AsyncIterator[MeilisearchEngine]:
    engine = MeilisearchEngine(
        meili_server.url, api_key=meili_server.master_key, index_prefix=f"ic{uuid.uuid4().hex[:10]}"
    )
    await engine.ensure_ready()
    yield engine
    await engine.aclose()


async def admin_call(server: MeiliServer, method: str, path: str, body: object = None) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as http:
        reply = await http.request(method, path, json=body)
        reply.raise_for_status()
        await wait_for_task(http, reply.json()["taskUid"])


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_write_the_engine_rejects_stays_pending_visible_and_is_applied_once_it_can_be(
    client: httpx.AsyncClient, database: Database, meili: MeilisearchEngine, meili_server: MeiliServer
) -> None:
    live = meili.uid("achievement")
    # the index is recreated behind the platform's back with another primary key: Meilisearch
    # accepts every document write (202), then fails its task (index_primary_key_already_exists)
    await admin_call(meili_server, "DELETE", f"/indexes/{live}")
    await admin_call(meili_server, "POST", "/indexes", {"uid": live, "primaryKey": "external_id"})
    item = await publish(client)
    metrics = Metrics()

    outcome = await relay_round(database, meili, metrics=metrics.search_index)
    assert outcome.handled == 0 and not outcome.engine_down
    assert [reason.split(":")[0] for reason in outcome.rejected.values()] == ["index_primary_key_already_exists"]
    event = await search_event(database, item["id"])
    assert event.processed_at is None and event.attempts == 1  # not marked done: it is retried
    assert event.last_error is not None and event.last_error.startswith(
        "rejected by the search engine: index_primary_key"
    )
    assert event.available_at > utcnow()  # with a backoff: retrying at once cannot help
    assert sample(metrics, "techmarket_search_index_writes_total", kind="achievement", outcome="rejected") == 1

    await admin_call(meili_server, "DELETE", f"/indexes/{live}")  # the operator puts the index right
    await meili.ensure_ready()
    await asyncio.sleep(2.1)  # the first retry comes after 2 s
    assert await relay_once(database, meili, metrics=metrics.search_index) >= 1
    assert [hit.id for hit in (await meili.search("achievement", SearchQuery(text="钕铁硼"))).hits] == [item["id"]]
    assert sample(metrics, "techmarket_search_index_writes_total", kind="achievement", outcome="applied") >= 1


async def test_the_consistency_check_indexes_what_is_missing_and_deletes_what_is_extra(
    client: httpx.AsyncClient, database: Database, meili: MeilisearchEngine, meili_server: MeiliServer
) -> None:
    kept = await publish(client, title="钕铁硼永磁材料晶界扩散技术")
    lost = await publish(client, title="风电叶片复合材料回收利用技术")
    while await relay_once(database, meili):
        pass
    assert await meili.ids("achievement") == {kept["id"], lost["id"]}
    # drift behind the relay's back: a document deleted, a stray one added
    await admin_call(meili_server, "POST", f"/indexes/{meili.uid('achievement')}/documents/delete-batch", [lost["id"]])
    await meili.upsert("achievement", [doc(987_654, "无主的稀土文档", "数据库里没有这条成果。")])
    pending = await publish(client, title="马铃薯淀粉废水蛋白回收技术")  # its change is on its way: left to the relay
    metrics = Metrics()

    assert await check_when_due(database, meili, every=timedelta(0), metrics=metrics.search_index) == 2  # both kinds
    assert await meili.ids("achievement") == {kept["id"], lost["id"]}
    assert [
        hit.id for hit in (await meili.search("achievement", SearchQuery(text="风电叶片", related=False))).hits
    ] == [lost["id"]]
    assert sample(metrics, "techmarket_search_index_drift", kind="achievement", side="missing") == 1
    assert sample(metrics, "techmarket_search_index_drift", kind="achievement", side="extra") == 1
    assert sample(metrics, "techmarket_search_index_repairs_total", kind="achievement", action="indexed") == 1
    assert sample(metrics, "techmarket_search_index_repairs_total", kind="achievement", action="deleted") == 1
    assert sample(metrics, "techmarket_search_index_checked_timestamp_seconds", kind="demand") > 0
    checks = {row.kind: row for row in await last_checks(database)}
    assert (checks["achievement"].published, checks["achievement"].missing, checks["achievement"].extra) == (3, 1, 1)
    assert checks["achievement"].running_until is None and checks["achievement"].checked_at is not None

    assert await check_when_due(database, meili, metrics=metrics.search_index) == 0  # checked a moment ago: not due
    while await relay_once(database, meili):
        pass
    assert await meili.ids("achievement") == {kept["id"], lost["id"], pending["id"]}
    assert await check_when_due(database, meili, every=timedelta(0), metrics=metrics.search_index) == 2
    assert sample(metrics, "techmarket_search_index_drift", kind="achievement", side="missing") == 0
    assert sample(metrics, "techmarket_search_index_drift", kind="achievement", side="extra") == 0


def test_reindex_check_reports_and_repairs_from_the_command_line(
    tmp_path: Path, migrated_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import app

    copy = tmp_path / "cli.db"
    shutil.copyfile(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///"), copy)
    monkeypatch.setenv("TECHMARKET_DATABASE_URL", f"sqlite+aiosqlite:///{copy}")
    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))

    async def stray(only_read: bool = False) -> set[int]:
        engine = EmbeddedEngine(tmp_path / "search.db")
        try:
            await engine.ensure_ready()
            if not only_read:
                await engine.upsert("achievement", [doc(987_654, "无主的稀土文档", "数据库里没有这条成果。")])
            return await engine.ids("achievement")
        finally:
            await engine.aclose()

    assert asyncio.run(stray()) == {987_654}
    result = CliRunner().invoke(app, ["reindex", "achievements", "--check"])
    assert result.exit_code == 0, result.output
    assert "987654" in result.output and "achievement" in result.output
    assert asyncio.run(stray(only_read=True)) == set()
