"""Milestone payments through the provider, and applying what the provider says (confirm answers,
webhooks, reconciliation) exactly once.

The provider's intent snapshot carries a ``version`` that grows with every change; a snapshot not
newer than the one applied is stale and ignored, so deliveries may come twice or out of order.
A snapshot is applied only to the payment whose intent we created, and only when its amount and
currency are the ones we asked for (``verify``); anything else is kept in the inbox with the reason
it was refused (``REFUSED_RESULTS``), and ``payments reconcile`` lists those that claim money moved.
A payment is unique per milestone and its distribution unique per payment (``payment:<id>``), and
the contract row is locked while either is written: concurrent confirmations cannot pay twice.
"""

from __future__ import annotations

import json

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors, notices
from contracts.auction.deposits import METADATA_KEY as DEPOSIT_METADATA_KEY
from contracts.auction.deposits import DepositService
from contracts.contract import endings
from contracts.contract.models import Contract, ContractStatus, Milestone, MilestoneStatus
from contracts.contract.repository import ContractRepository
from contracts.contract.service import ContractService
from contracts.payment import covered, payouts, signature
from contracts.payment.client import (
    CURRENCY,
    IntentSnapshot,
    PaymentProvider,
    PayoutSnapshot,
    ProviderRejected,
    ProviderUnavailable,
)
from contracts.payment.models import Payment, PaymentRefund, PaymentStatus, WebhookEvent
from contracts.payment.repository import PaymentRepository
from contracts.reward.models import DistributionSource
from contracts.reward.rules import reward_applies
from contracts.reward.service import RewardService
from contracts.settings import PaymentSettings
from core import audit
from core.types import utcnow
from market.identity.service import Principal

log = structlog.get_logger("techmarket.payments")

PROVIDER_STATUS = {
    "requires_confirmation": PaymentStatus.pending,
    "processing": PaymentStatus.processing,
    "succeeded": PaymentStatus.succeeded,
    "canceled": PaymentStatus.failed,
    "failed": PaymentStatus.failed,
}
PAYABLE = (ContractStatus.signed, ContractStatus.registered, ContractStatus.performing)  # registered or not


def verify(payment: Payment, snapshot: IntentSnapshot) -> str | None:
    """Why ``snapshot`` may not be applied to ``payment`` (None when it describes exactly that payment)."""
    if payment.provider_intent_id != snapshot.id:
        return "conflicting_intent"
    if snapshot.currency != CURRENCY:
        return "currency_mismatch"
    refunded = sum(r.amount for r in snapshot.refunds)
    if (
        snapshot.amount != payment.amount_fen
        or not 0 <= snapshot.amount_received <= snapshot.amount
        or (snapshot.status == "succeeded" and snapshot.amount_received != snapshot.amount)
        or any(r.amount <= 0 for r in snapshot.refunds)
        or refunded != snapshot.amount_refunded
        or refunded > snapshot.amount_received
    ):
        return "amount_mismatch"
    return None


def claims_money(snapshot: IntentSnapshot) -> bool:
    return snapshot.status in ("processing", "succeeded") or snapshot.amount_received > 0 or bool(snapshot.refunds)


