"""后补助 claims: build from registered, paid contracts → submit → 盟市 review → 科技厅 approval
(the budget reserved) → payout through the payment provider → the ledger (disbursed).

Who may do what: the applicant organization's admin builds, submits and withdraws its claims; an
admin governing the applicant's region (盟市 region admin, or the platform admin) reviews; only the
platform admin (科技厅) approves, refuses after review, and disburses. Every change of status is one
row of ``subsidy_claim_events``; a refused or withdrawn claim keeps its lines and history but frees
its contracts (the unique ``active_contract_id`` is cleared), so they may be claimed again.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import Contract, ContractStatus, MilestoneStatus
from contracts.errors import ContractNotFound
from contracts.payment.client import CURRENCY, PaymentProvider, PayoutSnapshot, ProviderRejected, ProviderUnavailable
from contracts.payment.payouts import PURPOSE
from contracts.subsidy import budget, errors, rules
from contracts.subsidy.budget_models import Instrument
from contracts.subsidy.models import ClaimEvent, ClaimLine, ClaimStatus, SubsidyClaim
from contracts.subsidy.repository import APPROVED, PENDING, ClaimRepository
from core.errors import ValidationFailed
from core.money import fen_to_yuan
from core.reference import region_prefix
from core.types import utcnow
from market.identity.models import Role
from market.identity.service import Principal

log = structlog.get_logger("techmarket.subsidy")
CHINA = ZoneInfo("Asia/Shanghai")
PAYOUT_PURPOSE = "post_subsidy_claim"
INSTRUMENT = Instrument.post_subsidy.value
MAX_CONTRACTS = 50


def reference_of(claim: SubsidyClaim) -> str:
    return f"post_subsidy_claim:{claim.id}"


def registered_on(contract: Contract) -> date | None:
    return contract.registered_at.astimezone(CHINA).date() if contract.registered_at is not None else None


class ClaimService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider
        self.repository = ClaimRepository(session)

    # --- reading -------------------------------------------------------------------------------

    def may_see(self, principal: Principal, claim: SubsidyClaim) -> bool:
        return principal.belongs_to(claim.applicant_org_id) or principal.governs_region(claim.region_code)

    async def get(self, principal: Principal, claim_id: int, *, lock: bool = False) -> SubsidyClaim:
        claim = await self.repository.claim(claim_id, lock=lock)
        if claim is None or not self.may_see(principal, claim):
            raise errors.ClaimNotFound()
        return claim

    async def page(
        self, principal: Principal, *, status: ClaimStatus | None, year: int | None, offset: int, limit: int
    ) -> tuple[list[SubsidyClaim], int]:
        """Platform admins see every claim, region admins their 盟市's, an organization its own."""
        organization_id = None
        prefix = None
        if principal.region_scope is not None:
            prefix = region_prefix(principal.region_scope)
        elif not principal.is_platform_admin:
            organization_id = principal.organization.id if principal.organization is not None else -1
        return await self.repository.page(
            organization_id=organization_id,
            region_prefix=prefix,
            status=status,
            year=year,
            offset=offset,
            limit=limit,
        )

    # --- the applicant -------------------------------------------------------------------------

    async def create(
        self, principal: Principal, contract_ids: list[int], payee_name: str, payee_account: str
    ) -> SubsidyClaim:
        """A draft claim over ``contract_ids``, each line computed by the rule of its registration day."""
        organization = principal.organization
        if organization is None or principal.user.role != Role.org_admin:
            raise errors.NotTheApplicant("只有单位管理员可以代表本单位申请后补助")
        principal.require_may_write()
        ids = list(dict.fromkeys(contract_ids))
        if not 0 < len(ids) <= MAX_CONTRACTS:
            raise ValidationFailed.on_field(
                "body.contract_ids", "contract_count", f"一次申请 1 至 {MAX_CONTRACTS} 份合同"
            )
        contracts = await self.repository.contracts(ids)
        found = {c.id for c in contracts}
        missing = [i for i in ids if i not in found]
        strangers = [c.id for c in contracts if organization.id not in (c.buyer_org_id, c.seller_org_id)]
        if missing or strangers:  # a contract the applicant is no party to is one it cannot see
            raise ContractNotFound(detail=f"合同不存在: {missing + strangers}", contract_ids=missing + strangers)
        taken = await self.repository.claimed_contracts(ids)
        if taken:
            raise errors.ContractAlreadyClaimed(detail=f"已申报的合同: {taken}", contract_ids=taken)
        unpaid = await self._unpaid(ids)
        lines, rule, year, side = [], None, None, None
        for contract in contracts:
            line_rule, line_side, day = self._judge(organization.id or 0, contract, unpaid)
            if rule is not None and (line_rule.code != rule.code or day.year != year):
                raise errors.ContractNotClaimable(
                    detail="一次申请的合同须在同一年度登记并适用同一政策, 请分开申请", contract_ids=[contract.id]
                )
            rule, year, side = line_rule, day.year, line_side
            income = contract.technology_income_fen
            lines.append(
                ClaimLine(
                    claim_id=0,
                    contract_id=contract.id or 0,
                    active_contract_id=contract.id,
                    registration_number=contract.registration_number,
                    registered_on=day.isoformat(),
                    technology_income_fen=income,
                    rate_bp=rule.rate_bp,
                    amount_fen=rules.line_amount(income, rule),
                )
            )
        assert rule is not None and year is not None and side is not None
        already = await self.repository.year_total(organization.id or 0, year, (*APPROVED, *PENDING))
        amount = rules.claim_amount((line.amount_fen for line in lines), rule, already)
        if amount <= 0:
            raise errors.ApplicantYearCapReached(
                detail=f"{year} 年上限 {fen_to_yuan(rule.per_applicant_year_cap_fen)} 元已用完 (含审核中的申请)"
            )
        claim = SubsidyClaim(
            applicant_org_id=organization.id or 0,
            side=side.value,
            region_code=organization.region,
            year=year,
            rule_code=rule.code,
            budget_region_code=rule.budget_region(organization.region),
            claimed_fen=amount,
            payee_name=payee_name,
            payee_account=payee_account,
            created_by=principal.user.id,
        )
        try:
            async with self.session.begin_nested():
                await self.repository.add(claim)
                for line in lines:
                    line.claim_id = claim.id or 0
                await self.repository.add(*lines)
        except IntegrityError as exc:  # a concurrent claim took one of the contracts first
            raise errors.ContractAlreadyClaimed() from exc
        await self._record(principal, claim, None, ClaimStatus.draft, amount, "按规则计算")
        return claim

    def _judge(
        self, organization_id: int, contract: Contract, unpaid: set[int]
    ) -> tuple[rules.SubsidyRule, rules.Side, date]:
        def refuse(why: str) -> errors.ContractNotClaimable:
            return errors.ContractNotClaimable(detail=f"合同 {contract.id}: {why}", contract_ids=[contract.id])

        if contract.buyer_org_id == organization_id:
            side, kind, region = rules.Side.buyer, contract.buyer_kind.value, contract.buyer_region
        elif contract.seller_org_id == organization_id:
            side, kind, region = rules.Side.seller, contract.seller_kind.value, contract.seller_region
        else:
            raise ContractNotFound()
        day = registered_on(contract)
        if day is None:
            raise refuse("合同尚未认定登记")
        if contract.status == ContractStatus.terminated:
            raise refuse("合同已终止")
        if contract.id in unpaid:
            raise refuse("合同款项尚未全部支付 (或已退款)")
        rule = rules.rule_for(side, day, region)
        if rule is None:
            raise errors.NoRuleInForce(detail=f"合同 {contract.id} 登记日 {day.isoformat()} 无适用的{side.value}方政策")
        why = rules.ineligibility(rule, entity_kind=kind, applicant_region=region, contract_type=contract.type.value)
        if why is not None:
            raise refuse(why)
        return rule, side, day

    async def _unpaid(self, contract_ids: list[int]) -> set[int]:
        """Contracts with no milestone, or any milestone not paid (refunded counts as not paid)."""
        paid: dict[int, bool] = dict.fromkeys(contract_ids, False)
        seen: set[int] = set()
        for milestone in await self.repository.milestones(contract_ids):
            if milestone.contract_id not in seen:
                seen.add(milestone.contract_id)
                paid[milestone.contract_id] = True
            if milestone.status != MilestoneStatus.paid:
                paid[milestone.contract_id] = False
        return {i for i, ok in paid.items() if not ok}

    async def submit(self, principal: Principal, claim_id: int) -> SubsidyClaim:
        claim = await self._applicant_claim(principal, claim_id)
        return await self._move(principal, claim, (ClaimStatus.draft,), ClaimStatus.submitted)

    async def withdraw(self, principal: Principal, claim_id: int, reason: str | None) -> SubsidyClaim:
        claim = await self._applicant_claim(principal, claim_id)
        moved = await self._move(principal, claim, PENDING, ClaimStatus.withdrawn, reason=reason)
        await self.repository.free_contracts(claim.id or 0)
        return moved

    async def _applicant_claim(self, principal: Principal, claim_id: int) -> SubsidyClaim:
        claim = await self.get(principal, claim_id, lock=True)
        if not principal.belongs_to(claim.applicant_org_id) or principal.user.role != Role.org_admin:
            raise errors.NotTheApplicant()
        principal.require_may_write()
        return claim

    # --- the reviewers -------------------------------------------------------------------------

    async def region_review(
        self, principal: Principal, claim_id: int, *, approve: bool, amount_fen: int | None, reason: str | None
    ) -> SubsidyClaim:
        """The 盟市's word: recommend (perhaps for less than claimed) or refuse."""
        claim = await self.get(principal, claim_id, lock=True)
        if not principal.governs_region(claim.region_code):
            raise errors.NotTheReviewer()
        if not approve:
            moved = await self._move(principal, claim, (ClaimStatus.submitted,), ClaimStatus.refused, reason=reason)
            await self.repository.free_contracts(claim.id or 0)
            return moved
        amount = claim.claimed_fen if amount_fen is None else amount_fen
        self._within_claimed(claim, amount)
        claim.recommended_fen = amount
        return await self._move(
            principal, claim, (ClaimStatus.submitted,), ClaimStatus.region_approved, amount=amount, reason=reason
        )

    async def approve(
        self, principal: Principal, claim_id: int, amount_fen: int | None, reason: str | None
    ) -> SubsidyClaim:
        """科技厅 approval: the amount is reserved in the budget, or nothing happens (409)."""
        if not principal.is_platform_admin:
            raise errors.PlatformAdminOnly()
        claim = await self.get(principal, claim_id, lock=True)
        if claim.status != ClaimStatus.region_approved:
            raise self._state(claim, (ClaimStatus.region_approved,))
        amount = claim.recommended_fen if amount_fen is None and claim.recommended_fen is not None else amount_fen
        amount = claim.claimed_fen if amount is None else amount
        self._within_claimed(claim, amount)
        rule = rules.by_code(claim.rule_code)
        await self.repository.lock_organization(claim.applicant_org_id)
        approved = await self.repository.year_total(claim.applicant_org_id, claim.year, APPROVED, excluding=claim.id)
        if rule is not None and approved + amount > rule.per_applicant_year_cap_fen:
            left = max(0, rule.per_applicant_year_cap_fen - approved)
            raise errors.ApplicantYearCapReached(detail=f"本年度尚可核定 {fen_to_yuan(left)} 元")
        await budget.reserve(
            self.session,
            region_code=claim.budget_region_code,
            year=claim.year,
            instrument=INSTRUMENT,
            amount_fen=amount,
            reference=reference_of(claim),
            actor_user_id=principal.user.id,
        )
        claim.approved_fen = amount
        return await self._move(
            principal, claim, (ClaimStatus.region_approved,), ClaimStatus.approved, amount=amount, reason=reason
        )

    async def refuse(self, principal: Principal, claim_id: int, reason: str | None) -> SubsidyClaim:
        """科技厅 refusal, before approval or after it while no money has left (the reservation is released)."""
        if not principal.is_platform_admin:
            raise errors.PlatformAdminOnly()
        claim = await self.get(principal, claim_id, lock=True)
        allowed = (ClaimStatus.submitted, ClaimStatus.region_approved, ClaimStatus.approved, ClaimStatus.payout_failed)
        if claim.status not in allowed:
            raise self._state(claim, allowed)
        if claim.status in (ClaimStatus.approved, ClaimStatus.payout_failed) and claim.approved_fen:
            await budget.release(
                self.session,
                region_code=claim.budget_region_code,
                year=claim.year,
                instrument=INSTRUMENT,
                amount_fen=claim.approved_fen,
                reference=reference_of(claim),
                actor_user_id=principal.user.id,
            )
        moved = await self._move(principal, claim, allowed, ClaimStatus.refused, reason=reason)
        await self.repository.free_contracts(claim.id or 0)
        return moved

    # --- money out -----------------------------------------------------------------------------

    async def disburse(self, principal: Principal, claim_id: int) -> SubsidyClaim:
        """Send the approved amount to the payee (idempotent per attempt: the key names the attempt)."""
        if not principal.is_platform_admin:
            raise errors.PlatformAdminOnly()
        claim = await self.get(principal, claim_id, lock=True)
        if claim.status == ClaimStatus.disbursing:
            return claim
        allowed = (ClaimStatus.approved, ClaimStatus.payout_failed)
        if claim.status not in allowed or not claim.approved_fen:
            raise self._state(claim, allowed)
        assert self.provider is not None, "a provider client is needed to disburse"
        claim.payout_attempt += 1
        claim.payout_id, claim.payout_version = None, 0
        metadata = {PURPOSE: PAYOUT_PURPOSE, "claim_id": str(claim.id), "attempt": str(claim.payout_attempt)}
        try:
            payout = await self.provider.create_payout(
                claim.approved_fen,
                {"name": claim.payee_name, "account": claim.payee_account},
                metadata,
                claim.payout_key,
            )
        except ProviderUnavailable as exc:
            raise errors.PayoutUnavailable(detail=str(exc)) from exc
        except ProviderRejected as exc:
            raise errors.PayoutRejected(detail=str(exc), provider_code=exc.code) from exc
        claim.payout_id = payout.id
        moved = await self._move(principal, claim, allowed, ClaimStatus.disbursing, amount=claim.approved_fen)
        await self._apply(claim, payout)
        return moved

    async def apply_payout(self, snapshot: PayoutSnapshot) -> str:
        """A provider event about a claim's payout (the handler registered for ``post_subsidy_claim``)."""
        raw = snapshot.metadata.get("claim_id", "")
        claim = await self.repository.claim(int(raw), lock=True) if raw.isdigit() else None
        if claim is None:
            return "unknown_payout"
        if claim.payout_id != snapshot.id:
            if snapshot.status in ("paid", "failed") and snapshot.metadata.get("attempt") == str(
                claim.payout_attempt + 1
            ):  # the disbursing request has not committed yet: stay in the inbox, repaired later
                raise RuntimeError(f"payout {snapshot.id} of claim {claim.id} not recorded yet")
            return "unknown_payout" if snapshot.status in ("paid", "failed") else "ignored"
        return await self._apply(claim, snapshot)

    async def _apply(self, claim: SubsidyClaim, snapshot: PayoutSnapshot) -> str:
        if snapshot.amount != claim.approved_fen or snapshot.currency != CURRENCY:
            log.warning("payout_snapshot_refused", claim=claim.id, payout=snapshot.id)
            return "amount_mismatch"
        if snapshot.version <= claim.payout_version:
            return "stale"
        claim.payout_version = snapshot.version
        self.session.add(claim)
        if snapshot.status == "paid" and claim.status == ClaimStatus.disbursing:
            await budget.disburse(
                self.session,
                region_code=claim.budget_region_code,
                year=claim.year,
                instrument=INSTRUMENT,
                amount_fen=snapshot.amount,
                reference=reference_of(claim),
            )
            await self._move(None, claim, (ClaimStatus.disbursing,), ClaimStatus.paid, amount=snapshot.amount)
            return "paid"
        if snapshot.status == "failed" and claim.status == ClaimStatus.disbursing:
            why = f"{snapshot.failure_code}: {snapshot.failure_message}" if snapshot.failure_code else "拨付失败"
            await self._move(None, claim, (ClaimStatus.disbursing,), ClaimStatus.payout_failed, reason=why[:500])
            return "failed"
        await self.session.flush()
        return "updated"

    # --- internals -----------------------------------------------------------------------------

    @staticmethod
    def _within_claimed(claim: SubsidyClaim, amount: int) -> None:
        if amount <= 0:
            raise ValidationFailed.on_field("body.amount", "amount_positive", "核定金额须大于 0; 不予补助请用驳回")
        if amount > claim.claimed_fen:
            raise errors.ApprovedAboveClaimed(detail=f"申请金额 {fen_to_yuan(claim.claimed_fen)} 元")

    @staticmethod
    def _state(claim: SubsidyClaim, allowed: tuple[ClaimStatus, ...]) -> errors.ClaimStateConflict:
        return errors.ClaimStateConflict(current=claim.status.value, allowed_states=[s.value for s in allowed])

    async def _move(
        self,
        principal: Principal | None,
        claim: SubsidyClaim,
        allowed: tuple[ClaimStatus, ...],
        target: ClaimStatus,
        *,
        amount: int | None = None,
        reason: str | None = None,
    ) -> SubsidyClaim:
        if claim.status not in allowed:
            raise self._state(claim, allowed)
        before, claim.status, claim.updated_at = claim.status, target, utcnow()
        await self.repository.add(claim)
        await self._record(principal, claim, before, target, amount, reason)
        return claim

    async def _record(
        self,
        principal: Principal | None,
        claim: SubsidyClaim,
        before: ClaimStatus | None,
        target: ClaimStatus,
        amount: int | None,
        reason: str | None,
    ) -> None:
        await self.repository.add(
            ClaimEvent(
                claim_id=claim.id or 0,
                from_status=before.value if before is not None else None,
                to_status=target.value,
                amount_fen=amount,
                reason=reason,
                actor_user_id=principal.user.id if principal is not None else None,
            )
        )


async def apply_payout(session: AsyncSession, snapshot: PayoutSnapshot) -> str:
    return await ClaimService(session).apply_payout(snapshot)


__all__ = ["ClaimService", "apply_payout"]
