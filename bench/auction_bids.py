"""Auction bids under contention: 200 bidders, 5,000 bid attempts on one lot, on PostgreSQL.

    .venv/bin/python -m bench.auction_bids [--bidders 200] [--bids 5000] [--workers 1]

`techmarket serve` on the server profile (a fresh PostgreSQL database with the demo data, a throwaway
Meilisearch) as a subprocess. Set up directly in the database: ``--bidders`` verified organizations
with one admin each (logged in through the API), one live lot of the demo institute's, and every
bidder's deposit held (deposits through the provider are the tests' business; here only bids count).

1. anchor: a plain authenticated POST on the same server, the same clients: ``POST …/deposit`` of a
   deposit already held (the idempotent answer: auth, one transaction, one row), ``--bids`` times;
2. bids: each bidder a closed-loop client on its own keep-alive connection, each bid with a fresh
   Idempotency-Key, at the minimum it last heard of (plus 0-2 increments); a refusal (409 bid_too_low
   with the new ``minimum``, already_leading) is an answer too. ``--bids`` attempts in all;
3. retries: 500 accepted bids sent again with their key: each must answer 200 with the same bid.

Then the database is read: every accepted bid (201) is there exactly once, none more, prices unique and
rising by at least the increment in sequence order. Prints both phases' throughput and p50/p99, and the
ratios bid / anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter
from datetime import timedelta

from bench.load import Connection, machine, percentile
from bench.servers import api_server, postgres_version, temp_database

PASSWORD = "Bench-auction-2026"
INCREMENT = 1_000  # fen
START = 1_000_000


async def _setup(url: str, bidders: int) -> tuple[int, list[str]]:
    from sqlalchemy import select
    from sqlmodel import col

    from app.demo import load_demo
    from app.models import install_listeners
    from contracts.auction import deposits as ledger
    from contracts.auction.models import Auction, AuctionDeposit, DepositStatus, LedgerKind
    from contracts.contract.models import ContractSubtype, ContractType
    from core import security
    from core.db import Database
    from core.settings import Settings
    from core.types import utcnow
    from market.demo import DEMO_ORGANIZATIONS
    from market.identity.models import Organization, OrganizationKind, OrganizationStatus, Role, User
    from market.listings.models import Achievement, IpType, ListingStatus, Maturity, PricingMode

    install_listeners()
    database = Database.from_settings(Settings(database_url=url))
    try:
        async with database.unit_of_work() as session:
            await load_demo(session, Settings(database_url=url))
        digest = await security.hash_password(PASSWORD)
        emails = [f"bidder{n:03d}@bench.techmarket.cn" for n in range(bidders)]
        async with database.unit_of_work() as session:
            institute_name = next(o.name for o in DEMO_ORGANIZATIONS if o.admin_email.startswith("institute@"))
            seller = (
                await session.execute(select(Organization).where(col(Organization.name) == institute_name))
            ).scalar_one()
            creator = (
                (await session.execute(select(User).where(col(User.organization_id) == seller.id))).scalars().first()
            )
            assert creator is not None
            achievement = Achievement(
                owner_id=seller.id or 0,
                status=ListingStatus.published,
                title="竞价压测成果",
                field="new_materials",
                region=seller.region,
                summary="压测用成果",
                maturity=Maturity.pilot,
                trl=6,
                ip_type=IpType.invention_patent,
                pricing_mode=PricingMode.auction,
            )
            session.add(achievement)
            await session.flush()
            now = utcnow()
            auction = Auction(
                achievement_id=achievement.id or 0,
                seller_org_id=seller.id or 0,
                created_by=creator.id or 0,
                title="竞价压测",
                contract_type=ContractType.transfer,
                contract_subtype=ContractSubtype.patent_right,
                start_price_fen=START,
                reserve_fen=START,
                increment_fen=INCREMENT,
                deposit_fen=100_000,
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(days=1),
                scheduled_end_at=now + timedelta(days=1),
                extension_minutes=0,
            )
            session.add(auction)
            await session.flush()
            for n, email in enumerate(emails):
                org = Organization(
                    kind=OrganizationKind.enterprise,
                    name=f"压测竞买企业{n:03d}",
                    region="150100",
                    status=OrganizationStatus.verified,
                    verified_at=now,
                )
                session.add(org)
                await session.flush()
                session.add(
                    User(
                        email=email,
                        full_name=f"竞买人{n}",
                        password_hash=digest,
                        role=Role.org_admin,
                        organization_id=org.id,
                    )
                )
                deposit = AuctionDeposit(
                    auction_id=auction.id or 0,
                    organization_id=org.id or 0,
                    amount_fen=100_000,
                    status=DepositStatus.held,
                    idempotency_key=f"bench-{auction.id}-{n}",
                )
                session.add(deposit)
                await session.flush()
                await ledger.record(session, deposit, LedgerKind.paid, "bench")
            return auction.id or 0, emails
    finally:
        await database.dispose()


async def _login(base: str, emails: list[str]) -> list[str]:
    tokens: list[str] = []
    gate = asyncio.Semaphore(8)

    async def one(email: str) -> None:
        async with gate:
            connection = Connection(base)
            body = f"username={email}&password={PASSWORD}".encode()
            status, payload = await connection.request(
                "POST", "/api/v1/auth/token", body, "application/x-www-form-urlencoded"
            )
            await connection.close()
            assert status == 200, payload[:200]
            tokens.append(json.loads(payload)["access_token"])

    await asyncio.gather(*(one(e) for e in emails))
    return tokens


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(yuan: str) -> int:
    whole, _, cents = yuan.partition(".")
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))


async def _anchor(base: str, aid: int, tokens: list[str], total: int) -> tuple[list[float], float, int]:
    left = [total]
    latencies: list[float] = []
    errors = 0

    async def client(token: str) -> None:
        nonlocal errors
        connection = Connection(base, {"Authorization": f"Bearer {token}"})
        try:
            while left[0] > 0:
                left[0] -= 1
                started = time.perf_counter()
                status, _ = await connection.request("POST", f"/api/v1/auctions/{aid}/deposit", b"")
                latencies.append(time.perf_counter() - started)
                errors += status != 200
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(t) for t in tokens))
    return latencies, time.perf_counter() - started, errors


async def _bids(
    base: str, aid: int, tokens: list[str], total: int
) -> tuple[list[float], float, Counter[str], dict[str, tuple[str, int, int]]]:
    left = [total]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    accepted: dict[str, tuple[str, int, int]] = {}  # key -> (token, amount, bid id)
    known = [START]  # the lowest acceptable bid, as last heard by anyone

    async def client(token: str) -> None:
        connection = Connection(base, {"Authorization": f"Bearer {token}"})
        rng = random.Random(token)
        try:
            while left[0] > 0:
                left[0] -= 1
                amount = known[0] + rng.randint(0, 2) * INCREMENT
                key = uuid.uuid4().hex
                body = json.dumps({"amount": _yuan(amount)}).encode()
                connection.extra = f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
                started = time.perf_counter()
                status, payload = await connection.request("POST", f"/api/v1/auctions/{aid}/bids", body)
                latencies.append(time.perf_counter() - started)
                answer = json.loads(payload)
                if status == 201:
                    outcomes["accepted"] += 1
                    accepted[key] = (token, amount, int(answer["id"]))
                    known[0] = max(known[0], amount + INCREMENT)
                else:
                    outcomes[answer.get("code", str(status))] += 1
                    if answer.get("minimum"):
                        known[0] = max(known[0], _fen(answer["minimum"]))
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(t) for t in tokens))
    return latencies, time.perf_counter() - started, outcomes, accepted


async def _retries(base: str, aid: int, accepted: dict[str, tuple[str, int, int]], count: int) -> int:
    wrong = 0
    for key in random.Random(1).sample(sorted(accepted), min(count, len(accepted))):
        token, amount, bid_id = accepted[key]
        connection = Connection(base, {"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        status, payload = await connection.request(
            "POST", f"/api/v1/auctions/{aid}/bids", json.dumps({"amount": _yuan(amount)}).encode()
        )
        await connection.close()
        wrong += status != 200 or json.loads(payload)["id"] != bid_id
    return wrong


def _line(label: str, latencies: list[float], wall: float) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"{label:44} {len(latencies) / wall:8.1f} req/s   p50 {percentile(ms, 50):7.2f} ms   "
        f"p99 {percentile(ms, 99):8.2f} ms   ({len(latencies)} requests)"
    )


async def main(args: argparse.Namespace) -> None:
    import asyncpg

    from tooling.meili_process import running_meilisearch

    print(f"bench: {args.bidders} bidders, {args.bids} bid attempts on one lot, anchor a plain authenticated POST")
    async with temp_database() as (dsn, url):
        print(machine(f"PostgreSQL {await postgres_version(dsn)}; serve --workers {args.workers}") + "\n")
        aid, emails = await _setup(url, args.bidders)
        with running_meilisearch() as meili, api_server(url, meili.url, meili.master_key, workers=args.workers) as base:
            tokens = await _login(base, emails)
            anchor, anchor_wall, anchor_errors = await _anchor(base, aid, tokens, args.bids)
            bids, bids_wall, outcomes, accepted = await _bids(base, aid, tokens, args.bids)
            wrong_retries = await _retries(base, aid, accepted, 500)
        connection = await asyncpg.connect(dsn)
        try:
            rows = await connection.fetch(
                "SELECT id, seq, amount_fen FROM auction_bids WHERE auction_id = $1 ORDER BY seq", aid
            )
        finally:
            await connection.close()
    ids = [r["id"] for r in rows]
    amounts = [r["amount_fen"] for r in rows]
    lost = {b for _, _, b in accepted.values()} - set(ids)
    extra = set(ids) - {b for _, _, b in accepted.values()}
    ordered = all(b - a >= INCREMENT for a, b in zip(amounts, amounts[1:], strict=False))
    print(_line("anchor: POST …/deposit (held, idempotent)", anchor, anchor_wall) + f"   {anchor_errors} errors")
    print(_line("bids: POST …/bids", bids, bids_wall))
    print(f"bid answers: {dict(outcomes)}")
    print(
        f"database: {len(rows)} bids for {len(accepted)} accepted answers; lost {len(lost)}, unexpected {len(extra)}, "
        f"duplicate prices {len(amounts) - len(set(amounts))}, sequence contiguous "
        f"{[r['seq'] for r in rows] == list(range(1, len(rows) + 1))}, rising by the increment {ordered}; "
        f"500 retries answered with another bid: {wrong_retries}"
    )
    ms_bid, ms_anchor = percentile(bids, 99) * 1000, percentile(anchor, 99) * 1000
    print(
        f"\nratio bid / anchor: throughput {len(bids) / bids_wall / (len(anchor) / anchor_wall):.2f}x, "
        f"p99 {ms_bid / ms_anchor:.2f}x ({ms_bid:.1f} / {ms_anchor:.1f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bidders", type=int, default=200)
    parser.add_argument("--bids", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
