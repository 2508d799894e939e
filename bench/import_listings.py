"""Bulk import of achievements on the server profile: N rows through the Importer vs raw COPY.

Generates N synthetic, varied Chinese achievements (word lists in bench/corpus.py; valid field and
region codes from core.reference, TRL consistent with maturity, patent numbers with correct check
digits) as a JSONL file, creates a throwaway PostgreSQL database, migrates it, and times the import
the way `techmarket import achievements FILE --publish --create-organizations` does it: read the
file, parse it (market.listings.files.read_rows), Importer(...).run(publish=True,
create_organizations=True) — validation, owner resolution (600 organizations created), batched
inserts with audit and outbox rows.

Anchor, same run, same database: the same JSONL parsed with json.loads and the same rows written
with one asyncpg COPY into a plain table (``LIKE achievements``: no indexes, no foreign keys), so
the ratio is the price of validation, the ORM, the audit trail and the outbox.

Target: 100k achievements in under 60 s. Exits non-zero only on errors.

    .venv/bin/python -m bench.import_listings [--n 100000] [--batch-size 1000] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import app.models  # noqa: F401  (every table)
from bench.corpus import Corpus, write_jsonl
from bench.load import machine, verdict
from bench.seed import ACHIEVEMENT_COLUMNS, achievement_record
from bench.servers import DEFAULT_DSN, postgres_version, temp_database
from core.db import Database, create_engine
from market.listings.files import read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT

TARGET_SECONDS = 60.0


def timed_phases(importer: Importer) -> dict[str, float]:
    """Wrap the importer's phases (on this instance only) to report where the time goes."""
    phases = {"validate": 0.0, "owners": 0.0, "land": 0.0}

    def wrap(name: str, phase: str, is_async: bool) -> None:
        original = getattr(importer, name)
        if is_async:

            async def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    phases[phase] += time.perf_counter() - started
        else:

            def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    phases[phase] += time.perf_counter() - started

        setattr(importer, name, timed)

    wrap("_validate", "validate", False)
    wrap("_resolve_owners", "owners", True)
    wrap("_land", "land", True)
    return phases


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="achievements to import (default 100000)")
    parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (the CLI default is 1000)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="PostgreSQL server (a throwaway database is created on it)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    print(machine(f"PostgreSQL {await postgres_version(args.dsn)}"))
    print(f"bench: import {args.n:,} achievements (JSONL) on the server profile, batch size {args.batch_size}")

    started = time.perf_counter()
    corpus = Corpus(seed=args.seed)
    rows = corpus.achievements(args.n)
    workdir = Path(tempfile.mkdtemp(prefix="techmarket-bench-import-"))
    path = workdir / "achievements.jsonl"
    write_jsonl(path, rows)
    del rows
    print(
        f"generated {args.n:,} rows, {len(corpus.organizations)} owner organizations, "
        f"{path.stat().st_size / 2**20:.1f} MiB JSONL in {time.perf_counter() - started:.1f} s"
    )

    try:
        async with temp_database(args.dsn) as (dsn, url):
            database = Database(create_engine(url))
            try:
                # ---- the measured import: file → parsed rows → Importer.run
                started = time.perf_counter()
                parsed = list(read_rows(path.name, path.read_bytes()))
                read_seconds = time.perf_counter() - started
                importer = Importer(database, ACHIEVEMENT)
                phases = timed_phases(importer)
                report = await importer.run(parsed, publish=True, create_organizations=True, batch_size=args.batch_size)
                import_seconds = time.perf_counter() - started
                del parsed
                if report.errors or report.created != args.n:
                    print(
                        f"import report: created {report.created}, errors {len(report.errors)}: "
                        f"{[e.model_dump() for e in report.errors[:5]]}",
                        file=sys.stderr,
                    )
                    raise SystemExit(2)

                connection = await asyncpg.connect(dsn)
                try:
                    landed = await connection.fetchval("SELECT count(*) FROM achievements WHERE status = 'published'")
                    events = await connection.fetchval("SELECT count(*) FROM outbox_events")
                    audits = await connection.fetchval("SELECT count(*) FROM audit_log")
                    owners = {r["name"]: r["id"] for r in await connection.fetch("SELECT id, name FROM organizations")}

                    # ---- anchor: the same file, json.loads + one COPY into a plain table
                    await connection.execute(
                        "CREATE TABLE bench_raw_achievements (LIKE achievements INCLUDING DEFAULTS)"
                    )
                    started = time.perf_counter()
                    now = datetime.now(UTC)
                    with path.open(encoding="utf-8") as handle:
                        records = [
                            achievement_record(row, owners[row["owner"]], now) for row in map(json.loads, handle)
                        ]
                    copy_started = time.perf_counter()
                    await connection.copy_records_to_table(
                        "bench_raw_achievements", records=records, columns=ACHIEVEMENT_COLUMNS
                    )
                    anchor_seconds = time.perf_counter() - started
                    copy_seconds = time.perf_counter() - copy_started
                    copied = await connection.fetchval("SELECT count(*) FROM bench_raw_achievements")
                finally:
                    await connection.close()
            finally:
                await database.dispose()
    finally:
        path.unlink(missing_ok=True)
        workdir.rmdir()

    if landed != args.n or copied != args.n:
        print(f"row counts differ: imported {landed}, copied {copied}, expected {args.n}", file=sys.stderr)
        raise SystemExit(2)
    print(
        f"\nimported {landed:,} published achievements, {report.organizations_created} organizations created, "
        f"{events:,} outbox events, {audits:,} audit rows"
    )
    print(f"  read+parse file     {read_seconds:7.2f} s")
    print(f"  validate (pydantic) {phases['validate']:7.2f} s")
    print(f"  resolve owners      {phases['owners']:7.2f} s")
    print(
        f"  land batches        {phases['land']:7.2f} s   "
        "(insert ... returning, audit rows, outbox rows; one transaction per batch)"
    )
    print(f"import total          {import_seconds:7.2f} s   {args.n / import_seconds:9,.0f} rows/s")
    print(
        f"anchor json+COPY      {anchor_seconds:7.2f} s   {args.n / anchor_seconds:9,.0f} rows/s   "
        f"(COPY alone {copy_seconds:.2f} s)"
    )
    print(f"ratio import/anchor   {import_seconds / anchor_seconds:7.1f}x")
    scaled = import_seconds * 100_000 / args.n
    note = "" if args.n == 100_000 else f" (scaled linearly to 100k: {scaled:.1f} s)"
    print(
        f"target: 100k rows < {TARGET_SECONDS:.0f} s -> {import_seconds:.1f} s for {args.n:,}{note}: "
        f"{verdict(scaled < TARGET_SECONDS)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
