"""Vouchers: list providers, issue, accept, spend on a milestone, redeem through a payout, expire.

Money moves only through ``VoucherRepository.move`` (a voucher's five balances, one ledger line per
move) and the shared budget (``contracts.subsidy.budget``, instrument ``voucher``): issuing reserves
the face value, a paid redemption disburses what it paid, expiry releases what was never spent. So the
budget's reserved amount for vouchers is always issued + held + spent, and nothing is issued beyond it.

Spending pays part of a milestone: the voucher's part is recorded on the milestone (``VoucherSpend``)
and the milestone's payment through the payment provider is created for the rest, in the same
request. The provider (the contract's seller, listed for the contract's category) redeems its spends
once their milestones are paid: one payout for all of them, whose webhook settles the redemption.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors as contract_errors
from contracts.contract.models import Contract, Milestone
from contracts.contract.repository import ContractRepository
from contracts.contract.service import ContractService
from contracts.payment.client import CURRENCY, PaymentProvider, PayoutSnapshot, ProviderRejected, ProviderUnavailable
from contracts.payment.models import Payment
from contracts.payment.repository import PaymentRepository
from contracts.payment.service import PaymentService
from contracts.subsidy import budget
from contracts.voucher import errors
from contracts.voucher.ledger import Move, VoucherState
from contracts.voucher.models import (
    RedemptionStatus,
    Voucher,
    VoucherEntry,
    VoucherProvider,
    VoucherRedemption,
    VoucherSpend,
)
from contracts.voucher.repository import VoucherRepository
from contracts.voucher.rules import (
    PROVINCE,
    ServiceCategory,
    VoucherSettings,
    category_of,
    default_valid_until,
    eligibility,
    max_cover,
)
from core.money import fen_to_yuan
from core.reference import prefecture_of
from core.types import utcnow
from market.identity.models import Organization
from market.identity.service import Principal

log = structlog.get_logger("techmarket.vouchers")
BudgetMove = Callable[..., Awaitable[None]]
CHINA = ZoneInfo("Asia/Shanghai")
INSTRUMENT = "voucher"
PURPOSE = "voucher_redemption"  # the payout metadata's purpose (contracts.payment.payouts)


def reservation(voucher_id: int, generation: int) -> str:
    """The budget reference holding a voucher's unspent value after ``generation`` spends and voids.

    The budget lets a reference release once and disburse once, never more than it reserved. So a spend
    releases the unspent value from the voucher's current reference and reserves it again, split: the
    spent part under the spend's own reference (disbursed when redeemed), the rest under the next one
    (released on expiry). A void joins a spend's reservation and the unspent one again under the next
    reference. The budget's totals do not change; only who holds the reservation does."""
    return f"voucher:{voucher_id}" if generation == 0 else f"voucher:{voucher_id}:{generation}"


def today() -> date:
    return datetime.now(CHINA).date()


def framed(categories: list[ServiceCategory]) -> str:
    return "," + ",".join(sorted({c.value for c in categories})) + ","


def unframed(categories: str) -> list[str]:
    return [c for c in categories.split(",") if c]


