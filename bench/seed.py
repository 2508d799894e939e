"""Putting a corpus where a bench needs it, fast: setup, never timed.

Benches that do not measure the import COPY published listings straight into the schema (no outbox
rows, so no worker relays them), and fill Meilisearch with the adapter's own documents built on every
core. What they leave is what the import and the outbox relay would have left, minus the audit trail.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.corpus import Corpus

ACHIEVEMENT_COLUMNS = [
    "external_id",
    "owner_id",
    "status",
    "title",
    "field",
    "keywords",
    "transaction_modes",
    "region",
    "contact",
    "created_at",
    "updated_at",
    "published_at",
    "summary",
    "maturity",
    "trl",
    "ip_type",
    "ip_numbers",
    "price_fen",
    "inventors",
    "advantages",
    "licences",
    "contracts_in_force",
]
DEMAND_COLUMNS = [
    "external_id",
    "owner_id",
    "status",
    "title",
    "field",
    "keywords",
    "transaction_modes",
    "region",
    "contact",
    "created_at",
    "updated_at",
    "published_at",
    "description",
    "budget_max_fen",
    "min_maturity",
]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def achievement_record(row: dict[str, Any], owner_id: int, now: datetime, status: str = "published") -> tuple[Any, ...]:
    return (
        row["external_id"],
        owner_id,
        status,
        row["title"],
        row["field"],
        _dumps(row["keywords"]),
        _dumps(row["transaction_modes"]),
        row["region"],
        _dumps(row["contact"]),
        now,
        now,
        now if status == "published" else None,
        row["summary"],
        row["maturity"],
        row["trl"],
        row["ip_type"],
        _dumps([n.removeprefix("CN") for n in row["ip_numbers"]]),
        None if row["price"] is None else row["price"] * 100,
        _dumps([{"name": x["name"], "share": str(x["share"])} for x in row["inventors"]]),
        _dumps(row["advantages"]),
        "[]",  # licences and contracts in force: none yet (no server default since migration 0016)
        "[]",
    )


async def copy_published(
    dsn: str,
    corpus: Corpus,
    achievements: Sequence[dict[str, Any]],
    demands: Sequence[dict[str, Any]] = (),
    *,
    organizations: bool = True,
) -> None:
    """Organizations (unless already there) and published listings straight into the schema with
    COPY (no outbox rows: nothing for a worker to relay)."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        if organizations:
            await connection.copy_records_to_table(
                "organizations",
                columns=["name", "kind", "region", "status", "created_at", "verified_at"],
                records=[(o.name, o.kind, o.region, "verified", now, now) for o in corpus.organizations],
            )
        ids = {r["name"]: r["id"] for r in await connection.fetch("SELECT id, name FROM organizations")}
        for start in range(0, len(achievements), 20_000):
            await connection.copy_records_to_table(
                "achievements",
                columns=ACHIEVEMENT_COLUMNS,
                records=[achievement_record(r, ids[r["owner"]], now) for r in achievements[start : start + 20_000]],
            )
        if demands:
            await connection.copy_records_to_table(
                "demands",
                columns=DEMAND_COLUMNS,
                records=[
                    (
                        d["external_id"],
                        ids[d["owner"]],
                        "published",
                        d["title"],
                        d["field"],
                        _dumps(d["keywords"]),
                        _dumps(d["transaction_modes"]),
                        d["region"],
                        "{}",
                        now,
                        now,
                        now,
                        d["description"],
                        None if d["budget_max"] is None else d["budget_max"] * 100,
                        d["min_maturity"],
                    )
                    for d in demands
                ],
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _payloads(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worker: documents → what the Meilisearch adapter sends (its own _document, unchanged)."""
    from search.adapters.meilisearch import MeilisearchEngine
    from search.documents import SearchDocument

    return [MeilisearchEngine._document(SearchDocument(**doc)) for doc in chunk]


async def search_documents(dsn: str, kind: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """SearchDocument fields of COPYed listings (as search.outbox_relay.document_for maps them)."""
    table = "achievements" if kind == "achievement" else "demands"
    connection = await asyncpg.connect(dsn)
    try:
        stored = {
            r["external_id"]: r
            for r in await connection.fetch(
                f"SELECT l.id, l.external_id, l.owner_id, l.published_at, o.name, o.kind FROM {table} l "
                "JOIN organizations o ON o.id = l.owner_id WHERE l.external_id = ANY($1::text[])",
                [row["external_id"] for row in rows],
            )
        }
    finally:
        await connection.close()
    docs = []
    for row in rows:
        db = stored[row["external_id"]]
        common = {
            "id": db["id"],
            "kind": kind,
            "external_id": row["external_id"],
            "title": row["title"],
            "keywords": row["keywords"],
            "field": row["field"],
            "region": row["region"],
            "transaction_modes": row["transaction_modes"],
            "owner_id": db["owner_id"],
            "owner_name": db["name"],
            "owner_kind": db["kind"],
            "published_at": db["published_at"],
        }
        if kind == "achievement":
            common.update(
                body=row["summary"],
                maturity=row["maturity"],
                trl=row["trl"],
                ip_type=row["ip_type"],
                price_fen=None if row["price"] is None else row["price"] * 100,
            )
        else:
            common.update(
                body=row["description"],
                maturity=row["min_maturity"],
                price_fen=None if row["budget_max"] is None else row["budget_max"] * 100,
            )
        docs.append(common)
    return docs


async def wait_task(client: httpx.AsyncClient, uid: int, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        state = (await client.get(f"/tasks/{uid}")).json()
        if state["status"] in ("succeeded", "failed", "canceled"):
            if state["status"] != "succeeded":
                raise RuntimeError(f"Meilisearch task {uid} {state['status']}: {state.get('error')}")
            return state
        if time.monotonic() > deadline:
            raise RuntimeError(f"Meilisearch task {uid} not done after {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


async def fill_index(
    meili_url: str,
    key: str,
    uid: str,
    docs: Sequence[dict[str, Any]],
    *,
    processes: int | None = None,
    chunk: int = 2000,
) -> None:
    """Build payloads on every core (fork pool) and add them to ``uid`` as they come; wait for all tasks.

    The index must exist with the adapter's settings (``MeilisearchEngine.ensure_ready``).
    """
    loop = asyncio.get_running_loop()
    chunks = [list(docs[i : i + chunk]) for i in range(0, len(docs), chunk)]
    tasks: list[int] = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with ProcessPoolExecutor(processes or os.cpu_count() or 2, mp_context=multiprocessing.get_context("fork")) as pool:
        async with httpx.AsyncClient(base_url=meili_url, headers=headers, timeout=120, trust_env=False) as client:
            futures = [loop.run_in_executor(pool, _payloads, part) for part in chunks]
            for future in futures:
                payload = await future
                reply = await client.post(
                    f"/indexes/{uid}/documents", content=json.dumps(payload, ensure_ascii=False).encode()
                )
                reply.raise_for_status()
                tasks.append(reply.json()["taskUid"])
            for task in tasks:
                await wait_task(client, task)
