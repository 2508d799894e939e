"""Worker steps of vouchers, and the payout handler the composition root registers.

``expire_once`` expires vouchers past their last day, one per transaction: the row is locked with
SKIP LOCKED (PostgreSQL) and claimed by a conditional UPDATE, so several workers never expire one
voucher twice or release its budget twice (the budget's reference is unique as well).

``settle_once`` asks the payment provider about redemptions whose payout outcome never arrived (a lost
webhook) and applies the answer as the webhook would have, so a provider's spends are never stuck.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract import endings
from contracts.payment import covered, payouts
from contracts.payment.client import PaymentProvider, PayoutSnapshot
from contracts.voucher.repository import VoucherRepository
from contracts.voucher.service import INSTRUMENT, PURPOSE, VoucherService, today
from core.db import Database
from core.types import utcnow

BATCH = 100  # vouchers per step, so one step never holds the loop for long
SETTLE_AFTER = timedelta(minutes=5)  # a payout's webhook normally arrives well within this


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


async def settle_once(
    database: Database, provider: Callable[[], PaymentProvider], *, older_than: timedelta = SETTLE_AFTER
) -> int:
    """Apply the provider's word on redemptions pending longer than ``older_than``; how many settled.
    ``provider`` is called only when there is one to ask (the worker needs no payment settings otherwise)."""
    async with database.unit_of_work() as session:
        pending = await VoucherRepository(session).pending_redemptions(utcnow() - older_than, BATCH)
        payouts = [r.payout_id for r in pending if r.payout_id is not None]
    if not payouts:
        return 0
    client = provider()
    settled = 0
    for payout_id in payouts:
        snapshot = await client.get_payout(payout_id)
        async with database.unit_of_work() as session:
            if await VoucherService(session).apply_payout(snapshot) in ("paid", "failed"):
                settled += 1
    return settled


async def on_payout(session: AsyncSession, snapshot: PayoutSnapshot) -> str:
    return await VoucherService(session).apply_payout(snapshot)


async def covered_part(session: AsyncSession, milestone_id: int) -> int:
    return await VoucherRepository(session).covered(milestone_id)


async def on_terminated(session: AsyncSession, contract_id: int, actor_user_id: int | None) -> None:
    await VoucherService(session).void_unpaid(contract_id, actor_user_id)


def install() -> None:
    """Route payouts of voucher redemptions here, tell payments what vouchers pay of a milestone and
    return unpaid spends when a contract ends (called by the composition root; idempotent)."""
    payouts.register(PURPOSE, on_payout)
    covered.register(INSTRUMENT, covered_part)
    endings.register(INSTRUMENT, on_terminated)
