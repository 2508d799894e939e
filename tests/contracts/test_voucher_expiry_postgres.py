"""On PostgreSQL, several workers expire the same due vouchers at once: each voucher is expired once,
its unspent value released to the budget once, and the expiries counted add up to the vouchers (a
worker skips a voucher another holds, SKIP LOCKED, rather than expiring it again). Each worker has an
engine (a process) of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlmodel import col

from contracts.subsidy import budget
from contracts.subsidy.budget_models import BudgetEntry, EntryKind
from contracts.voucher.ledger import Move
from contracts.voucher.models import Voucher, VoucherEntry
from contracts.voucher.rules import ServiceCategory
from contracts.voucher.service import VoucherService, today
from contracts.voucher.tasks import expire_once
from core.db import Database, create_engine
from market.demo import PLATFORM_ADMIN_EMAIL
from market.identity.models import Organization, User
from market.identity.service import Principal
from tests.contracts.helpers import ENTERPRISE

VOUCHERS = 40
WORKERS = 4


async def _issue(database: Database) -> None:
    async with database.unit_of_work() as session:
        admin = (await session.execute(select(User).where(User.email == PLATFORM_ADMIN_EMAIL))).scalar_one()
        holder = (await session.execute(select(User).where(User.email == ENTERPRISE))).scalar_one()
        organization = await session.get(Organization, holder.organization_id)
        assert organization is not None
        await budget.allocate(
            session, region_code="150000", year=today().year, instrument="voucher", amount_fen=10**8, reference="t"
        )
        service = VoucherService(session)
        for n in range(VOUCHERS):
            voucher = await service.issue(
                Principal(admin, None),
                organization_id=organization.id or 0,
                face_fen=1_000 + n,
                categories=[ServiceCategory.consulting],
                sme_number="2026150100A0001",
                valid_until=None,
            )
            if n % 2:
                await service.accept(Principal(holder, organization), voucher.id or 0)
        await session.execute(update(Voucher).values(valid_until=today() - timedelta(days=1)))


async def test_several_workers_expire_each_voucher_once(postgres_copy_factory: Callable[[], str]) -> None:
    url = await asyncio.to_thread(postgres_copy_factory)
    workers = [Database(create_engine(url, pool_size=2, timeout=30)) for _ in range(WORKERS)]
    try:
        await _issue(workers[0])
        done = await asyncio.gather(*(expire_once(w, batch=VOUCHERS) for w in workers))
        assert sum(done) == VOUCHERS, done
        async with workers[0].unit_of_work() as session:
            expired = (await session.execute(select(func.count()).where(col(VoucherEntry.move) == Move.expire))).one()
            assert expired[0] == VOUCHERS
            releases = (
                await session.execute(
                    select(func.count(), func.sum(col(BudgetEntry.amount_fen))).where(
                        col(BudgetEntry.kind) == EntryKind.release
                    )
                )
            ).one()
            assert tuple(releases) == (VOUCHERS, sum(1_000 + n for n in range(VOUCHERS)))
            row = await budget.get(session, "150000", today().year, "voucher")
            assert row is not None and (row.reserved_fen, row.disbursed_fen) == (0, 0)
            left = (await session.execute(select(func.count()).where(col(Voucher.expired_at).is_(None)))).one()
            assert left[0] == 0
        assert await expire_once(workers[1]) == 0
    finally:
        for w in workers:
            await w.dispose()
