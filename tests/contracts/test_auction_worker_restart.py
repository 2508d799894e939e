"""A lot closes exactly once though its worker is killed (SIGKILL) at the end time and two workers
take over: real ``techmarket worker`` processes on PostgreSQL.

The close of a lot is one transaction (status, winner, contract draft, 成交公示, deposits, the
``closed`` event); a worker killed in the middle leaves nothing of it, and the restarted workers
race for the lot under ``FOR UPDATE SKIP LOCKED`` with a re-check, so exactly one of them closes it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from core.db import Database, create_engine
from core.types import utcnow
from tests.contracts.test_auction_properties import INCREMENT, RESERVE, lot_with_deposits
from tests.fixtures.databases import PostgresDatabases
from tests.hardening.server_profile import fetch, server_env, start, stopping

END_IN = 6.0  # seconds from now to the lot's end


async def _bid(database: Database, aid: int, bidders: list, amounts: list[int]) -> None:
    from contracts.auction.service import AuctionService

    for who, amount in enumerate(amounts):
        async with database.unit_of_work() as session:
            await AuctionService(session).bid(bidders[who], aid, amount, f"restart-{who}")


async def _closed(url: str, aid: int) -> bool:
    rows = await fetch(url, "SELECT status FROM auctions WHERE id = $1", aid)
    return rows[0]["status"] != "live"


async def test_the_lot_closes_once_across_a_killed_worker_and_two_restarted(
    postgres_database_factory: PostgresDatabases, tmp_path: Path
) -> None:
    url = await asyncio.to_thread(postgres_database_factory.copy)
    database = Database(create_engine(url, pool_size=2))
    try:
        # No anti-sniping extension here: the bids below would otherwise move the end 5 minutes on.
        aid, bidders = await lot_with_deposits(database, utcnow() + timedelta(seconds=END_IN), extension_minutes=0)
        await _bid(database, aid, bidders, [RESERVE, RESERVE + INCREMENT, RESERVE + 3 * INCREMENT])
    finally:
        await database.dispose()
    ends = (await fetch(url, "SELECT ends_at FROM auctions WHERE id = $1", aid))[0]["ends_at"]

    env = server_env(url, tmp_path)
    first = start("worker-first", ["worker"], env, tmp_path)
    with stopping(first):
        while utcnow() < ends:  # at the end time, the first worker dies
            assert first.alive(), first.log_tail()
            await asyncio.sleep(0.02)
        first.kill9()
    survivors = [start(f"worker-{n}", ["worker"], env, tmp_path) for n in (2, 3)]
    with stopping(*survivors):
        deadline = time.monotonic() + 60
        while not await _closed(url, aid):
            assert time.monotonic() < deadline, [w.log_tail() for w in survivors]
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # both survivors look at the lot again: nothing more happens
        assert all(w.alive() for w in survivors), [w.log_tail() for w in survivors]

    auction = (await fetch(url, "SELECT * FROM auctions WHERE id = $1", aid))[0]
    assert auction["status"] == "awarded" and auction["price_fen"] == RESERVE + 3 * INCREMENT
    closed = await fetch(url, "SELECT seq FROM auction_events WHERE auction_id = $1 AND kind = 'closed'", aid)
    audits = await fetch(
        url, "SELECT id FROM audit_log WHERE entity_type = 'auction' AND entity_id = $1 AND action = 'closed'", aid
    )
    contracts = await fetch(
        url,
        "SELECT c.id FROM contracts c JOIN contract_achievements a ON a.contract_id = c.id WHERE a.achievement_id = $1",
        auction["achievement_id"],
    )
    notices = await fetch(url, "SELECT id FROM deal_notices WHERE achievement_id = $1", auction["achievement_id"])
    assert (len(closed), len(audits), len(contracts), len(notices)) == (1, 1, 1, 1)
    assert contracts[0]["id"] == auction["contract_id"]
    deposits = await fetch(url, "SELECT status FROM auction_deposits WHERE auction_id = $1 ORDER BY id", aid)
    assert sorted(d["status"] for d in deposits) == ["awaiting_signature", "refund_due", "refund_due"]
