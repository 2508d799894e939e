"""Contract rules: types and sub-types, exact amounts, signing, corrections with audit, lifecycle (认定登记:
``contracts.contract.registration``).

Every change of a contract's terms after it was created goes through ``ContractService._amend``: it
compares the terms before and after (``contracts.contract.terms``), audits the difference, and
either voids both signatures (before registration: the contract is a draft again and both sides sign
the new terms) or re-issues the registration (after registration, where only the registrar may
correct). Signatures and registrations store the digest of the terms they were given for, and
signing, registration and payment refuse terms that differ from it, so a writer that bypassed
``_amend`` cannot slip a change under a signature either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors, notices
from contracts.contract import endings, terms
from contracts.contract.models import (
    MANUAL_TRANSITIONS,
    SUBTYPES,
    TRANSITIONS,
    Contract,
    ContractAchievement,
    ContractStatus,
    Milestone,
)
from contracts.contract.registration_repository import RegistrationRepository
from contracts.contract.registration_schemas import RegistrationRead
from contracts.contract.repository import ContractRepository
from contracts.contract.schemas import (
    AmountsCorrection,
    ContractCreate,
    ContractRead,
    InventorRead,
    MilestoneIn,
    MilestoneRead,
)
from contracts.deal.models import Deal, DealStatus
from contracts.pricing import gate as pricing_gate
from contracts.reward import rules
from contracts.reward.models import Deduction
from core import audit
from core.errors import FieldError, ValidationFailed
from core.money import fen_to_yuan, yuan_to_fen
from core.reference import region_prefix
from core.types import utcnow
from market.identity.models import Organization, OrganizationStatus
from market.identity.service import Principal
from market.listings import deals as listing_deals

CHINA = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(CHINA).date()


def is_party(principal: Principal, contract: Contract) -> bool:
    return principal.belongs_to(contract.seller_org_id) or principal.belongs_to(contract.buyer_org_id)


def may_see(principal: Principal, contract: Contract) -> bool:
    """Parties, platform admins, and the region admins of either party's region."""
    return (
        is_party(principal, contract)
        or principal.governs_region(contract.seller_region)
        or principal.governs_region(contract.buyer_region)
    )


def _invalid(field: str, code: str, message: str) -> errors.InvalidAmounts:
    return errors.InvalidAmounts(errors=[FieldError(field=field, code=code, message=message)])


def _refuse(error: type[ValidationFailed], field: str, message: str | None = None) -> ValidationFailed:
    """A validation error whose code names its cause, on the field that caused it."""
    return error(errors=[FieldError(field=field, code=error.code, message=message or error.message)])


