"""Attachments through the API: content-checked types, per-type size limits, one stored copy per
content, visibility, signed download links, audited deletes and the outbox cleanup, on SQLite and
PostgreSQL with the embedded file store."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from openpyxl import Workbook
from sqlalchemy import select

from app.worker import run_once
from contracts.contract.models import Contract
from contracts.demo import DEMO_CONTRACT_TITLE
from core.audit import AuditEntry
from core.db import Database
from core.settings import Settings
from core.storage import build_store
from core.types import utcnow
from market.attachments.cleanup import cleanup_once, reconcile
from market.attachments.models import Attachment, OwnerKind, StoredObject
from market.attachments.service import attachments_of, detach_all, object_key, signed_link
from market.demo import REGION_ADMIN
from tests.contracts.conftest import published_achievement
from tests.fixtures.app import login

INSTITUTE = "institute@demo.techmarket.cn"
ENTERPRISE = "enterprise@demo.techmarket.cn"
ENERGY = "energy@demo.techmarket.cn"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        package.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    book = Workbook()
    book.active.append(["检测项目", "结果"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("readme.txt", "not an office file")
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    content: bytes,
    name: str = "证书.pdf",
    **params: str,
) -> httpx.Response:
    return await client.post(url, headers=headers, params=params, files={"file": (name, content, "application/pdf")})


async def test_types_are_told_by_content_and_limits_answer_413_in_chinese(
    client: httpx.AsyncClient, database: Database
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    url = f"/api/v1/achievements/{achievement}/attachments"
    owner = await login(client, INSTITUTE)

    cases = [
        (PDF, "评价报告.pdf", "application/pdf"),
        (PNG, "现场照片.pdf", "image/png"),  # the name says PDF, the content says PNG
        (JPEG, "photo.bin", "image/jpeg"),
        (docx_bytes(), "合同.xlsx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (xlsx_bytes(), "检测数据.docx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]
    for content, name, media_type in cases:
        reply = await upload(client, url, owner, content, name, visibility="public")
        assert reply.status_code == 201, reply.text
        assert reply.json()["media_type"] == media_type
        assert reply.json()["filename"] == name

    for content in (b"just text, named .pdf", plain_zip(), b"PK\x03\x04broken zip"):
        refused = await upload(client, url, owner, content, "伪装.pdf")
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "file_type_refused"
        assert "PDF、JPEG、PNG、DOCX、XLSX" in refused.json()["title"]

    empty = await upload(client, url, owner, b"", "空.pdf")
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_file")

    too_big = JPEG + b"\x00" * (20 * 1024 * 1024)  # JPEG limit: 20 MB
    refused = await upload(client, url, owner, too_big, "大图.jpg")
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "file_too_large"
    assert refused.json()["title"] == "文件过大: JPEG 图片 最大 20 MB"
    listed = await client.get(url, headers=owner)
    assert listed.json()["total"] == len(cases)  # nothing refused was attached


async def test_same_content_is_stored_once_and_released_by_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    url = f"/api/v1/achievements/{achievement}/attachments"
    owner = await login(client, INSTITUTE)
    first = (await upload(client, url, owner, PDF, "a.pdf", category="patent_certificate")).json()
    second = (await upload(client, url, owner, PDF, "b.pdf", category="evaluation_report")).json()
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    stored = settings.data_dir / "storage" / object_key(first["sha256"])
    assert stored.read_bytes() == PDF
    assert [p for p in (settings.data_dir / "storage").rglob("*") if p.is_file()] == [stored]
    async with database.unit_of_work() as session:
        counted = await session.get(StoredObject, first["sha256"])
    assert counted is not None and counted.refcount == 2

    assert (await client.delete(f"{url}/{first['id']}", headers=owner)).status_code == 204
    store = build_store(settings)
    await cleanup_once(database, store)
    assert stored.exists()  # still attached once

    assert (await client.delete(f"{url}/{second['id']}", headers=owner)).status_code == 204
    assert stored.exists()  # the request never deletes bytes: the worker does
    await run_once(database, app.state.search, app.state.http, store=store)
    assert not stored.exists()
    async with database.unit_of_work() as session:
        assert await session.get(StoredObject, first["sha256"]) is None
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.entity_type == "attachment"))).scalars().all()
        )
    deletes = [e for e in entries if e.action == "delete" and e.entity_id in (first["id"], second["id"])]
    assert {e.changes["filename"] for e in deletes} == {"a.pdf", "b.pdf"}
    assert all(e.actor_user_id is not None for e in deletes)
    await store.aclose()

    again = await upload(client, url, owner, PDF, "c.pdf")  # stored again after its cleanup
    assert again.status_code == 201 and stored.read_bytes() == PDF


async def test_visibility_per_attachment_and_signed_links(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    url = f"/api/v1/achievements/{achievement}/attachments"
    owner = await login(client, INSTITUTE)
    ids = {}
    for level in ("public", "parties", "owner", "admin"):
        content = PDF + level.encode()
        reply = await upload(client, url, owner, content, f"{level}.pdf", visibility=level)
        assert reply.status_code == 201, reply.text
        ids[level] = reply.json()["id"]

    async def seen(headers: dict[str, str]) -> set[str]:
        reply = await client.get(url, headers=headers)
        assert reply.status_code == 200, reply.text
        return {item["visibility"] for item in reply.json()["items"]}

    assert await seen({}) == {"public"}
    assert await seen(await login(client, ENERGY)) == {"public"}
    assert await seen(owner) == {"public", "parties", "owner"}
    assert await seen(await login(client, REGION_ADMIN[0])) == {"public", "parties", "owner", "admin"}
    hidden = await client.get(f"{url}/{ids['parties']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "attachment_not_found")

    item = (await client.get(f"{url}/{ids['public']}")).json()
    assert "uploaded_by" not in item  # who uploaded stays with that organization
    fetched = await client.get(item["download_url"])  # no bearer header: the link is the authorization
    assert fetched.status_code == 200
    assert fetched.content == PDF + b"public"
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert "filename*=UTF-8''public.pdf" in fetched.headers["content-disposition"]

    # A link cannot be reused for another object: same expiry and signature, another attachment id.
    other = item["download_url"].replace(f"/attachments/{ids['public']}/", f"/attachments/{ids['admin']}/")
    refused = await client.get(other)
    assert (refused.status_code, refused.json()["code"]) == (403, "download_link_invalid")
    tampered = item["download_url"].replace("expires=", "expires=1")
    assert (await client.get(tampered)).status_code == 403

    async with database.unit_of_work() as session:
        row = await session.get(Attachment, ids["public"])
        assert row is not None
    expired, _ = signed_link(settings, row, now=utcnow() - timedelta(seconds=settings.attachment_link_seconds + 1))
    refused = await client.get(expired)
    assert (refused.status_code, refused.json()["code"]) == (403, "download_link_invalid")
    assert "过期" in refused.json()["title"]

    stranger = await login(client, ENERGY)
    forbidden = await client.delete(f"{url}/{ids['public']}", headers=stranger)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "attachment_forbidden")
    refused_upload = await upload(client, url, stranger, PDF + b"x")
    assert (refused_upload.status_code, refused_upload.json()["code"]) == (403, "attachment_forbidden")


async def test_contract_attachments_are_the_parties_and_service_lists_them_by_category(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.unit_of_work() as session:
        contract = (await session.execute(select(Contract).where(Contract.title == DEMO_CONTRACT_TITLE))).scalar_one()
    url = f"/api/v1/contracts/{contract.id}/attachments"
    parties = {email: await login(client, email) for email in (INSTITUTE, ENTERPRISE)}
    seller = parties[INSTITUTE]  # the demo contract: 演示稀土研究院 sells to 演示乳业科技
    text = await upload(client, url, seller, docx_bytes(), "技术转让合同.docx", category="contract_text")
    assert text.status_code == 201, text.text
    await upload(client, url, seller, PNG, "签约现场.png", category="photo", visibility="owner")

    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=await login(client, ENERGY))).status_code == 404
    buyer_sees = (await client.get(url, headers=parties[ENTERPRISE])).json()
    assert [i["category"] for i in buyer_sees["items"]] == ["contract_text"]  # the seller's own photo stays theirs

    async with database.unit_of_work() as session:
        cid = contract.id or 0
        texts = await attachments_of(session, owner_kind="contract", owner_id=cid, category="contract_text")
        every = await attachments_of(session, owner_kind="contract", owner_id=cid)
    assert [a.filename for a in texts] == ["技术转让合同.docx"]
    assert {a.category for a in every} == {"contract_text", "photo"}


async def test_reconcile_reports_orphans_and_missing_objects(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    url = f"/api/v1/achievements/{achievement}/attachments"
    owner = await login(client, INSTITUTE)
    kept = (await upload(client, url, owner, PDF + b"kept")).json()
    lost = (await upload(client, url, owner, PDF + b"lost")).json()
    store = build_store(settings)
    try:
        (settings.data_dir / "storage" / object_key(lost["sha256"])).unlink()
        orphan = Path(settings.data_dir / "storage" / object_key("f" * 64))
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"left behind")
        report = await reconcile(database, store, grace=timedelta(0))
        assert report.missing == [lost["sha256"]]
        assert report.orphans == ["f" * 64] and report.removed == []
        assert orphan.exists()
        report = await reconcile(database, store, remove=True, grace=timedelta(0))
        assert report.removed == ["f" * 64] and not orphan.exists()
        assert (settings.data_dir / "storage" / object_key(kept["sha256"])).exists()
        # Uploading the lost content again restores its object.
        assert (await upload(client, url, owner, PDF + b"lost")).status_code == 201
        assert (await reconcile(database, store, grace=timedelta(0))).clean
    finally:
        await store.aclose()


async def test_an_object_going_away_releases_its_files_through_the_outbox(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    """``detach_all`` (for a holder deleted in the same transaction) never orphans nor loses bytes:
    content shared with another holder stays, content only it had is removed by the worker."""
    first = await published_achievement(database, INSTITUTE)
    second = await published_achievement(database, INSTITUTE)
    owner = await login(client, INSTITUTE)
    shared = (await upload(client, f"/api/v1/achievements/{first}/attachments", owner, PDF + b"shared")).json()
    await upload(client, f"/api/v1/achievements/{second}/attachments", owner, PDF + b"shared")
    alone = (await upload(client, f"/api/v1/achievements/{first}/attachments", owner, PNG)).json()
    async with database.unit_of_work() as session:
        assert await detach_all(session, OwnerKind.achievement, first, actor_user_id=None) == 2
    store = build_store(settings)
    try:
        await cleanup_once(database, store)
        root = settings.data_dir / "storage"
        assert (root / object_key(shared["sha256"])).exists()
        assert not (root / object_key(alone["sha256"])).exists()
        assert (await reconcile(database, store, grace=timedelta(0))).clean
    finally:
        await store.aclose()
    assert (await client.get(f"/api/v1/achievements/{first}/attachments", headers=owner)).json()["total"] == 0


def test_reconcile_command_exits_1_on_orphans_and_0_once_removed(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from app.cli import app as cli
    from core import migrations

    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TECHMARKET_DATABASE_URL", raising=False)
    monkeypatch.delenv("TECHMARKET_STORAGE_S3_URL", raising=False)
    migrations.upgrade(f"sqlite+aiosqlite:///{tmp_path / 'techmarket.db'}")
    orphan = tmp_path / "storage" / object_key("e" * 64)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"no row knows me")
    runner = CliRunner()
    report = runner.invoke(cli, ["attachments", "reconcile", "--grace-minutes", "0"])
    assert report.exit_code == 1 and "orphan" in report.output, report.output
    assert orphan.exists()
    removed = runner.invoke(cli, ["attachments", "reconcile", "--remove", "--grace-minutes", "0"])
    assert removed.exit_code == 0 and not orphan.exists(), removed.output
