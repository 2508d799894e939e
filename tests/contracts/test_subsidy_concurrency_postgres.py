"""On PostgreSQL, truly concurrently: 200 科技厅 approvals racing for one 盟市 budget over HTTP.

A real database of its own (a copy of the migrated demo template), the backend served by uvicorn on a
loopback port with a pool of 20 connections, no lock in the test. 200 claims of 200 applicants wait
for approval, asking 30,000.00 to 70,000.00 元 each, twice what the budget holds. Whatever the
interleaving: the approved total is exactly the budget's reservation and never above its total;
every refusal is a 409 ``budget_exceeded`` for a claim larger than what was finally left (the
available balance only falls while no reservation is released); the ledger balances to the fen.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.factory import create_app
from contracts.subsidy import budget
from contracts.subsidy.models import ClaimStatus, SubsidyClaim
from core.db import Database, create_engine
from core.settings import Settings
from market.demo import PLATFORM_ADMIN_EMAIL
from market.identity.models import Organization, OrganizationKind, OrganizationStatus
from tests.contracts.conftest import free_socket, serve
from tests.contracts.test_concurrency_postgres import Overlap
from tests.fixtures.app import login
from tests.hardening.world import unique_uscc

APPROVALS = 200
BUDGET_FEN = 500_000_000  # data/budgets.csv: 包头 2026 后补助, 5,000,000.00 元 (placeholder)


async def _seed(database: Database) -> dict[int, int]:
    """200 institutes in 包头, each with one claim recommended by the 盟市: claim id → amount (fen)."""
    amounts = random.Random(22).choices(range(3_000_000, 7_000_001, 1_000), k=APPROVALS)
    claims: dict[int, int] = {}
    async with database.unit_of_work() as session:
        for n, amount in enumerate(amounts):
            organization = Organization(
                kind=OrganizationKind.institute,
                name=f"并发测试研究院 {n}",
                uscc=unique_uscc(9000 + n),
                region="150200",
                status=OrganizationStatus.verified,
            )
            session.add(organization)
            await session.flush()
            claim = SubsidyClaim(
                applicant_org_id=organization.id or 0,
                side="seller",
                region_code="150200",
                year=2026,
                rule_code="nmg-2026-seller",
                budget_region_code="150200",
                claimed_fen=amount,
                recommended_fen=amount,
                status=ClaimStatus.region_approved,
                payee_name=organization.name,
                payee_account=f"6222{n:08d}",
            )
            session.add(claim)
            await session.flush()
            claims[claim.id or 0] = amount
    return claims


async def test_200_concurrent_approvals_never_exceed_the_budget(
    postgres_copy_factory: Callable[[], str], settings: Settings
) -> None:
    url = await asyncio.to_thread(postgres_copy_factory)
    database = Database(create_engine(url, pool_size=20, timeout=60))
    overlap = Overlap(database)
    try:
        claims = await _seed(database)
        assert sum(claims.values()) > 3 * BUDGET_FEN // 2  # far more asked than there is
        sock = free_socket()
        app = create_app(settings, database=database)
        async with (
            serve(app, sock),
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                timeout=120,
                limits=httpx.Limits(max_connections=APPROVALS),
            ) as api,
        ):
            admin = await login(api, PLATFORM_ADMIN_EMAIL)
            overlap.reset()
            replies = await asyncio.gather(
                *[api.post(f"/api/v1/subsidy-claims/{cid}/approve", json={}, headers=admin) for cid in claims]
            )
        assert overlap.peak >= 5, f"only {overlap.peak} units of work ever overlapped: the approvals did not race"
        outcome = {cid: reply for cid, reply in zip(claims, replies, strict=True)}
        approved = {cid for cid, r in outcome.items() if r.status_code == 200}
        refused = {cid for cid, r in outcome.items() if r.status_code != 200}
        assert {outcome[cid].json()["code"] for cid in refused} == {"budget_exceeded"}
        assert approved and refused

        async with database.unit_of_work() as session:
            row = await budget.get(session, "150200", 2026, "post_subsidy")
            assert row is not None
            rows = (await session.execute(select(col(SubsidyClaim.id), col(SubsidyClaim.status)))).all()
            statuses = {int(cid): status for cid, status in rows}
            balances = await budget.ledger_balances(session, row.id or 0)
            assert await budget.unbalanced(session) == []
        total_approved = sum(claims[cid] for cid in approved)
        assert row.total_fen == BUDGET_FEN
        assert total_approved == row.reserved_fen == balances.reserved_fen <= BUDGET_FEN
        assert row.available_fen == BUDGET_FEN - total_approved
        assert all(claims[cid] > row.available_fen for cid in refused)  # none refused that would still fit
        assert {cid for cid, status in statuses.items() if status == ClaimStatus.approved} == approved
        assert all(statuses[cid] == ClaimStatus.region_approved for cid in refused)
    finally:
        await database.dispose()