class VoucherService:
    def __init__(self, session: AsyncSession, settings: VoucherSettings | None = None) -> None:
        self.session = session
        self.settings = settings or VoucherSettings()
        self.repository = VoucherRepository(session)

    async def _organization(self, organization_id: int) -> Organization:
        organization = await self.session.get(Organization, organization_id)
        if organization is None:
            raise errors.NotEligible(detail="单位不存在")
        return organization

    # --- providers ------------------------------------------------------------------------------

    async def list_provider(
        self, principal: Principal, organization_id: int, categories: list[ServiceCategory]
    ) -> tuple[VoucherProvider, str]:
        """List an organization as a provider for ``categories`` (again: the categories are replaced)."""
        organization = await self._organization(organization_id)
        if not principal.governs_region(organization.region):
            raise errors.VoucherIssuerOnly()
        if organization.status != "verified":
            raise errors.NotEligible("服务机构须已通过平台审核")
        provider = await self.repository.provider(organization_id)
        if provider is None:
            provider = VoucherProvider(organization_id=organization_id, region=organization.region, categories="")
        provider.categories = framed(categories)
        provider.listed_by, provider.listed_at, provider.delisted_at = principal.user.id, utcnow(), None
        await self.repository.add(provider)
        return provider, organization.name

    # --- issuing and accepting ------------------------------------------------------------------

    async def issue(
        self,
        principal: Principal,
        *,
        organization_id: int,
        face_fen: int,
        categories: list[ServiceCategory],
        sme_number: str,
        valid_until: date | None,
    ) -> Voucher:
        """Issue a voucher from the issuer's budget (科技厅: 150000; a region admin: their 盟市)."""
        organization = await self._organization(organization_id)
        if not principal.governs_region(organization.region):
            raise errors.VoucherIssuerOnly()
        verdict = eligibility(
            kind=organization.kind.value,
            status=organization.status.value,
            region=organization.region,
            sme_number=sme_number,
        )
        if not verdict.eligible:
            raise errors.NotEligible(detail="; ".join(verdict.reasons))
        issued_on = today()
        if face_fen > self.settings.max_face_value_fen:
            raise errors.VoucherLimitExceeded(
                detail=f"单张面额不超过 {fen_to_yuan(self.settings.max_face_value_fen)} 元"
            )
        year = issued_on.year
        already = await self.repository.issued_to(organization_id, year)
        if already + face_fen > self.settings.max_per_enterprise_year_fen:
            limit = fen_to_yuan(self.settings.max_per_enterprise_year_fen)
            raise errors.VoucherLimitExceeded(detail=f"{year} 年已领用 {fen_to_yuan(already)} 元, 年度上限 {limit} 元")
        until = valid_until or default_valid_until(issued_on, self.settings)
        if until < issued_on:
            raise errors.VoucherExpired(detail="有效期不能早于发放日")
        voucher = Voucher(
            organization_id=organization_id,
            region=prefecture_of(organization.region) or organization.region,
            budget_region=principal.region_scope or PROVINCE,
            year=year,
            sme_number=sme_number.strip(),
            categories=sorted({c.value for c in categories}),
            valid_until=until,
            face_fen=face_fen,
            issued_fen=face_fen,
            issued_by=principal.user.id,
        )
        await self.repository.add(voucher)
        await self.repository.add(
            VoucherEntry(
                voucher_id=voucher.id or 0,
                move=Move.issue,
                to_state=VoucherState.issued,
                amount_fen=face_fen,
                ref=f"issue:{voucher.id}",
                actor_user_id=principal.user.id,
            )
        )
        await budget.reserve(
            self.session,
            region_code=voucher.budget_region,
            year=voucher.year,
            instrument=INSTRUMENT,
            amount_fen=face_fen,
            reference=reservation(voucher.id or 0, 0),
            actor_user_id=principal.user.id,
        )
        return voucher

    async def get(self, principal: Principal, voucher_id: int) -> Voucher:
        """The voucher, for its holder and the admins governing its region (404 for anyone else)."""
        voucher = await self.repository.get(voucher_id)
        if voucher is None or not (
            principal.belongs_to(voucher.organization_id) or principal.governs_region(voucher.region)
        ):
            raise errors.VoucherNotFound()
        return voucher

    async def accept(self, principal: Principal, voucher_id: int) -> Voucher:
        voucher = await self.get(principal, voucher_id)
        if not principal.belongs_to(voucher.organization_id):
            raise errors.VoucherHolderOnly()
        if voucher.issued_fen == 0:
            return voucher  # accepted already (or expired): nothing to move
        if voucher.valid_until < today():
            raise errors.VoucherExpired()
        amount = voucher.issued_fen
        if not await self.repository.move(
            voucher,
            Move.accept,
            VoucherState.issued,
            VoucherState.held,
            amount,
            f"accept:{voucher.id}",
            principal.user.id,
        ):
            raise errors.VoucherNotHeld()
        voucher.accepted_at = utcnow()
        await self.repository.add(voucher)
        return voucher

    # --- spending ---------------------------------------------------------------------------------

    async def spend(
        self,
        principal: Principal,
        provider: PaymentProvider,
        voucher_id: int,
        *,
        contract_id: int,
        milestone_id: int,
        amount_fen: int,
    ) -> tuple[VoucherSpend, Payment]:
        """Pay ``amount_fen`` of a milestone with the voucher and the rest through the payment provider."""
        voucher = await self.get(principal, voucher_id)
        if not principal.belongs_to(voucher.organization_id):
            raise errors.VoucherHolderOnly()
        contract = await ContractService(self.session).get(principal, contract_id, lock=True)
        if contract.buyer_org_id != voucher.organization_id:
            raise contract_errors.BuyerSideOnly("创新券只能用于持券企业作为买方的合同")
        milestone = await ContractRepository(self.session).milestone(contract.id or 0, milestone_id)
        if milestone is None:
            raise contract_errors.MilestoneNotFound()
        category = await self._check_spend(voucher, contract, milestone, amount_fen)
        spend = VoucherSpend(
            voucher_id=voucher.id or 0,
            contract_id=contract.id or 0,
            milestone_id=milestone.id or 0,
            provider_org_id=contract.seller_org_id,
            category=category.value,
            amount_fen=amount_fen,
            technology_income_fen=contract.technology_income_fen,
            spent_by=principal.user.id,
        )
        await self.record_spend(voucher, spend, principal.user.id)
        # The milestone's payment asks the provider for the rest only (contracts.payment.covered).
        payment = await PaymentService(self.session, provider).pay(principal, contract.id or 0, milestone.id or 0)
        return spend, payment

    async def _check_spend(
        self, voucher: Voucher, contract: Contract, milestone: Milestone, amount_fen: int
    ) -> ServiceCategory:
        if voucher.expired_at is not None or voucher.valid_until < today():
            raise errors.VoucherExpired()
        if amount_fen > voucher.held_fen:
            raise errors.VoucherNotHeld(detail=f"可用余额 {fen_to_yuan(voucher.held_fen)} 元")
        category = category_of(contract.subtype.value)
        if category.value not in voucher.categories:
            raise errors.CategoryNotAllowed()
        listed = await self.repository.provider(contract.seller_org_id)
        if listed is None or listed.delisted_at is not None or category.value not in unframed(listed.categories):
            raise errors.ProviderNotListed()
        if await self.repository.spend_of_milestone(milestone.id or 0) is not None:
            raise errors.SpendNotAllowed(detail="该付款节点已使用过创新券")
        if await PaymentRepository(self.session).of_milestone(milestone.id or 0) is not None:
            raise errors.SpendNotAllowed(detail="该付款节点已发起付款, 不能再使用创新券")
        cap = max_cover(milestone.amount_fen, self.settings)
        if amount_fen > cap or amount_fen >= milestone.amount_fen:
            raise errors.SpendNotAllowed(detail=f"本节点最多可用创新券抵付 {fen_to_yuan(cap)} 元")
        return category

    # --- the ledger and the budget, move by move ---------------------------------------------------

    async def record_spend(self, voucher: Voucher, spend: VoucherSpend, actor_user_id: int | None) -> None:
        """Write ``spend`` and move its amount from held to spent; its money is then reserved under the
        spend's own reference, so the payout that redeems it disburses exactly that (see ``reservation``)."""
        await self.repository.add(spend)
        amount = spend.amount_fen
        earlier = await self.repository.generation(voucher.id or 0)
        moved = await self.repository.move(
            voucher, Move.spend, VoucherState.held, VoucherState.spent, amount, f"spend:{spend.id}", actor_user_id
        )
        if not moved:
            raise errors.VoucherNotHeld(detail=f"可用余额 {fen_to_yuan(voucher.held_fen)} 元")
        unspent = voucher.issued_fen + voucher.held_fen
        voucher_id = voucher.id or 0
        await self._budget(budget.release, voucher, unspent + amount, reservation(voucher_id, earlier))
        await self._budget(budget.reserve, voucher, amount, f"voucher-spend:{spend.id}")
        if unspent:
            await self._budget(budget.reserve, voucher, unspent, reservation(voucher_id, earlier + 1))

    async def _budget(self, move: BudgetMove, voucher: Voucher, amount: int, reference: str) -> None:
        await move(
            self.session,
            region_code=voucher.budget_region,
            year=voucher.year,
            instrument=INSTRUMENT,
            amount_fen=amount,
            reference=reference,
        )

    async def void_unpaid(self, contract_id: int, actor_user_id: int | None) -> int:
        """The contract ended: its spends on milestones never paid go back to their vouchers; how many."""
        spends = await self.repository.unpaid_spends(contract_id)
        for spend in spends:
            await self.void_spend(spend, actor_user_id)
        return len(spends)

    async def void_spend(self, spend: VoucherSpend, actor_user_id: int | None) -> None:
        """Spent → held, and the spend's reservation joins the unspent one under the next reference;
        spent → expired when the voucher has expired by then, and the spend's reservation is released."""
        voucher = await self.repository.get(spend.voucher_id)
        assert voucher is not None
        voucher_id, amount, ref = voucher.id or 0, spend.amount_fen, f"void:{spend.id}"
        generation = await self.repository.generation(voucher_id)
        spend.voided_at = utcnow()
        await self.repository.add(spend)
        unspent = voucher.issued_fen + voucher.held_fen
        spend_reference, spent = f"voucher-spend:{spend.id}", VoucherState.spent
        if await self.repository.move(voucher, Move.void, spent, VoucherState.held, amount, ref, actor_user_id):
            await self._budget(budget.release, voucher, amount, spend_reference)
            if unspent:
                await self._budget(budget.release, voucher, unspent, reservation(voucher_id, generation))
            await self._budget(budget.reserve, voucher, unspent + amount, reservation(voucher_id, generation + 1))
        elif await self.repository.move(
            voucher, Move.void_lapsed, spent, VoucherState.expired, amount, ref, actor_user_id, unexpired=False
        ):
            await self._budget(budget.release, voucher, amount, spend_reference)
        else:
            raise RuntimeError(f"voucher {voucher_id}: spent balance short for {ref}")
        log.info("voucher_spend_voided", voucher=voucher_id, spend=spend.id, amount_fen=amount)

    async def redeem_spend(self, spend: VoucherSpend) -> None:
        """The spend was paid out to its provider: spent → redeemed, and its reservation disbursed."""
        voucher = await self.repository.get(spend.voucher_id)
        assert voucher is not None
        ref = f"redeem:{spend.id}"
        moved = await self.repository.move(
            voucher,
            Move.redeem,
            VoucherState.spent,
            VoucherState.redeemed,
            spend.amount_fen,
            ref,
            None,
            unexpired=False,
        )
        if not moved:
            raise RuntimeError(f"voucher {voucher.id}: spent balance short for {ref}")
        await budget.disburse(
            self.session,
            region_code=voucher.budget_region,
            year=voucher.year,
            instrument=INSTRUMENT,
            amount_fen=spend.amount_fen,
            reference=f"voucher-spend:{spend.id}",
        )

    # --- redeeming --------------------------------------------------------------------------------

    async def redeem(self, principal: Principal, provider: PaymentProvider) -> VoucherRedemption:
        """One payout to the provider for every spend it received on a paid milestone, not yet redeemed.

        The key is made of the spends it covers and the provider's failed attempts so far (state that
        only a committed request changes), so a request retried after a crash or a rollback sends the
        same key and is the same payout at the payment provider, never a second one."""
        organization = principal.organization
        # The provider's row is locked until the request commits: a payout webhook waits for it (apply_payout).
        listed = await self.repository.provider(organization.id or 0, lock=True) if organization is not None else None
        if organization is None or listed is None or principal.user.role.value != "org_admin":
            raise errors.ProviderOnly()
        postgres = self.session.get_bind().dialect.name == "postgresql"
        spends = await self.repository.redeemable(organization.id or 0, lock=postgres)
        if not spends:
            raise errors.NothingToRedeem()
        amount = sum(s.amount_fen for s in spends)
        attempt = await self.repository.failed_redemptions(organization.id or 0) + 1
        key = f"voucher-{organization.id}-{spends[0].id}-{spends[-1].id}-{len(spends)}-{attempt}"
        redemption = await self.repository.redemption_by_key(key)
        if redemption is None:
            redemption = VoucherRedemption(
                provider_org_id=organization.id or 0,
                amount_fen=amount,
                spends=len(spends),
                idempotency_key=key,
                requested_by=principal.user.id,
            )
            await self.repository.add(redemption)
        for spend in spends:
            spend.redemption_id = redemption.id
        await self.repository.add(*spends)
        try:
            payout = await provider.create_payout(
                amount,
                {"name": organization.name, "account": organization.uscc or f"org-{organization.id}"},
                {"purpose": PURPOSE, "redemption": key, "provider": str(organization.id)},
                key,
            )
        except ProviderUnavailable as exc:
            raise contract_errors.ProviderUnavailableError(detail=str(exc)) from exc
        except ProviderRejected as exc:
            raise contract_errors.ProviderRejectedError(detail=str(exc), provider_code=exc.code) from exc
        redemption.payout_id = payout.id
        await self.repository.add(redemption)
        await self.apply_payout(payout)
        return redemption

    async def apply_payout(self, snapshot: PayoutSnapshot) -> str:
        """A payout's news (answer or webhook): paid redeems the spends and disburses the budget; failed
        frees the spends for another redemption. Stale or foreign snapshots change nothing."""
        raw = snapshot.metadata.get("provider", "")
        if raw.isdigit():  # waits while the redeeming request (holding this row) has not committed
            await self.repository.provider(int(raw), lock=True)
        redemption = await self.repository.redemption_by_key(snapshot.metadata.get("redemption", ""), lock=True)
        if redemption is None or redemption.payout_id not in (None, snapshot.id):
            return "unknown_payout"
        if snapshot.amount != redemption.amount_fen or snapshot.currency != CURRENCY:
            return "amount_mismatch"
        if snapshot.version <= redemption.payout_version or redemption.status != RedemptionStatus.pending:
            return "stale"
        redemption.payout_id, redemption.payout_version = snapshot.id, snapshot.version
        if snapshot.status == "paid":
            await self._settle(redemption)
            result = "paid"
        elif snapshot.status == "failed":
            redemption.status, redemption.settled_at = RedemptionStatus.failed, utcnow()
            redemption.failure = (snapshot.failure_message or snapshot.failure_code or "")[:200]
            for spend in await self.repository.spends_of(redemption.id or 0):
                spend.redemption_id = None
                self.session.add(spend)
            result = "failed"
        else:
            result = "updated"
        await self.repository.add(redemption)
        return result

    async def _settle(self, redemption: VoucherRedemption) -> None:
        for spend in await self.repository.spends_of(redemption.id or 0):
            await self.redeem_spend(spend)
        redemption.status, redemption.settled_at = RedemptionStatus.paid, utcnow()

    # --- expiry -----------------------------------------------------------------------------------

    async def expire(self, voucher_id: int) -> int:
        """Return what a voucher past its last day still holds to the budget; the fen expired (0 when
        another worker got there first or nothing was left)."""
        if not await self.repository.mark_expired(voucher_id):
            return 0
        voucher = await self.repository.get(voucher_id)
        assert voucher is not None
        returned = 0
        for state in (VoucherState.issued, VoucherState.held):
            amount = int(getattr(voucher, f"{state.value}_fen"))
            if amount and await self.repository.move(
                voucher,
                Move.expire,
                state,
                VoucherState.expired,
                amount,
                f"expire:{voucher.id}:{state.value}",
                None,
                unexpired=False,
            ):
                returned += amount
        if returned:
            await budget.release(
                self.session,
                region_code=voucher.budget_region,
                year=voucher.year,
                instrument=INSTRUMENT,
                amount_fen=returned,
                reference=reservation(voucher.id or 0, await self.repository.generation(voucher.id or 0)),
            )
        log.info("voucher_expired", voucher=voucher.id, returned_fen=returned)
        return returned
