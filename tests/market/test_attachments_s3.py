"""The server profile's object store: attachments in a real S3-compatible server (moto_server on a
loopback port), through the API and through the store itself (multipart upload, streamed reads,
listing, deletes, reconciliation)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.factory import create_app
from core.db import Database
from core.settings import Settings
from core.storage import ObjectMissing, build_store
from core.storage.s3 import PART_BYTES, S3Store
from market.attachments.cleanup import cleanup_once, reconcile
from market.attachments.service import object_key
from tests.contracts.conftest import published_achievement
from tests.fixtures.app import TEST_SECRET, login
from tests.fixtures.s3 import S3Server

INSTITUTE = "institute@demo.techmarket.cn"


@pytest.fixture
def s3_settings(tmp_path: Path, s3_server: S3Server, request: pytest.FixtureRequest) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        worker_in_process=False,
        storage_s3_url=s3_server.url,
        storage_s3_bucket=f"techmarket-{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]}",
        storage_s3_access_key=s3_server.access_key,
        storage_s3_secret_key=s3_server.secret_key,
    )


@pytest.fixture
async def s3_client(s3_settings: Settings, database: Database) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(s3_settings, database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def test_store_round_trip_with_multipart_upload(s3_settings: Settings, tmp_path: Path) -> None:
    store = build_store(s3_settings)
    assert isinstance(store, S3Store)
    source = tmp_path / "big.bin"
    content = os.urandom(PART_BYTES * 2 + 12345)  # three parts
    source.write_bytes(content)
    try:
        await store.put_file("objects/ab/big", source, media_type="application/pdf")
        assert await store.exists("objects/ab/big")
        chunks = [chunk async for chunk in store.read("objects/ab/big")]
        assert b"".join(chunks) == content and len(chunks) > 1  # streamed, not one piece
        assert [k.key async for k in store.keys("objects/")] == ["objects/ab/big"]
        await store.delete("objects/ab/big")
        await store.delete("objects/ab/big")  # already gone: no error
        assert not await store.exists("objects/ab/big")
        with pytest.raises(ObjectMissing):
            _ = [chunk async for chunk in store.read("objects/ab/big")]
    finally:
        await store.aclose()


async def test_attachments_live_in_the_object_store(
    s3_client: tuple[FastAPI, httpx.AsyncClient], s3_settings: Settings, database: Database
) -> None:
    app, client = s3_client
    achievement = await published_achievement(database, INSTITUTE)
    owner = await login(client, INSTITUTE)
    url = f"/api/v1/achievements/{achievement}/attachments"
    content = b"%PDF-1.7\n" + os.urandom(PART_BYTES + 1000)  # a multipart upload to the store
    files = {"file": ("科技成果评价报告.pdf", content, "application/pdf")}
    first = await client.post(url, headers=owner, params={"visibility": "public"}, files=files)
    assert first.status_code == 201, first.text
    second = await client.post(url, headers=owner, files=files)
    item = first.json()
    assert item["sha256"] == hashlib.sha256(content).hexdigest() == second.json()["sha256"]

    store = app.state.store
    assert isinstance(store, S3Store)
    assert [k.key async for k in store.keys("objects/")] == [object_key(item["sha256"])]  # stored once
    download = await client.get(item["download_url"])
    assert download.status_code == 200 and download.content == content
    assert not (s3_settings.data_dir / "storage").exists()  # nothing under the data directory

    for attachment in (first.json(), second.json()):
        assert (await client.delete(f"{url}/{attachment['id']}", headers=owner)).status_code == 204
    assert await store.exists(object_key(item["sha256"]))  # until the worker runs
    await cleanup_once(database, store)
    assert not await store.exists(object_key(item["sha256"]))
    assert (await reconcile(database, store, grace=timedelta(0))).clean