class PaymentService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider
        self.repository = PaymentRepository(session)
        self.contracts = ContractRepository(session)

    def _provider(self) -> PaymentProvider:
        assert self.provider is not None, "a provider client is needed here"
        return self.provider

    # --- paying --------------------------------------------------------------------------------

    async def pay(self, principal: Principal, contract_id: int, milestone_id: int) -> Payment:
        """Confirm a milestone's payment (idempotent: asking again returns the same payment)."""
        contract = await ContractService(self.session).get(principal, contract_id, lock=True)
        if not principal.belongs_to(contract.buyer_org_id):
            raise errors.BuyerSideOnly()
        if contract.status not in PAYABLE:
            raise errors.PaymentNotAllowed(current=contract.status.value, allowed_states=[s.value for s in PAYABLE])
        await ContractService(self.session).require_payable_terms(contract)
        milestone = await self.contracts.milestone(contract.id or 0, milestone_id)
        if milestone is None:
            raise errors.MilestoneNotFound()
        payment = await self.repository.of_milestone(milestone.id or 0)
        if payment is not None and payment.status in (PaymentStatus.processing, PaymentStatus.succeeded):
            return payment
        if payment is None:
            payment = Payment(
                contract_id=contract.id or 0,
                milestone_id=milestone.id or 0,
                amount_fen=await covered.cash_part(self.session, milestone),
                idempotency_key=f"milestone-{milestone.id}-1",
            )
            await self.repository.add(payment)
        elif payment.status == PaymentStatus.failed:  # a new attempt gets a new key and a new intent
            payment.amount_fen = await covered.cash_part(self.session, milestone)
            payment.attempt += 1
            payment.idempotency_key = f"milestone-{milestone.id}-{payment.attempt}"
            payment.provider_intent_id = None
            payment.provider_version = 0
        if payment.amount_fen == 0:  # covered in full (e.g. by the auction deposit): no money to ask for
            await self._performing(principal, contract)
            await self._succeeded(contract, payment, milestone, 0)
            return payment
        provider = self._provider()
        metadata = {"contract_id": str(contract.id), "milestone_id": str(milestone.id)}
        try:
            if payment.provider_intent_id is None:
                intent = await provider.create_intent(payment.amount_fen, metadata, payment.idempotency_key)
                payment.provider_intent_id = intent.id
                await self.repository.add(payment)
            snapshot = await provider.confirm(payment.provider_intent_id, f"{payment.idempotency_key}-confirm")
        except ProviderUnavailable as exc:
            raise errors.ProviderUnavailableError(detail=str(exc)) from exc
        except ProviderRejected as exc:
            raise errors.ProviderRejectedError(detail=str(exc), provider_code=exc.code) from exc
        if milestone.status == MilestoneStatus.pending:
            milestone.status = MilestoneStatus.paying
        await self._performing(principal, contract)
        await self._apply(contract, payment, milestone, snapshot)
        return payment

    async def _performing(self, principal: Principal, contract: Contract) -> None:
        if contract.status in (ContractStatus.signed, ContractStatus.registered):
            before, contract.status = contract.status, ContractStatus.performing
            await audit.record(
                self.session,
                "contract",
                contract.id or 0,
                "performing",
                actor_user_id=principal.user.id,
                from_status=before.value,
                to_status=ContractStatus.performing.value,
                reason="首笔付款",
            )

    async def refund(self, principal: Principal, contract_id: int, milestone_id: int, amount: int | None) -> Payment:
        contract = await ContractService(self.session).get(principal, contract_id, lock=True)
        if not (principal.belongs_to(contract.seller_org_id) or principal.is_platform_admin):
            raise errors.NotAContractParty("只有卖方或平台管理员可以发起退款")
        milestone = await self.contracts.milestone(contract.id or 0, milestone_id)
        if milestone is None:
            raise errors.MilestoneNotFound()
        payment = await self.repository.of_milestone(milestone.id or 0)
        if payment is None or payment.status != PaymentStatus.succeeded or payment.provider_intent_id is None:
            raise errors.RefundNotAllowed()
        left = payment.amount_fen - payment.refunded_fen
        amount = left if amount is None else amount
        if not 0 < amount <= left:
            raise errors.RefundNotAllowed(detail=f"可退金额为 {left} 分")
        provider = self._provider()
        try:
            await provider.refund(
                payment.provider_intent_id, amount, f"refund-{payment.id}-{payment.refunded_fen}-{amount}"
            )
            snapshot = await provider.get_intent(payment.provider_intent_id)
        except ProviderUnavailable as exc:
            raise errors.ProviderUnavailableError(detail=str(exc)) from exc
        except ProviderRejected as exc:
            raise errors.ProviderRejectedError(detail=str(exc), provider_code=exc.code) from exc
        await self._apply(contract, payment, milestone, snapshot)
        return payment

    # --- applying provider state ---------------------------------------------------------------

    async def apply_snapshot(self, snapshot: IntentSnapshot, *, adopt: bool = False) -> str:
        """Bring our payment in line with the provider's intent; returns what happened (or why not).

        Only the intent we created for a milestone is applied, and only with the amount and currency
        we asked for. ``adopt`` (reconciliation only, with a snapshot read from the provider's API)
        records a payment our side lost because the request that created the intent rolled back,
        when the intent names the milestone and asks for exactly its cash part in our currency.
        """
        if DEPOSIT_METADATA_KEY in snapshot.metadata:  # an auction deposit, not a milestone payment
            return await DepositService(self.session).apply_webhook(snapshot)
        payment = await self.repository.by_intent(snapshot.id)
        if payment is not None:
            milestone_id = payment.milestone_id
        else:
            # Not committed yet (the request creating it holds the contract) or not ours: look again under the lock.
            raw = snapshot.metadata.get("milestone_id", "")
            if not raw.isdigit():
                return "unknown_intent"
            milestone_id = int(raw)
        milestone = await self.session.get(Milestone, milestone_id)
        if milestone is None:
            return "unknown_intent"
        contract = await self.contracts.contract(milestone.contract_id, lock=True)
        assert contract is not None
        milestone = await self.contracts.milestone(contract.id or 0, milestone_id)
        assert milestone is not None
        payment = await self.repository.of_milestone(milestone_id)  # re-read under the lock
        if payment is None and adopt:
            cash = await covered.cash_part(self.session, milestone)
            if self._adoptable(contract, snapshot, cash):
                payment = Payment(
                    contract_id=contract.id or 0,
                    milestone_id=milestone_id,
                    amount_fen=cash,
                    idempotency_key=f"adopted-{snapshot.id}"[:64],
                    provider_intent_id=snapshot.id,
                )
                await self.repository.add(payment)
        if payment is None or payment.provider_intent_id is None:
            return "unknown_intent"
        return await self._apply(contract, payment, milestone, snapshot)

    @staticmethod
    def _adoptable(contract: Contract, snapshot: IntentSnapshot, cash_fen: int) -> bool:
        """The intent names the contract and asks for exactly the milestone's cash part (``covered``)."""
        return (
            contract.status in PAYABLE
            and snapshot.metadata.get("contract_id") == str(contract.id)
            and snapshot.amount == cash_fen
            and snapshot.currency == CURRENCY
        )

    async def _apply(self, contract: Contract, payment: Payment, milestone: Milestone, snapshot: IntentSnapshot) -> str:
        """The one place a provider snapshot changes a payment (confirm answers, refunds, webhooks, reconcile)."""
        refused = verify(payment, snapshot)
        if refused is not None:
            log.warning("provider_snapshot_refused", reason=refused, intent=snapshot.id, payment=payment.id)
            return refused
        if snapshot.version <= payment.provider_version:
            return "stale"
        result = "updated"
        target = PROVIDER_STATUS.get(snapshot.status, payment.status)
        rewards = RewardService(self.session)
        if target == PaymentStatus.succeeded and payment.status != PaymentStatus.succeeded:
            await self._succeeded(contract, payment, milestone, snapshot.amount_received)
            result = "succeeded"
        elif payment.status != PaymentStatus.succeeded:
            payment.status = target
            if target == PaymentStatus.failed:
                milestone.status = MilestoneStatus.pending
                if contract.status == ContractStatus.terminated:  # it will never be paid now
                    self.session.add(milestone)
                    await self.session.flush()
                    await endings.terminated(self.session, contract.id or 0, None)
        for refund in snapshot.refunds:
            if await self.repository.refund_recorded(refund.id):
                continue
            await self.repository.add(
                PaymentRefund(payment_id=payment.id or 0, provider_refund_id=refund.id, amount_fen=refund.amount)
            )
            payment.refunded_fen += refund.amount
            if reward_applies(contract):
                await rewards.append(
                    contract, payment.id or 0, -refund.amount, DistributionSource.refund, f"refund:{refund.id}"
                )
            result = "refunded"
        if payment.refunded_fen and payment.refunded_fen >= payment.amount_fen:
            milestone.status = MilestoneStatus.refunded
        payment.provider_version = snapshot.version
        self.session.add_all([payment, milestone])
        await self.session.flush()
        return result

    async def _succeeded(self, contract: Contract, payment: Payment, milestone: Milestone, received_fen: int) -> None:
        """The milestone is paid; the reward ledger counts the cash received plus what other instruments
        (a voucher, the auction deposit) paid of it (``covered``)."""
        payment.status, payment.succeeded_at = PaymentStatus.succeeded, utcnow()
        milestone.status, milestone.paid_at = MilestoneStatus.paid, utcnow()
        self.session.add_all([payment, milestone])
        await self.session.flush()
        await notices.payment(self.session, contract, milestone, payment)
        if reward_applies(contract):
            distributed = await RewardService(self.session).append(
                contract,
                payment.id or 0,
                min(milestone.amount_fen, received_fen + await covered.covered(self.session, milestone.id or 0)),
                DistributionSource.payment,
                f"payment:{payment.id}",
            )
            await notices.distribution(self.session, contract, distributed)

    # --- webhooks ------------------------------------------------------------------------------

    async def receive_webhook(self, body: bytes, header: str | None, settings: PaymentSettings) -> WebhookEvent:
        """Verify, store once in the inbox, then process (a processing failure stays in the inbox)."""
        try:
            signature.verify(
                settings.webhook_secret, header, body, tolerance_seconds=settings.webhook_tolerance_seconds
            )
        except signature.TimestampOutsideWindow as exc:
            raise errors.WebhookTimestampOutsideWindow() from exc
        except signature.SignatureError as exc:
            raise errors.WebhookSignatureInvalid(detail=exc.reason) from exc
        try:
            event = json.loads(body)
            event_id, kind, data = str(event["id"]), str(event["type"]), event["data"]["object"]
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.WebhookMalformed() from exc
        if await self.repository.event(event_id) is not None:
            raise errors.WebhookReplayed(event_id=event_id)
        record = WebhookEvent(event_id=event_id[:64], type=kind[:64], payload=event)
        try:
            async with self.session.begin_nested():
                self.session.add(record)
                await self.session.flush()
        except IntegrityError as exc:  # the same event, delivered concurrently
            raise errors.WebhookReplayed(event_id=event_id) from exc
        await self.process_event(record, data)
        return record

    async def process_event(self, record: WebhookEvent, data: dict[str, object] | None = None) -> None:
        data = data if data is not None else record.payload.get("data", {}).get("object")
        try:
            async with self.session.begin_nested():
                if isinstance(data, dict) and data.get("object") == "payment_intent":
                    record.result = await self.apply_snapshot(IntentSnapshot.parse(data))
                elif isinstance(data, dict) and data.get("object") == "payout":
                    record.result = await payouts.apply(self.session, PayoutSnapshot.parse(data))
                else:
                    record.result = "ignored"
            record.processed_at, record.error = utcnow(), None
        except Exception as exc:  # kept in the inbox; `techmarket payments reconcile --repair` retries it
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
        self.session.add(record)
        await self.session.flush()