def _check_term(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise _refuse(
            errors.TermEndBeforeStart, "body.term_end", f"结束日期 {end.isoformat()} 早于开始日期 {start.isoformat()}"
        )


def _check_deductions(total: int, amounts: Sequence[int], field: str = "body.deductions") -> None:
    """Each line above zero, and together below the contract's total (else net income is nil)."""
    for index, amount in enumerate(amounts):
        if amount <= 0:
            raise _refuse(errors.DeductionNotPositive, f"{field}[{index}].amount")
    if amounts and sum(amounts) >= total:
        raise _refuse(
            errors.DeductionsExceedIncome,
            field,
            f"扣除项合计 {fen_to_yuan(sum(amounts))} 元不低于合同成交额 {fen_to_yuan(total)} 元, "
            "净收入为 0, 成果完成人将得不到任何奖励",
        )


def _check_inventors(inventors: Sequence[dict[str, object]]) -> None:
    for index, person in enumerate(inventors):
        weight = person.get("weight")
        if not isinstance(weight, int) or weight <= 0:
            raise _refuse(
                errors.InventorWeightNotPositive,
                f"body.inventors[{index}].weight",
                f"成果完成人 {person.get('name')} 的份额权重应大于 0",
            )


def _check_amounts(total: int, income: int, milestones: Sequence[MilestoneIn]) -> None:
    if total <= 0:
        raise _invalid("body.total", "total_positive", "合同成交额应大于 0")
    if income > total:
        raise _invalid("body.technology_income", "income_exceeds_total", "技术交易额不能超过合同成交额")
    amounts = [yuan_to_fen(m.amount) for m in milestones]
    if any(a <= 0 for a in amounts):
        raise _invalid("body.milestones", "milestone_positive", "每个付款节点的金额应大于 0")
    if sum(amounts) != total:
        raise _invalid(
            "body.milestones",
            "milestones_sum",
            f"付款节点合计 {fen_to_yuan(sum(amounts))} 元, 与合同成交额 {fen_to_yuan(total)} 元不一致",
        )


def _rate_bp(percent: Decimal | None) -> int | None:
    return None if percent is None else int(percent * 100)


class ContractService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = ContractRepository(session)

    # --- reading -------------------------------------------------------------------------------

    async def get(self, principal: Principal, contract_id: int, *, lock: bool = False) -> Contract:
        contract = await self.repository.contract(contract_id, lock=lock)
        if contract is None or not may_see(principal, contract):
            raise errors.ContractNotFound()
        return contract

    async def read(self, contract: Contract) -> ContractRead:
        cid = contract.id or 0
        milestones, achievement_ids = await self.repository.milestones(cid), await self.repository.achievement_ids(cid)
        digest = terms.digest_of(
            terms.document(contract, milestones, await self.repository.deductions(cid), achievement_ids)
        )
        return ContractRead(
            id=contract.id or 0,
            deal_id=contract.deal_id,
            title=contract.title,
            type=contract.type,
            subtype=contract.subtype,
            field=contract.field,
            seller_org_id=contract.seller_org_id,
            buyer_org_id=contract.buyer_org_id,
            seller_region=contract.seller_region,
            buyer_region=contract.buyer_region,
            seller_kind=contract.seller_kind,
            buyer_kind=contract.buyer_kind,
            total=fen_to_yuan(contract.total_fen),
            technology_income=fen_to_yuan(contract.technology_income_fen),
            signed_on=contract.signed_on,
            term_start=contract.term_start,
            term_end=contract.term_end,
            status=contract.status,
            seller_signed_at=contract.seller_signed_at,
            buyer_signed_at=contract.buyer_signed_at,
            registration_requested_at=contract.registration_requested_at,
            registration_number=contract.registration_number,
            registered_at=contract.registered_at,
            registration_revision=contract.registration_revision,
            completion_claimed_at=contract.completion_claimed_at,
            completion_due_at=contract.completion_due_at,
            terms_digest=digest,
            service_invention=contract.service_invention,
            reward_rate=None if contract.reward_rate_bp is None else Decimal(contract.reward_rate_bp) / 100,
            reward_rule=contract.reward_rule,
            inventors=[InventorRead(**i) for i in contract.inventors],
            achievement_ids=achievement_ids,
            milestones=[
                MilestoneRead(
                    id=m.id or 0,
                    seq=m.seq,
                    title=m.title,
                    amount=fen_to_yuan(m.amount_fen),
                    due_on=m.due_on,
                    status=m.status,
                    paid_at=m.paid_at,
                )
                for m in milestones
            ],
            allowed_transitions=list(MANUAL_TRANSITIONS[contract.status]),
            registration_requests=[
                RegistrationRead.of(request, rounds)
                for request, rounds in await RegistrationRepository(self.session).history(cid)
            ],
            created_at=contract.created_at,
        )

    async def list(self, principal: Principal, offset: int, limit: int) -> tuple[Sequence[Contract], int]:
        scope = principal.region_scope
        return await self.repository.contracts_visible(
            organization_id=principal.organization.id if principal.organization else None,
            region_prefix=region_prefix(scope) if scope else None,
            everything=principal.is_platform_admin,
            offset=offset,
            limit=limit,
        )

    # --- creating ------------------------------------------------------------------------------

    async def create(self, principal: Principal, data: ContractCreate) -> Contract:
        acting = principal.require_can_publish()
        deal: Deal | None = None
        seller_id: int | None
        buyer_id: int | None
        if data.deal_id is not None:
            deal = await self.session.get(Deal, data.deal_id)
            if deal is None or not (
                principal.belongs_to(deal.seller_org_id) or principal.belongs_to(deal.buyer_org_id)
            ):
                raise errors.DealNotFound()
            if deal.status != DealStatus.open:
                raise errors.DealClosed()
            seller_id, buyer_id = deal.seller_org_id, deal.buyer_org_id
        else:
            seller_id = data.seller_org_id or (acting.id if data.buyer_org_id else None)
            buyer_id = data.buyer_org_id or (acting.id if data.seller_org_id else None)
            if seller_id is None or buyer_id is None:
                raise _refuse(
                    errors.PartiesRequired, "body.seller_org_id", "请填写对方单位 (seller_org_id 或 buyer_org_id)"
                )
        if acting.id not in (seller_id, buyer_id):
            raise errors.NotAContractParty()
        other_field = "body.buyer_org_id" if acting.id == seller_id else "body.seller_org_id"
        if seller_id == buyer_id:
            raise _refuse(errors.SameOrganization, other_field)
        seller, buyer = await self.repository.organization(seller_id), await self.repository.organization(buyer_id)
        for organization, field in ((seller, "body.seller_org_id"), (buyer, "body.buyer_org_id")):
            if organization is None:
                raise _refuse(errors.PartyNotFound, field)
            if organization.status != OrganizationStatus.verified:
                raise _refuse(
                    errors.PartyNotVerified,
                    field,
                    f"{organization.name} 的状态为 {organization.status.value}, 合同双方须为已认证单位",
                )
        assert seller is not None and buyer is not None
        if data.subtype not in SUBTYPES[data.type]:
            raise _refuse(
                errors.SubtypeMismatch,
                "body.subtype",
                f"{data.type.value} 合同的子类型应为 {', '.join(sorted(SUBTYPES[data.type]))} 之一",
            )
        total, income = yuan_to_fen(data.total), yuan_to_fen(data.technology_income)
        _check_amounts(total, income, data.milestones)
        _check_term(data.term_start, data.term_end)
        _check_deductions(total, [yuan_to_fen(line.amount) for line in data.deductions])
        achievements = await self.repository.achievements(data.achievement_ids)
        if len(achievements) != len(set(data.achievement_ids)) or any(a.owner_id != seller.id for a in achievements):
            raise _refuse(errors.AchievementNotSeller, "body.achievement_ids")

        contract = Contract(
            deal_id=deal.id if deal else None,
            title=data.title,
            type=data.type,
            subtype=data.subtype,
            field=data.field or usual_field(achievements),
            seller_org_id=seller.id or 0,
            buyer_org_id=buyer.id or 0,
            seller_region=seller.region,
            buyer_region=buyer.region,
            seller_kind=seller.kind,
            buyer_kind=buyer.kind,
            total_fen=total,
            technology_income_fen=income,
            term_start=data.term_start,
            term_end=data.term_end,
            service_invention=data.service_invention,
            created_by=principal.user.id,
        )
        if data.service_invention:
            self._configure_reward(contract, seller, data, achievements)
        await self.repository.add(contract)
        await self.repository.add(
            *[ContractAchievement(contract_id=contract.id or 0, achievement_id=a.id or 0) for a in achievements]
        )
        await self._set_milestones(contract, data.milestones)
        for line in data.deductions:
            await self.repository.add(
                Deduction(
                    contract_id=contract.id or 0,
                    kind=line.kind,
                    description=line.description,
                    amount_fen=yuan_to_fen(line.amount),
                    created_by=principal.user.id,
                )
            )
        if deal is not None:
            deal.status, deal.closed_at = DealStatus.converted, utcnow()
        await audit.record(
            self.session, "contract", contract.id or 0, "created", actor_user_id=principal.user.id, to_status="draft"
        )
        return contract

    def _configure_reward(
        self, contract: Contract, seller: Organization, data: ContractCreate, achievements: Sequence[object]
    ) -> None:
        """Checked against the floor in force today, the earliest the contract can be signed on; the
        signature that completes the contract applies the floor of its day (``_apply_signing_floor``)."""
        if not rules.reward_eligible(contract.type, seller.kind):
            raise _refuse(errors.RewardNotApplicable, "body.service_invention")
        try:
            rate, rule = rules.check_rate(_rate_bp(data.reward_rate), seller.region, today())
        except rules.RateBelowFloor as exc:
            raise errors.RewardRateBelowFloor(
                str(exc),
                errors=[FieldError(field="body.reward_rate", code="reward_rate_below_floor", message=str(exc))],
                rule=exc.rule.code,
                floor=rules.format_bp(exc.rule.floor_bp(exc.kind)),
            ) from exc
        if data.inventors:
            inventors = [i.model_dump() for i in data.inventors]
        else:
            inventors = rules.merge_inventors(getattr(a, "inventors", None) or [] for a in achievements)
        if not inventors:
            raise _refuse(
                errors.InventorsRequired, "body.inventors", "职务科技成果须列明成果完成人 (或在所涉成果中登记完成人)"
            )
        _check_inventors(inventors)
        contract.reward_rate_bp, contract.reward_rule, contract.inventors = rate, rule.code, inventors

    async def _apply_signing_floor(self, principal: Principal, contract: Contract) -> None:
        """The reward floor is the one in force on the signing date, and a contract is signed on the day
        of its last signature: each signature applies the floor of its day. A change is a change of
        terms (``_amend``): audited, and a signature given for the old rate is void."""
        if contract.reward_rule is None or contract.reward_rate_bp is None:
            return
        rate, rule = rules.rate_on_signing(contract.reward_rate_bp, contract.seller_region, today())
        if (rate, rule.code) == (contract.reward_rate_bp, contract.reward_rule):
            return

        async def change() -> None:
            contract.reward_rate_bp, contract.reward_rule = rate, rule.code

        await self._amend(principal, contract, "reward_floor_applied", f"签订日适用: {rule.describe()}", change)

    async def _set_milestones(self, contract: Contract, milestones: Sequence[MilestoneIn]) -> None:
        """Rows are updated in place by position; one whose payment has started keeps its amount and stays."""
        current = await self.repository.milestones(contract.id or 0)
        started = await self.repository.milestones_with_payment(contract.id or 0)
        for row in current[len(milestones) :]:
            if row.id in started:
                raise errors.MilestonePaymentStarted(
                    detail=f"付款节点 {row.seq} 已发起付款, 不能删除", milestone=row.seq
                )
        for row, wanted in zip(current, milestones, strict=False):
            if row.id in started and yuan_to_fen(wanted.amount) != row.amount_fen:
                raise errors.MilestonePaymentStarted(
                    detail=f"付款节点 {row.seq} 已发起付款, 金额不能更改", milestone=row.seq
                )
        for row in current[len(milestones) :]:
            await self.session.delete(row)
        for row, wanted in zip(current, milestones, strict=False):
            row.title, row.amount_fen, row.due_on = wanted.title, yuan_to_fen(wanted.amount), wanted.due_on
        await self.repository.add(
            *current[: len(milestones)],
            *[
                Milestone(
                    contract_id=contract.id or 0,
                    seq=i,
                    title=m.title,
                    amount_fen=yuan_to_fen(m.amount),
                    due_on=m.due_on,
                )
                for i, m in enumerate(milestones[len(current) :], start=len(current) + 1)
            ],
        )

    # --- terms ---------------------------------------------------------------------------------

    async def terms(self, contract: Contract) -> dict[str, object]:
        cid = contract.id or 0
        return terms.document(
            contract,
            await self.repository.milestones(cid),
            await self.repository.deductions(cid),
            await self.repository.achievement_ids(cid),
        )

    async def terms_digest(self, contract: Contract) -> str:
        return terms.digest_of(await self.terms(contract))

    async def require_signed_terms(self, contract: Contract) -> str:
        """The current digest, if both signatures were given for exactly these terms."""
        current = await self.terms_digest(contract)
        if contract.seller_signed_digest != current or contract.buyer_signed_digest != current:
            raise errors.TermsChanged(detail="合同条款与双方签署时不一致, 须双方重新签署", terms_digest=current)
        return current

    async def require_registered_terms(self, contract: Contract) -> None:
        """Payment pays what was registered: terms changed since (outside a registrar's correction) stop it."""
        current = await self.terms_digest(contract)
        if contract.registered_digest != current:
            raise errors.TermsChanged(
                detail="合同条款与认定登记时不一致, 须由登记机构更正后重新出具登记", terms_digest=current
            )

    async def require_payable_terms(self, contract: Contract) -> None:
        """A registered contract pays what was registered (the registrar may have corrected it since
        signing); one not registered yet pays exactly what both parties signed."""
        if contract.registered_at is not None:
            await self.require_registered_terms(contract)
        else:
            await self.require_signed_terms(contract)

    async def _amend(
        self, principal: Principal, contract: Contract, action: str, reason: str, change: Callable[[], Awaitable[None]]
    ) -> None:
        """The one way terms change after creation: audited; voids signatures, or re-issues the registration."""
        before = await self.terms(contract)
        await change()
        self.session.add(contract)
        await self.session.flush()
        after = await self.terms(contract)
        changes: dict[str, object] = dict(terms.differences(before, after))
        if not changes:
            return
        previous = contract.status
        if contract.status in (ContractStatus.draft, ContractStatus.signed):
            changes["signatures_voided"] = [
                side
                for side, at in (("seller", contract.seller_signed_at), ("buyer", contract.buyer_signed_at))
                if at is not None
            ]
            contract.seller_signed_at = contract.buyer_signed_at = None
            contract.seller_signed_digest = contract.buyer_signed_digest = None
            contract.signed_on = contract.registration_requested_at = None
            contract.status = ContractStatus.draft
            if previous == ContractStatus.signed:
                ids = await self.repository.achievement_ids(contract.id or 0)
                await listing_deals.release_price(self.session, ids, contract.id or 0)
        elif (
            contract.registered_at is not None
            and contract.status in (ContractStatus.registered, ContractStatus.performing)
            and principal.governs_region(contract.seller_region)
        ):
            changes["registration_revision"] = [contract.registration_revision, contract.registration_revision + 1]
            contract.registration_revision += 1
            contract.registered_digest = terms.digest_of(after)
        else:  # callers check this first; a change nobody may make must not be written
            raise errors.AmountsLocked(current=contract.status.value)
        changes["terms_digest"] = [terms.digest_of(before), terms.digest_of(after)]
        contract.updated_at = utcnow()
        self.session.add(contract)
        await audit.record(
            self.session,
            "contract",
            contract.id or 0,
            action,
            actor_user_id=principal.user.id,
            from_status=previous.value,
            to_status=contract.status.value,
            reason=reason,
            changes=changes,
        )
        await self.session.flush()

    # --- lifecycle -----------------------------------------------------------------------------

    @staticmethod
    def _require_transition(contract: Contract, target: ContractStatus) -> None:
        allowed = TRANSITIONS[contract.status]
        if target not in allowed:
            raise errors.InvalidContractTransition(
                detail=f"合同当前状态为 {contract.status.value}, 不能变为 {target.value}",
                current=contract.status.value,
                allowed=[s.value for s in MANUAL_TRANSITIONS[contract.status]],
            )

    async def _move(
        self,
        principal: Principal,
        contract: Contract,
        target: ContractStatus,
        action: str,
        reason: str | None = None,
        **changes: object,
    ) -> None:
        self._require_transition(contract, target)
        before = contract.status
        contract.status, contract.updated_at = target, utcnow()
        self.session.add(contract)
        if target in (ContractStatus.signed, ContractStatus.terminated):  # the achievements' prices held or freed
            hold = listing_deals.hold_price if target == ContractStatus.signed else listing_deals.release_price
            await hold(self.session, await self.repository.achievement_ids(contract.id or 0), contract.id or 0)
        if target == ContractStatus.terminated:  # e.g. 创新券 spends on milestones never paid go back
            await endings.terminated(self.session, contract.id or 0, principal.user.id)
        await audit.record(
            self.session,
            "contract",
            contract.id or 0,
            action,
            actor_user_id=principal.user.id,
            from_status=before.value,
            to_status=target.value,
            reason=reason,
            changes=dict(changes),
        )

    async def sign(self, principal: Principal, contract_id: int, terms_digest: str | None = None) -> Contract:
        """Sign the current terms (``terms_digest``, when given, must be the one the signer read)."""
        contract = await self.get(principal, contract_id, lock=True)
        if not is_party(principal, contract):
            raise errors.NotAContractParty()
        if contract.status != ContractStatus.draft:
            self._require_transition(contract, ContractStatus.signed)
        achievements = await self.repository.achievements(await self.repository.achievement_ids(contract.id or 0))
        await pricing_gate.require_price_discovered(self.session, contract, achievements, today())
        await self._apply_signing_floor(principal, contract)
        current = await self.terms_digest(contract)
        if terms_digest is not None and terms_digest != current:
            raise errors.TermsChanged(detail="您查看后合同条款已被改动, 请重新查看后签署", terms_digest=current)
        now, seller = utcnow(), principal.belongs_to(contract.seller_org_id)
        if seller and contract.seller_signed_digest != current:
            contract.seller_signed_at, contract.seller_signed_digest = now, current
        elif not seller and contract.buyer_signed_digest != current:
            contract.buyer_signed_at, contract.buyer_signed_digest = now, current
        voided = []
        if contract.seller_signed_at is not None and contract.seller_signed_digest != current:
            contract.seller_signed_at, contract.seller_signed_digest = None, None
            voided.append("seller")
        if contract.buyer_signed_at is not None and contract.buyer_signed_digest != current:
            contract.buyer_signed_at, contract.buyer_signed_digest = None, None
            voided.append("buyer")
        changes: dict[str, object] = {"side": "seller" if seller else "buyer", "terms_digest": current}
        if voided:  # given for other terms: a signature covers only what its signer saw
            changes["signatures_voided"] = voided
        await audit.record(
            self.session, "contract", contract.id or 0, "signature", actor_user_id=principal.user.id, changes=changes
        )
        if contract.seller_signed_digest == current and contract.buyer_signed_digest == current:
            contract.signed_on = today()
            await self._move(principal, contract, ContractStatus.signed, "signed", terms_digest=current)
        self.session.add(contract)
        await self.session.flush()
        await notices.signature(self.session, principal, contract, current)
        return contract

    async def correct_amounts(self, principal: Principal, contract_id: int, data: AmountsCorrection) -> Contract:
        """Before registration the parties (or the registrar) correct, and both sign again; after it,
        only the registrar, and the registration is re-issued."""
        contract = await self.get(principal, contract_id, lock=True)
        party, registrar = is_party(principal, contract), principal.governs_region(contract.seller_region)
        if contract.status in (ContractStatus.draft, ContractStatus.signed):
            allowed = party or registrar
        else:
            # Once performing on signed terms, only a registrar's correction of a registration changes them.
            allowed = (
                registrar
                and contract.registered_at is not None
                and contract.status in (ContractStatus.registered, ContractStatus.performing)
            )
        if not allowed:
            if party or registrar:
                raise errors.AmountsLocked(current=contract.status.value)
            raise errors.NotAContractParty()
        total, income = yuan_to_fen(data.total), yuan_to_fen(data.technology_income)
        current = await self.repository.milestones(contract.id or 0)
        milestones = data.milestones or [
            MilestoneIn(title=m.title, amount=fen_to_yuan(m.amount_fen), due_on=m.due_on) for m in current
        ]
        _check_amounts(total, income, milestones)
        _check_deductions(
            total, [d.amount_fen for d in await self.repository.deductions(contract.id or 0)], "body.total"
        )

        async def change() -> None:
            contract.total_fen, contract.technology_income_fen = total, income
            if data.milestones is not None:
                await self._set_milestones(contract, milestones)

        await self._amend(principal, contract, "amounts_corrected", data.reason, change)
        return contract

    async def transition(
        self, principal: Principal, contract_id: int, target: ContractStatus, reason: str | None
    ) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not is_party(principal, contract) and not principal.governs_region(contract.seller_region):
            raise errors.NotAContractParty()
        allowed = MANUAL_TRANSITIONS[contract.status]
        if target not in allowed:
            # Signing needs both parties' signatures (/sign), registration the registrar (/register),
            # completion the seller's claim and the buyer's confirmation (/completion/…).
            raise errors.InvalidContractTransition(
                detail=f"合同当前状态为 {contract.status.value}, 不能经 /transitions 变为 {target.value}"
                "; 签订请双方分别调用 /sign, 认定登记请调用 /register, 履行完毕由卖方声明、买方确认 (/completion)",
                current=contract.status.value,
                allowed=[s.value for s in allowed],
            )
        await self._move(principal, contract, target, target.value, reason)
        await self.session.flush()
        return contract


def usual_field(achievements: Sequence[object]) -> str | None:
    """The field most of the linked achievements are in (the first listed on a tie)."""
    fields = (getattr(a, "field", None) for a in achievements)
    counts = Counter(str(field) for field in fields if field)
    return counts.most_common(1)[0][0] if counts else None
