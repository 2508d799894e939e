"""Worker steps of vouchers, and the payout handler the composition root registers.

``expire_once`` expires vouchers past their last day, one per transaction: the row is locked with
SKIP LOCKED (PostgreSQL) and claimed by a conditional UPDATE, so several workers never expire one
voucher twice or release its budget twice (the budget's reference is unique as well).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payment import payouts
from contracts.payment.client import PayoutSnapshot
from contracts.voucher.repository import VoucherRepository
from contracts.voucher.service import PURPOSE, VoucherService, today
from core.db import Database

BATCH = 100  # vouchers per step, so one step never holds the loop for long


async def expire_once(database: Database, batch: int = BATCH) -> int:
    """Expire what is due (at most ``batch``); the number of vouchers expired."""
    done = 0
    for _ in range(batch):
        async with database.unit_of_work() as session:
            voucher_id = await VoucherRepository(session).due_for_expiry(today())
            if voucher_id is None:
                return done
            await VoucherService(session).expire(voucher_id)
            done += 1
    return done


async def on_payout(session: AsyncSession, snapshot: PayoutSnapshot) -> str:
    return await VoucherService(session).apply_payout(snapshot)


def install() -> None:
    """Route payouts of voucher redemptions here (called by the composition root; idempotent)."""
    payouts.register(PURPOSE, on_payout)
