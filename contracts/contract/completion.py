"""Completion needs both parties: the seller claims the contract performed, the buyer confirms it or
objects within ``TECHMARKET_CONTRACT_COMPLETION_CONFIRM_DAYS`` days.

A claim needs every milestone paid. The buyer's confirmation completes the contract; an objection
(with its reason) withdraws the claim and the contract keeps performing. A claim the buyer leaves
unanswered past its deadline stands: the seller then confirms it, and the buyer may no longer
object. Each step is audited; the deadline is fixed when the claim is made.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors
from contracts.contract.models import Contract, ContractStatus, MilestoneStatus
from contracts.contract.service import ContractService, today
from contracts.pricing import certificates
from contracts.settings import ContractSettings
from core import audit
from core.types import utcnow
from market.identity.service import Principal
from market.listings import deals as listing_deals


class CompletionService:
    def __init__(self, session: AsyncSession, settings: ContractSettings | None = None) -> None:
        self.session = session
        self.contracts = ContractService(session)
        self.settings = settings or ContractSettings()

    async def _performing(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self.contracts.get(principal, contract_id, lock=True)
        if contract.status != ContractStatus.performing:
            raise errors.InvalidContractTransition(
                detail="只有履行中的合同可以声明、确认履行完毕或提出异议",
                current=contract.status.value,
                allowed=[],
            )
        return contract

    async def _record(
        self, principal: Principal, contract: Contract, action: str, reason: str | None = None, **changes: object
    ) -> None:
        contract.updated_at = utcnow()
        self.session.add(contract)
        await audit.record(
            self.session,
            "contract",
            contract.id or 0,
            action,
            actor_user_id=principal.user.id,
            from_status=ContractStatus.performing.value,
            to_status=contract.status.value,
            reason=reason,
            changes=dict(changes),
        )
        await self.session.flush()

    async def claim(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self._performing(principal, contract_id)
        if not principal.belongs_to(contract.seller_org_id):
            raise errors.CompletionSellerOnly()
        if contract.completion_claimed_at is not None:
            raise errors.CompletionAlreadyClaimed(
                completion_due_at=contract.completion_due_at.isoformat() if contract.completion_due_at else None
            )
        unpaid = [
            m.seq
            for m in await self.contracts.repository.milestones(contract.id or 0)
            if m.status != MilestoneStatus.paid
        ]
        if unpaid:
            raise errors.MilestonesUnpaid(unpaid_milestones=unpaid)
        now = utcnow()
        contract.completion_claimed_at = now
        contract.completion_due_at = now + timedelta(days=self.settings.completion_confirm_days)
        await self._record(
            principal, contract, "completion_claimed", completion_due_at=contract.completion_due_at.isoformat()
        )
        return contract

    async def confirm(self, principal: Principal, contract_id: int) -> Contract:
        """The buyer confirms; after the deadline, with no answer from the buyer, the seller does."""
        contract = await self._performing(principal, contract_id)
        buyer, seller = principal.belongs_to(contract.buyer_org_id), principal.belongs_to(contract.seller_org_id)
        if not (buyer or seller):
            raise errors.CompletionBuyerOnly()
        if contract.completion_claimed_at is None or contract.completion_due_at is None:
            raise errors.CompletionNotClaimed()
        if not buyer:
            if utcnow() < contract.completion_due_at:
                raise errors.CompletionWindowOpen(completion_due_at=contract.completion_due_at.isoformat())
        contract.status = ContractStatus.completed
        ids = await self.contracts.repository.achievement_ids(contract.id or 0)
        await listing_deals.contract_completed(
            self.session, ids, contract.id or 0, contract.subtype.value, today(), principal.user.id
        )
        await certificates.on_completed(self.session, contract, ids, today())
        reason = "买方确认履行完毕" if buyer else "买方逾期未确认也未提出异议"
        await self._record(
            principal, contract, "completed", reason, claimed_at=contract.completion_claimed_at.isoformat()
        )
        return contract

    async def object_to(self, principal: Principal, contract_id: int, reason: str) -> Contract:
        contract = await self._performing(principal, contract_id)
        if not principal.belongs_to(contract.buyer_org_id):
            raise errors.CompletionBuyerOnly()
        if contract.completion_claimed_at is None or contract.completion_due_at is None:
            raise errors.CompletionNotClaimed()
        if utcnow() >= contract.completion_due_at:
            raise errors.CompletionWindowClosed(completion_due_at=contract.completion_due_at.isoformat())
        claimed = contract.completion_claimed_at.isoformat()
        contract.completion_claimed_at = contract.completion_due_at = None
        await self._record(principal, contract, "completion_objected", reason, claimed_at=claimed)
        return contract
