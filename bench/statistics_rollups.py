"""Statistics at scale: 1M registered contracts on PostgreSQL, rollup-served statistics vs raw GROUP BY.

Creates a throwaway database (dropped at the end), migrates it, loads 1,000,000 contracts with COPY,
builds the rollups once (``rebuild``: COPY bypasses the ORM listener, as any bulk load would), then
times each statistics query through the service (rollups) against the equivalent raw SQL GROUP BY
scan of the contracts table (median of several runs), checks the sums are identical to the fen, and
prints both times and the ratio (target ≤ 0.1x). It also times registering contracts one by one
through the ORM, with the listener updating the rollups in the same transaction.

    .venv/bin/python -m bench.statistics_rollups [--contracts 1000000] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import select, text

from app.models import install_listeners
from bench.load import machine, verdict
from bench.servers import DEFAULT_DSN, postgres_version, temp_database
from contracts.contract.models import SUBTYPES, Contract, ContractStatus, ContractType
from contracts.statistics.dimensions import By, Side
from contracts.statistics.rollups import rebuild, verify
from contracts.statistics.service import PeriodRange, StatisticsService
from core.db import Database, create_engine
from core.reference import fields, regions

KINDS = ("university", "institute", "enterprise", "enterprise", "enterprise", "agency")
COUNTED = "('registered', 'performing', 'completed')"
SUMS = "COUNT(*), SUM(c.total_fen), SUM(c.technology_income_fen)"


async def load(dsn: str, count: int, seed: int = 2026) -> None:
    rng = random.Random(seed)
    connection = await asyncpg.connect(dsn)
    try:
        home = [code for code, r in regions().items() if code.startswith("15")]
        other = [code for code in regions() if not code.startswith("15")] + ["990840", "990276"]
        now = datetime.now(UTC)
        organizations = []
        for i in range(120):
            region = rng.choice(home) if i < 90 else rng.choice(other)
            organizations.append((f"基准单位{i:03d}", rng.choice(KINDS), region, "verified", now))
        await connection.copy_records_to_table(
            "organizations", records=organizations, columns=["name", "kind", "region", "status", "created_at"]
        )
        orgs = await connection.fetch("SELECT id, region, kind FROM organizations WHERE name LIKE '基准单位%'")
        field_codes = [*fields(), None]
        types = list(ContractType)
        statuses = ["registered"] * 6 + ["performing"] * 2 + ["completed", "terminated", "draft", "signed"]
        start = datetime(2022, 1, 1, tzinfo=UTC)
        span = int((now - start).total_seconds())
        columns = [
            "title",
            "type",
            "subtype",
            "field",
            "seller_org_id",
            "buyer_org_id",
            "seller_region",
            "buyer_region",
            "seller_kind",
            "buyer_kind",
            "total_fen",
            "technology_income_fen",
            "status",
            "registration_number",
            "registered_at",
            "service_invention",
            "inventors",
            "created_at",
            "updated_at",
        ]
        batch: list[tuple[object, ...]] = []
        for i in range(count):
            seller, buyer = rng.sample(orgs, 2)
            kind = types[i % 5]
            total = rng.randint(10_000_00, 20_000_000_00)  # contracts.total_fen is INTEGER (<= 21,474,836.47 元)
            status = rng.choice(statuses)
            counted = status in ("registered", "performing", "completed", "terminated")
            when = start + timedelta(seconds=rng.randrange(span))
            batch.append(
                (
                    f"基准合同 {i}",
                    kind.value,
                    sorted(SUBTYPES[kind])[0].value,
                    rng.choice(field_codes),
                    seller["id"],
                    buyer["id"],
                    seller["region"],
                    buyer["region"],
                    seller["kind"],
                    buyer["kind"],
                    total,
                    rng.randint(0, total),
                    status,
                    f"B{i:015d}" if counted else None,
                    when if counted else None,
                    False,
                    "[]",
                    when,
                    when,
                )
            )
            if len(batch) == 100_000:
                await connection.copy_records_to_table("contracts", records=batch, columns=columns)
                batch.clear()
        if batch:
            await connection.copy_records_to_table("contracts", records=batch, columns=columns)
        await connection.execute("ANALYZE contracts")
    finally:
        await connection.close()


def raw_queries(year: int) -> list[tuple[str, By, Side, str, PeriodRange, str]]:
    """(name, by, side, scope, period, the equivalent GROUP BY over contracts)."""
    lo, hi = f"'{year}-01-01 00:00:00+08'", f"'{year + 1}-01-01 00:00:00+08'"
    window = f"c.registered_at >= {lo} AND c.registered_at < {hi}"
    every = PeriodRange(202201, (year + 1) * 100 + 12)
    one_year = PeriodRange(year * 100 + 1, year * 100 + 12)
    return [
        (
            "输出 by field, 150000, one year",
            By.field,
            Side.seller,
            "150000",
            one_year,
            f"SELECT COALESCE(c.field, 'unspecified'), {SUMS} FROM contracts c "
            f"WHERE c.status IN {COUNTED} AND c.seller_region LIKE '15%' AND {window} GROUP BY 1",
        ),
        (
            "吸纳 by region, all, one year",
            By.region,
            Side.buyer,
            "all",
            one_year,
            f"SELECT c.buyer_region, {SUMS} FROM contracts c WHERE c.status IN {COUNTED} AND {window} GROUP BY 1",
        ),
        (
            "输出 by month, all, every year",
            By.month,
            Side.seller,
            "all",
            every,
            f"SELECT to_char(c.registered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), {SUMS} "
            f"FROM contracts c WHERE c.status IN {COUNTED} GROUP BY 1",
        ),
        (
            "输出 by type, 150200, one year",
            By.type,
            Side.seller,
            "150200",
            one_year,
            f"SELECT c.type, COUNT(*), SUM(c.total_fen), SUM(c.technology_income_fen) FROM contracts c "
            f"WHERE c.status IN {COUNTED} AND c.seller_region LIKE '1502%' AND {window} GROUP BY 1",
        ),
    ]


def _fen(text_yuan: object) -> int:
    whole, _, cents = str(text_yuan).partition(".")
    return int(whole) * 100 + int(cents or 0)


async def timed(work, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


async def main() -> None:
    install_listeners()  # contracts are written here, as the root does it
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine(f"PostgreSQL {await postgres_version(args.dsn)}"))
    async with temp_database(args.dsn) as (dsn, url):
        await measure(args, dsn, url)


async def measure(args: argparse.Namespace, dsn: str, url: str) -> None:
    database = Database(create_engine(url))
    try:
        started = time.perf_counter()
        await load(dsn, args.contracts)
        print(f"loaded {args.contracts:,} contracts with COPY in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        async with database.unit_of_work() as session:
            facts = await rebuild(session)
            rollup_rows = (await session.execute(text("SELECT COUNT(*) FROM statistics_rollups"))).scalar_one()
        async with database.engine.connect() as connection:
            await connection.execute(text("ANALYZE statistics_rollups"))
            await connection.commit()
        elapsed = time.perf_counter() - started
        print(f"rebuilt rollups: {facts:,} counted contracts -> {rollup_rows:,} rollup rows in {elapsed:.1f} s")

        year = datetime.now(UTC).year - 1
        worst = 0.0
        all_match = True
        print(f"\n{'query':36} {'rollups (ms)':>13} {'raw GROUP BY (ms)':>18} {'ratio':>7}  sums")
        for label, by, side, scope, period, sql in raw_queries(year):

            async def service_call(scope=scope, by=by, side=side, period=period):  # type: ignore[no-untyped-def]
                async with database.unit_of_work() as session:
                    return await StatisticsService(session).aggregate(scope, by, side, period)

            async def raw_call(sql=sql):  # type: ignore[no-untyped-def]
                async with database.unit_of_work() as session:
                    return (await session.execute(text(sql))).all()

            await service_call(), await raw_call()  # warm both
            service_time, result = await timed(service_call, args.runs)
            raw_time, rows = await timed(raw_call, args.runs)
            api = {
                i.key: (i.contracts, _fen(i.turnover), _fen(i.technology_income)) for i in result.items if i.contracts
            }  # type: ignore[attr-defined]
            raw = {str(k): (int(n), int(t), int(inc)) for k, n, t, inc in rows}  # type: ignore[union-attr]
            match = api == raw
            all_match &= match
            ratio = service_time / raw_time
            worst = max(worst, ratio)
            same = "identical" if match else "DIFFER"
            print(f"{label:36} {service_time * 1000:13.2f} {raw_time * 1000:18.1f} {ratio:7.4f}  {same}")

        # The write side: registrations through the ORM, rollups updated by the listener in the same transaction.
        async with database.unit_of_work() as session:
            ids = (
                (await session.execute(select(Contract.id).where(Contract.status == ContractStatus.signed).limit(200)))
                .scalars()
                .all()
            )
        started = time.perf_counter()
        for contract_id in ids:
            async with database.unit_of_work() as session:
                contract = await session.get(Contract, contract_id)
                assert contract is not None
                contract.status, contract.registered_at = ContractStatus.registered, datetime.now(UTC)
                contract.registration_number = f"R{contract_id:015d}"
        per = (time.perf_counter() - started) / max(len(ids), 1)
        print(
            "\nregistering one contract through the ORM (listener updates 14 rollup cells + 1 fact): "
            f"{per * 1000:.2f} ms per transaction"
        )
        async with database.unit_of_work() as session:
            problems = await verify(session)
        verified = f"{len(problems)} cells differ" if problems else "rollups equal GROUP BY over contracts"
        print(f"verify after those registrations: {verified}")
        sums = "identical" if all_match and not problems else "DIFFER"
        print(f"\nworst ratio rollups/raw: {worst:.4f}x (target <= 0.1x): {verdict(worst <= 0.1)}; sums {sums}")
        if not all_match or problems:
            raise SystemExit("rollups and GROUP BY disagree")  # an error, unlike a missed target
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
