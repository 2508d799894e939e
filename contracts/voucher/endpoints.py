"""Thin handlers of 科技创新券: the rules, the provider directory, issuing, the holder's account, spending on
a milestone, the provider's received spends and redemptions."""

from __future__ import annotations

from fastapi import APIRouter

from contracts import errors as contract_errors
from contracts.deps import ProviderDep
from contracts.payment.models import Payment
from contracts.subsidy import errors as budget_errors
from contracts.voucher import errors
from contracts.voucher.ledger import VoucherState
from contracts.voucher.models import Voucher, VoucherEntry, VoucherProvider, VoucherRedemption, VoucherSpend
from contracts.voucher.rules import CATEGORY_ZH, SME_SOURCE, VoucherSettings, rule_values
from contracts.voucher.schemas import (
    Balances,
    EntryRead,
    ProviderIn,
    ProviderPage,
    ProviderRead,
    RedemptionRead,
    RuleRead,
    RulesRead,
    SpendIn,
    SpendPage,
    SpendRead,
    VoucherIssue,
    VoucherPage,
    VoucherRead,
)
from contracts.voucher.service import VoucherService, unframed
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan, yuan_to_fen
from core.pagination import PageQuery
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OtherOrganization

router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers"])


def _money(value: int, unit: str) -> str:
    if unit == "fen":
        return str(fen_to_yuan(value))
    if unit == "bp":
        return f"{value / 100:g}%"
    return str(value)


def _voucher(voucher: Voucher, entries: list[VoucherEntry] | None = None) -> VoucherRead:
    def yuan(state: VoucherState) -> object:
        return fen_to_yuan(int(getattr(voucher, f"{state.value}_fen")))

    return VoucherRead(
        id=voucher.id or 0,
        organization_id=voucher.organization_id,
        region=voucher.region,
        budget_region=voucher.budget_region,
        year=voucher.year,
        categories=list(voucher.categories),
        valid_until=voucher.valid_until,
        face_value=fen_to_yuan(voucher.face_fen),
        balances=Balances(**{state.value: yuan(state) for state in VoucherState}),
        sme_number=voucher.sme_number,
        issued_at=voucher.issued_at,
        accepted_at=voucher.accepted_at,
        expired_at=voucher.expired_at,
        entries=None
        if entries is None
        else [
            EntryRead(
                move=e.move,
                from_state=e.from_state,
                to_state=e.to_state,
                amount=fen_to_yuan(e.amount_fen),
                created_at=e.created_at,
            )
            for e in entries
        ],
    ).about(Subject(owner=voucher.organization_id, regions=(voucher.region,)))


def _spend(spend: VoucherSpend, payment: Payment | None = None) -> SpendRead:
    return SpendRead(
        id=spend.id or 0,
        voucher_id=spend.voucher_id,
        contract_id=spend.contract_id,
        milestone_id=spend.milestone_id,
        provider_org_id=spend.provider_org_id,
        category=spend.category,
        amount=fen_to_yuan(spend.amount_fen),
        redemption_id=spend.redemption_id,
        created_at=spend.created_at,
        voided_at=spend.voided_at,
        payment_amount=None if payment is None else fen_to_yuan(payment.amount_fen),
        payment_status=None if payment is None else payment.status,
    )


def _redemption(redemption: VoucherRedemption) -> RedemptionRead:
    return RedemptionRead(
        id=redemption.id or 0,
        provider_org_id=redemption.provider_org_id,
        amount=fen_to_yuan(redemption.amount_fen),
        spends=redemption.spends,
        status=redemption.status,
        payout_id=redemption.payout_id,
        failure=redemption.failure,
        created_at=redemption.created_at,
        settled_at=redemption.settled_at,
    ).about(Subject(owner=redemption.provider_org_id))


@router.get(
    "/rules",
    response_model=RulesRead,
    summary="创新券规则 (领用条件、面额上限等, 含来源)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def voucher_rules(principal: CurrentPrincipal) -> RulesRead:
    """Placeholders are marked: the region's published measures are not in the project yet."""
    return RulesRead(
        rules=[
            RuleRead(
                key=r.key,
                name=r.name,
                value=_money(r.value, r.unit),
                unit=r.unit,
                source=r.source,
                placeholder=r.placeholder,
            )
            for r in rule_values(VoucherSettings())
        ],
        categories={c.value: zh for c, zh in CATEGORY_ZH.items()},
        eligibility_source=SME_SOURCE,
    )


@router.get(
    "/providers", response_model=ProviderPage, summary="创新券服务机构目录", responses=problem_responses(*AUTH_ERRORS)
)
async def list_providers(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    category: str | None = None,
    region: str | None = None,
) -> ProviderPage:
    rows, total = await VoucherService(session).repository.providers(
        category=category, region=region, offset=page.offset, limit=page.limit
    )
    return ProviderPage.of([_provider(p, name) for p, name in rows], total, page)


def _provider(provider: VoucherProvider, name: str) -> ProviderRead:
    return ProviderRead(
        id=provider.id or 0,
        organization_id=provider.organization_id,
        organization_name=name,
        region=provider.region,
        categories=unframed(provider.categories),
        listed_at=provider.listed_at,
    )


@router.post(
    "/providers",
    response_model=ProviderRead,
    status_code=201,
    summary="登记创新券服务机构 (平台管理员或机构所在盟市的管理员)",
    responses=problem_responses(*AUTH_ERRORS, errors.VoucherIssuerOnly, errors.NotEligible),
)
async def list_provider(principal: CurrentPrincipal, session: SessionDep, data: ProviderIn) -> ProviderRead:
    provider, name = await VoucherService(session).list_provider(principal, data.organization_id, data.categories)
    return _provider(provider, name)


@router.post(
    "",
    response_model=VoucherRead,
    status_code=201,
    summary="向企业发放创新券 (从发放方的年度创新券预算中预留面额)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.VoucherIssuerOnly,
        errors.NotEligible,
        errors.VoucherLimitExceeded,
        errors.VoucherExpired,
        budget_errors.BudgetNotConfigured,
        budget_errors.BudgetExceeded,
    ),
)
async def issue_voucher(principal: CurrentPrincipal, session: SessionDep, data: VoucherIssue) -> VoucherRead:
    voucher = await VoucherService(session).issue(
        principal,
        organization_id=data.organization_id,
        face_fen=yuan_to_fen(data.face_value),
        categories=data.categories,
        sme_number=data.sme_number,
        valid_until=data.valid_until,
    )
    return _voucher(voucher)


