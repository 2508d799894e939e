"""Contract rules: types and sub-types, exact amounts, signing, 认定登记, corrections with audit, lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors
from contracts.contract.models import (
    REWARD_TYPES,
    SUBTYPES,
    TRANSITIONS,
    Contract,
    ContractAchievement,
    ContractStatus,
    Milestone,
    MilestoneStatus,
)
from contracts.contract.repository import ContractRepository
from contracts.contract.schemas import (
    AmountsCorrection,
    ContractCreate,
    ContractRead,
    InventorRead,
    MilestoneIn,
    MilestoneRead,
    RegistrationIn,
)
from contracts.deal.models import Deal, DealStatus
from contracts.reward import rules
from contracts.reward.models import Deduction
from core import audit
from core.errors import FieldError
from core.money import fen_to_yuan, yuan_to_fen
from core.reference import region_prefix
from core.types import utcnow
from market.identity.models import Organization, OrganizationKind, OrganizationStatus
from market.identity.service import Principal

CHINA = ZoneInfo("Asia/Shanghai")
REWARD_SELLER_KINDS = frozenset({OrganizationKind.university, OrganizationKind.institute})


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


def reward_applies(contract: Contract) -> bool:
    return (
        contract.service_invention and contract.type in REWARD_TYPES and contract.seller_kind in REWARD_SELLER_KINDS
    )


def _invalid(field: str, code: str, message: str) -> errors.InvalidAmounts:
    return errors.InvalidAmounts(errors=[FieldError(field=field, code=code, message=message)])


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
        milestones = await self.repository.milestones(contract.id or 0)
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
            service_invention=contract.service_invention,
            reward_rate=None if contract.reward_rate_bp is None else Decimal(contract.reward_rate_bp) / 100,
            reward_rule=contract.reward_rule,
            inventors=[InventorRead(**i) for i in contract.inventors],
            achievement_ids=await self.repository.achievement_ids(contract.id or 0),
            milestones=[
                MilestoneRead(
                    id=m.id or 0, seq=m.seq, title=m.title, amount=fen_to_yuan(m.amount_fen), due_on=m.due_on, status=m.status, paid_at=m.paid_at
                )
                for m in milestones
            ],
            allowed_transitions=list(TRANSITIONS[contract.status]),
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
        if data.deal_id is not None:
            deal = await self.session.get(Deal, data.deal_id)
            if deal is None or not (principal.belongs_to(deal.seller_org_id) or principal.belongs_to(deal.buyer_org_id)):
                raise errors.DealNotFound()
            if deal.status != DealStatus.open:
                raise errors.DealClosed()
            seller_id, buyer_id = deal.seller_org_id, deal.buyer_org_id
        else:
            seller_id = data.seller_org_id or (acting.id if data.buyer_org_id else None)
            buyer_id = data.buyer_org_id or (acting.id if data.seller_org_id else None)
            if seller_id is None or buyer_id is None:
                raise _invalid("body.seller_org_id", "parties_required", "请填写对方单位 (seller_org_id 或 buyer_org_id)")
        if acting.id not in (seller_id, buyer_id):
            raise errors.NotAContractParty()
        if seller_id == buyer_id:
            raise _invalid("body.buyer_org_id", "two_parties", "买卖双方不能是同一单位")
        seller, buyer = await self.repository.organization(seller_id), await self.repository.organization(buyer_id)
        if seller is None or buyer is None or OrganizationStatus.verified != seller.status or OrganizationStatus.verified != buyer.status:
            raise _invalid("body", "party_not_verified", "合同双方须为已认证单位")
        if data.subtype not in SUBTYPES[data.type]:
            raise _invalid(
                "body.subtype", "subtype_mismatch", f"{data.type.value} 合同的子类型应为 {', '.join(sorted(SUBTYPES[data.type]))} 之一"
            )
        total, income = yuan_to_fen(data.total), yuan_to_fen(data.technology_income)
        _check_amounts(total, income, data.milestones)
        achievements = await self.repository.achievements(data.achievement_ids)
        if len(achievements) != len(set(data.achievement_ids)) or any(a.owner_id != seller.id for a in achievements):
            raise _invalid("body.achievement_ids", "achievement_not_seller", "所涉成果须存在且属于卖方")

        contract = Contract(
            deal_id=deal.id if deal else None,
            title=data.title,
            type=data.type,
            subtype=data.subtype,
            field=data.field,
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
        await self.repository.add(*[ContractAchievement(contract_id=contract.id or 0, achievement_id=a.id or 0) for a in achievements])
        await self._replace_milestones(contract, data.milestones)
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
        await audit.record(self.session, "contract", contract.id or 0, "created", actor_user_id=principal.user.id, to_status="draft")
        return contract

    def _configure_reward(self, contract: Contract, seller: Organization, data: ContractCreate, achievements: Sequence[object]) -> None:
        if contract.type not in REWARD_TYPES or seller.kind not in REWARD_SELLER_KINDS:
            raise _invalid(
                "body.service_invention",
                "reward_not_applicable",
                "职务科技成果收益分配适用于高校、科研院所作为卖方的技术转让或许可合同",
            )
        try:
            rate, rule = rules.check_rate(_rate_bp(data.reward_rate), seller.region, today())
        except rules.RateBelowFloor as exc:
            raise errors.RewardRateBelowFloor(
                str(exc), errors=[FieldError(field="body.reward_rate", code="reward_rate_below_floor", message=str(exc))],
                rule=exc.rule.code, floor=rules.format_bp(exc.rule.floor_bp(exc.kind)),
            ) from exc
        if data.inventors:
            inventors = [i.model_dump() for i in data.inventors]
        else:
            merged: dict[str, int] = {}
            for achievement in achievements:
                for person in getattr(achievement, "inventors", []) or []:
                    name = str(person.get("name", "")).strip()
                    if name:
                        merged[name] = merged.get(name, 0) + int(Decimal(str(person.get("share") or 1)) * 100)
            inventors = [{"name": n, "weight": w, "user_id": None} for n, w in merged.items()]
        if not inventors:
            raise _invalid("body.inventors", "inventors_required", "职务科技成果须列明成果完成人 (或在所涉成果中登记完成人)")
        contract.reward_rate_bp, contract.reward_rule, contract.inventors = rate, rule.code, inventors

    async def _replace_milestones(self, contract: Contract, milestones: Sequence[MilestoneIn]) -> None:
        await self.repository.delete_milestones(contract.id or 0)
        await self.repository.add(
            *[
                Milestone(contract_id=contract.id or 0, seq=i, title=m.title, amount_fen=yuan_to_fen(m.amount), due_on=m.due_on)
                for i, m in enumerate(milestones, start=1)
            ]
        )

    # --- lifecycle -----------------------------------------------------------------------------

    @staticmethod
    def _require_transition(contract: Contract, target: ContractStatus) -> None:
        allowed = TRANSITIONS[contract.status]
        if target not in allowed:
            raise errors.InvalidContractTransition(
                detail=f"合同当前状态为 {contract.status.value}, 不能变为 {target.value}",
                current=contract.status.value,
                allowed=[s.value for s in allowed],
            )

    async def _move(self, principal: Principal, contract: Contract, target: ContractStatus, action: str, reason: str | None = None, **changes: object) -> None:
        self._require_transition(contract, target)
        before = contract.status
        contract.status, contract.updated_at = target, utcnow()
        self.session.add(contract)
        await audit.record(
            self.session, "contract", contract.id or 0, action, actor_user_id=principal.user.id,
            from_status=before.value, to_status=target.value, reason=reason, changes=dict(changes),
        )

    async def sign(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not is_party(principal, contract):
            raise errors.NotAContractParty()
        if contract.status != ContractStatus.draft:
            self._require_transition(contract, ContractStatus.signed)
        now = utcnow()
        if principal.belongs_to(contract.seller_org_id):
            contract.seller_signed_at = contract.seller_signed_at or now
        else:
            contract.buyer_signed_at = contract.buyer_signed_at or now
        await audit.record(self.session, "contract", contract.id or 0, "signature", actor_user_id=principal.user.id)
        if contract.seller_signed_at and contract.buyer_signed_at:
            contract.signed_on = today()
            await self._move(principal, contract, ContractStatus.signed, "signed")
        self.session.add(contract)
        await self.session.flush()
        return contract

    async def correct_amounts(self, principal: Principal, contract_id: int, data: AmountsCorrection) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not (is_party(principal, contract) or principal.governs_region(contract.seller_region)):
            raise errors.NotAContractParty()
        if contract.status not in (ContractStatus.draft, ContractStatus.signed):
            raise errors.AmountsLocked(current=contract.status.value)
        total, income = yuan_to_fen(data.total), yuan_to_fen(data.technology_income)
        current = await self.repository.milestones(contract.id or 0)
        milestones = data.milestones or [MilestoneIn(title=m.title, amount=fen_to_yuan(m.amount_fen), due_on=m.due_on) for m in current]
        _check_amounts(total, income, milestones)
        changes: dict[str, object] = {}
        if total != contract.total_fen:
            changes["total_fen"] = [contract.total_fen, total]
        if income != contract.technology_income_fen:
            changes["technology_income_fen"] = [contract.technology_income_fen, income]
        if data.milestones is not None:
            changes["milestones_fen"] = [[m.amount_fen for m in current], [yuan_to_fen(m.amount) for m in milestones]]
            await self._replace_milestones(contract, milestones)
        contract.total_fen, contract.technology_income_fen, contract.updated_at = total, income, utcnow()
        self.session.add(contract)
        await audit.record(
            self.session, "contract", contract.id or 0, "amounts_corrected", actor_user_id=principal.user.id,
            from_status=contract.status.value, to_status=contract.status.value, reason=data.reason, changes=changes,
        )
        await self.session.flush()
        return contract

    async def request_registration(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not principal.belongs_to(contract.seller_org_id):
            raise errors.SellerSideOnly()
        if contract.status != ContractStatus.signed:
            raise errors.InvalidContractTransition(
                detail="只有已签订的合同可以申请认定登记", current=contract.status.value, allowed=[s.value for s in TRANSITIONS[contract.status]]
            )
        contract.registration_requested_at = contract.registration_requested_at or utcnow()
        self.session.add(contract)
        await audit.record(self.session, "contract", contract.id or 0, "registration_requested", actor_user_id=principal.user.id)
        return contract

    async def register(self, principal: Principal, contract_id: int, data: RegistrationIn) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not principal.governs_region(contract.seller_region):
            raise errors.NotCompetentRegistrar()
        self._require_transition(contract, ContractStatus.registered)
        if contract.registration_requested_at is None:
            raise errors.RegistrationNotRequested()
        changes: dict[str, object] = {}
        if data.technology_income is not None:
            certified = yuan_to_fen(data.technology_income)
            if certified > contract.total_fen:
                raise _invalid("body.technology_income", "income_exceeds_total", "核定的技术交易额不能超过合同成交额")
            changes["technology_income_fen"] = [contract.technology_income_fen, certified]
            contract.technology_income_fen = certified
        contract.registration_number = registration_number(contract)
        contract.registered_at, contract.registered_by = utcnow(), principal.user.id
        await self._move(principal, contract, ContractStatus.registered, "registered", registration_number=contract.registration_number, **changes)
        await self.session.flush()
        return contract

    async def transition(self, principal: Principal, contract_id: int, target: ContractStatus, reason: str | None) -> Contract:
        contract = await self.get(principal, contract_id, lock=True)
        if not is_party(principal, contract) and not principal.governs_region(contract.seller_region):
            raise errors.NotAContractParty()
        if target in (ContractStatus.signed, ContractStatus.registered):
            # Signing needs both parties' signatures; registration an admin of the seller's region.
            self._require_transition(contract, target)
            raise errors.InvalidContractTransition(
                detail="签订请双方分别调用 /sign; 认定登记请调用 /register",
                current=contract.status.value,
                allowed=[s.value for s in TRANSITIONS[contract.status]],
            )
        if target == ContractStatus.completed:
            self._require_transition(contract, target)
            unpaid = [m.seq for m in await self.repository.milestones(contract.id or 0) if m.status != MilestoneStatus.paid]
            if unpaid:
                raise errors.MilestonesUnpaid(unpaid_milestones=unpaid)
        await self._move(principal, contract, target, target.value, reason)
        await self.session.flush()
        return contract


def registration_number(contract: Contract) -> str:
    """16 characters: year (4) + the seller's GB/T 2260 code (6) + a serial (6)."""
    year = (contract.signed_on or today()).year
    return f"{year:04d}{contract.seller_region}{(contract.id or 0) % 1_000_000:06d}"
