"""Bidders' deposits through the payment provider, and the deposit ledger.

The same provider, Idempotency-Keys and signed webhooks as milestone payments: an intent per deposit
(metadata ``auction_deposit_id``), confirmed at once; its snapshots (confirm answers, webhooks routed
here by ``contracts.payment.service``, a refresh before a bid) are applied only when they describe
exactly the intent we created and are newer than the last one applied. Every movement is a ledger
entry, at most one per deposit and kind, so a deposit is paid, then refunded, credited or forfeited
exactly once, to the fen.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors as contract_errors
from contracts.auction import errors
from contracts.auction.models import (
    AuctionDeposit,
    AuctionStatus,
    DepositEntry,
    DepositStatus,
    LedgerKind,
)
from contracts.auction.repository import AuctionRepository
from contracts.contract.models import Milestone
from contracts.contract.repository import ContractRepository
from contracts.payment import covered
from contracts.payment.client import CURRENCY, IntentSnapshot, PaymentProvider, ProviderRejected, ProviderUnavailable
from core.types import utcnow
from market.identity.service import Principal

log = structlog.get_logger("techmarket.auctions")
METADATA_KEY = "auction_deposit_id"
INSTRUMENT = "auction_deposit"


async def record(
    session: AsyncSession, deposit: AuctionDeposit, kind: LedgerKind, reference: str | None = None
) -> bool:
    """One ledger entry of ``kind`` for the whole deposit (False when it was already there)."""
    repository = AuctionRepository(session)
    if await repository.entry_exists(deposit.id or 0, kind.value):
        return False
    await repository.add(
        DepositEntry(
            deposit_id=deposit.id or 0,
            auction_id=deposit.auction_id,
            kind=kind,
            amount_fen=deposit.amount_fen,
            reference=reference,
        )
    )
    return True


async def resolve(session: AsyncSession, deposit: AuctionDeposit, kind: LedgerKind, reference: str | None) -> None:
    """Move a held deposit to its end (refunded, credited or forfeited) with its ledger entry."""
    await record(session, deposit, kind, reference)
    deposit.status, deposit.resolved_at = DepositStatus(kind.value), utcnow()
    session.add(deposit)
    await session.flush()


class DepositService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider
        self.repository = AuctionRepository(session)

    async def pay(self, principal: Principal, auction_id: int) -> AuctionDeposit:
        """Pay the lot's deposit (idempotent: asking again answers the same deposit, charged once)."""
        organization = principal.require_can_publish()
        auction = await self.repository.auction(auction_id)
        if auction is None:
            raise errors.AuctionNotFound()
        if auction.seller_org_id == organization.id:
            raise errors.OwnAuction()
        deposit = await self.repository.deposit_of(auction_id, organization.id or 0, lock=True)
        if deposit is not None and deposit.status != DepositStatus.pending:
            return deposit
        if auction.status != AuctionStatus.live or utcnow() >= auction.ends_at:
            raise errors.AuctionNotOpen()
        if deposit is None:
            deposit = AuctionDeposit(
                auction_id=auction_id,
                organization_id=organization.id or 0,
                amount_fen=auction.deposit_fen,
                idempotency_key=f"auction-{auction_id}-deposit-{organization.id}",
            )
            await self.repository.add(deposit)
        assert self.provider is not None
        metadata = {METADATA_KEY: str(deposit.id), "auction_id": str(auction_id)}
        try:
            if deposit.provider_intent_id is None:
                intent = await self.provider.create_intent(deposit.amount_fen, metadata, deposit.idempotency_key)
                deposit.provider_intent_id = intent.id
                await self.repository.add(deposit)
            snapshot = await self.provider.confirm(deposit.provider_intent_id, f"{deposit.idempotency_key}-confirm")
        except ProviderUnavailable as exc:
            raise contract_errors.ProviderUnavailableError(detail=str(exc)) from exc
        except ProviderRejected as exc:
            raise contract_errors.ProviderRejectedError(detail=str(exc), provider_code=exc.code) from exc
        await self.apply(deposit, snapshot)
        return deposit

    async def refresh(self, deposit: AuctionDeposit) -> None:
        """Ask the provider about a pending deposit (a bid must not wait for a late webhook)."""
        if deposit.provider_intent_id is None or self.provider is None:
            return
        try:
            snapshot = await self.provider.get_intent(deposit.provider_intent_id)
        except (ProviderUnavailable, ProviderRejected):
            return
        await self.apply(deposit, snapshot)

    async def apply_webhook(self, snapshot: IntentSnapshot) -> str:
        deposit = await self.repository.deposit_by_intent(snapshot.id)
        if deposit is None:
            return "unknown_intent"
        deposit = await self.repository.deposit(deposit.id or 0, lock=True)
        assert deposit is not None
        return await self.apply(deposit, snapshot)

    async def apply(self, deposit: AuctionDeposit, snapshot: IntentSnapshot) -> str:
        if snapshot.id != deposit.provider_intent_id:
            return "conflicting_intent"
        if snapshot.currency != CURRENCY:
            return "currency_mismatch"
        if snapshot.amount != deposit.amount_fen or snapshot.amount_received not in (0, snapshot.amount):
            return "amount_mismatch"
        if snapshot.version <= deposit.provider_version:
            return "stale"
        deposit.provider_version = snapshot.version
        result = "updated"
        if snapshot.status == "succeeded" and deposit.status == DepositStatus.pending:
            await record(self.session, deposit, LedgerKind.paid, snapshot.id)
            auction = await self.repository.auction(deposit.auction_id)
            late = auction is None or auction.status != AuctionStatus.live
            deposit.status = DepositStatus.refund_due if late else DepositStatus.held  # paid after the close
            result = "succeeded"
        elif snapshot.status in ("canceled", "failed") and deposit.status == DepositStatus.pending:
            deposit.status, deposit.resolved_at = DepositStatus.failed, utcnow()
            result = "failed"
        elif deposit.status == DepositStatus.refund_due and snapshot.amount_refunded == deposit.amount_fen:
            # The refund went through but our record of it was lost (a crash between the two): record it now.
            await resolve(self.session, deposit, LedgerKind.refunded, snapshot.refunds[-1].id)
            result = "refunded"
        self.session.add(deposit)
        await self.session.flush()
        return result