@router.get(
    "",
    response_model=VoucherPage,
    summary="创新券账户: 本单位持有的券; 管理员看所辖盟市的券",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_vouchers(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery, year: int | None = None
) -> VoucherPage:
    repository = VoucherService(session).repository
    if principal.is_platform_admin:
        rows, total = await repository.page(
            organization_id=None, region=None, year=year, offset=page.offset, limit=page.limit
        )
    elif principal.region_scope is not None:
        rows, total = await repository.page(
            organization_id=None, region=principal.region_scope, year=year, offset=page.offset, limit=page.limit
        )
    elif principal.organization is not None:
        rows, total = await repository.page(
            organization_id=principal.organization.id, region=None, year=year, offset=page.offset, limit=page.limit
        )
    else:
        rows, total = [], 0
    return VoucherPage.of([_voucher(v) for v in rows], total, page)


@router.get(
    "/received",
    response_model=SpendPage,
    summary="服务机构收到的创新券 (按付款节点)",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization),
)
async def received_spends(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> SpendPage:
    if principal.organization is None:
        raise OtherOrganization("只有单位账号可以查看收到的创新券")
    rows, total = await VoucherService(session).repository.received(
        principal.organization.id or 0, page.offset, page.limit
    )
    return SpendPage.of([_spend(s).about(Subject(owner=s.provider_org_id)) for s in rows], total, page)


@router.post(
    "/redemptions",
    response_model=RedemptionRead,
    status_code=201,
    summary="服务机构兑付收到的创新券 (一次付款, 结果以支付服务的回调为准)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ProviderOnly,
        errors.NothingToRedeem,
        contract_errors.ProviderUnavailableError,
        contract_errors.ProviderRejectedError,
    ),
)
async def redeem_vouchers(principal: CurrentPrincipal, session: SessionDep, provider: ProviderDep) -> RedemptionRead:
    return _redemption(await VoucherService(session).redeem(principal, provider))


@router.get(
    "/{voucher_id}",
    response_model=VoucherRead,
    summary="一张创新券及其账目",
    responses=problem_responses(*AUTH_ERRORS, errors.VoucherNotFound),
)
async def get_voucher(voucher_id: int, principal: CurrentPrincipal, session: SessionDep) -> VoucherRead:
    service = VoucherService(session)
    voucher = await service.get(principal, voucher_id)
    return _voucher(voucher, list(await service.repository.entries(voucher.id or 0)))


@router.post(
    "/{voucher_id}/accept",
    response_model=VoucherRead,
    summary="企业领取创新券 (转入本单位账户)",
    responses=problem_responses(*AUTH_ERRORS, errors.VoucherNotFound, errors.VoucherHolderOnly, errors.VoucherExpired),
)
async def accept_voucher(voucher_id: int, principal: CurrentPrincipal, session: SessionDep) -> VoucherRead:
    return _voucher(await VoucherService(session).accept(principal, voucher_id))


@router.post(
    "/{voucher_id}/spend",
    response_model=SpendRead,
    status_code=201,
    summary="用创新券抵付合同付款节点的一部分, 余款通过支付服务支付",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.VoucherNotFound,
        errors.VoucherHolderOnly,
        errors.VoucherExpired,
        errors.VoucherNotHeld,
        errors.CategoryNotAllowed,
        errors.ProviderNotListed,
        errors.SpendNotAllowed,
        contract_errors.ContractNotFound,
        contract_errors.MilestoneNotFound,
        contract_errors.BuyerSideOnly,
        contract_errors.PaymentNotAllowed,
        contract_errors.TermsChanged,
        contract_errors.ProviderUnavailableError,
        contract_errors.ProviderRejectedError,
    ),
)
async def spend_voucher(
    voucher_id: int, principal: CurrentPrincipal, session: SessionDep, provider: ProviderDep, data: SpendIn
) -> SpendRead:
    spend, payment = await VoucherService(session).spend(
        principal,
        provider,
        voucher_id,
        contract_id=data.contract_id,
        milestone_id=data.milestone_id,
        amount_fen=yuan_to_fen(data.amount),
    )
    holder = principal.organization.id if principal.organization is not None else None
    parties = frozenset(p for p in (spend.provider_org_id, holder) if p is not None)
    return _spend(spend, payment).about(Subject(owner=spend.provider_org_id, parties=parties))