async def refund_one(session: AsyncSession, provider: PaymentProvider, deposit_id: int) -> bool:
    """Refund one deposit that is due, through the provider (same key on every try), then record it.

    The provider call happens outside any row lock; two workers refunding the same deposit send the
    same Idempotency-Key and get the same refund, and only one ledger entry is written."""
    repository = AuctionRepository(session)
    deposit = await repository.deposit(deposit_id)
    if deposit is None or deposit.status != DepositStatus.refund_due or deposit.provider_intent_id is None:
        return False
    intent = deposit.provider_intent_id
    try:
        refund = await provider.refund(intent, deposit.amount_fen, f"auction-deposit-{deposit.id}-refund")
    except (ProviderUnavailable, ProviderRejected) as exc:
        log.warning("deposit_refund_failed", deposit=deposit_id, error=str(exc))
        return False
    deposit = await repository.deposit(deposit_id, lock=True)
    if deposit is None or deposit.status != DepositStatus.refund_due:
        return False
    if int(refund.get("amount", -1)) != deposit.amount_fen:
        log.error("deposit_refund_amount_mismatch", deposit=deposit_id, refund=refund)
        return False
    await resolve(session, deposit, LedgerKind.refunded, str(refund.get("id", ""))[:64])
    return True


async def credited_part(session: AsyncSession, milestone_id: int) -> int:
    """What the winner's deposit pays of a milestone: of the award contract's first milestone, the
    deposit up to its amount; of any other, nothing. A deposit still awaiting signature counts once the
    contract is signed (only then can it be paid), since the worker then credits it, never forfeits it."""
    milestone = await session.get(Milestone, milestone_id)
    if milestone is None:
        return 0
    milestones = await ContractRepository(session).milestones(milestone.contract_id)
    if not milestones or milestones[0].id != milestone_id:
        return 0
    return min(await AuctionRepository(session).credit_to(milestone.contract_id), milestone.amount_fen)


def install() -> None:
    """Tell payments what the winner's credited deposit pays of a milestone (composition root; idempotent)."""
    covered.register(INSTRUMENT, credited_part)
