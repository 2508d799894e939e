"""Thin handlers: 后补助 rules, budgets and their ledger, claims from building to payout."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter

from contracts.deps import ProviderDep
from contracts.errors import ContractNotFound
from contracts.subsidy import errors, rules
from contracts.subsidy.budget_models import BudgetEntry, SubsidyBudget
from contracts.subsidy.desk import BudgetDesk
from contracts.subsidy.models import ClaimEvent, ClaimLine, ClaimStatus, SubsidyClaim
from contracts.subsidy.schemas import (
    AllocationIn,
    ApproveIn,
    BudgetEntryPage,
    BudgetEntryRead,
    BudgetPage,
    BudgetRead,
    ClaimCreate,
    ClaimEventPage,
    ClaimEventRead,
    ClaimLineRead,
    ClaimPage,
    ClaimRead,
    ReasonIn,
    RegionReviewIn,
    RulePage,
    RuleRead,
)
from contracts.subsidy.service import ClaimService
from core.deps import SessionDep
from core.errors import ValidationFailed, problem_responses
from core.money import fen_to_yuan, yuan_to_fen
from core.pagination import PageQuery
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS

router = APIRouter(prefix="/api/v1", tags=["subsidies"])

CLAIM_ERRORS = (*AUTH_ERRORS, errors.ClaimNotFound, errors.ClaimStateConflict)


def _rule(rule: rules.SubsidyRule) -> RuleRead:
    return RuleRead(
        code=rule.code,
        issuer_region=rule.issuer_region,
        effective_from=rule.effective_from,
        effective_to=rule.effective_to,
        applicant_side=rule.side.value,
        entity_kinds=sorted(rule.entity_kinds),
        applicant_region=rule.applicant_region,
        contract_types=sorted(rule.contract_types),
        rate_percent=rules.percent(rule.rate_bp),
        per_contract_cap=fen_to_yuan(rule.per_contract_cap_fen),
        per_applicant_year_cap=fen_to_yuan(rule.per_applicant_year_cap_fen),
        budget_level=rule.budget_level.value,
        placeholder=rule.placeholder,
        source_note=rule.source_note,
    )


def _budget(row: SubsidyBudget) -> BudgetRead:
    return BudgetRead(
        id=row.id or 0,
        region_code=row.region_code,
        year=row.year,
        instrument=row.instrument,
        total=fen_to_yuan(row.total_fen),
        reserved=fen_to_yuan(row.reserved_fen),
        disbursed=fen_to_yuan(row.disbursed_fen),
        available=fen_to_yuan(row.available_fen),
        source=row.source,
        updated_at=row.updated_at,
    ).about(Subject(regions=(row.region_code,)))


def _entry(entry: BudgetEntry, region_code: str) -> BudgetEntryRead:
    return BudgetEntryRead(
        id=entry.id or 0,
        budget_id=entry.budget_id,
        kind=entry.kind,
        amount=fen_to_yuan(entry.amount_fen),
        reference=entry.reference,
        actor_user_id=entry.actor_user_id,
        created_at=entry.created_at,
    ).about(Subject(regions=(region_code,)))


def _subject(claim: SubsidyClaim) -> Subject:
    return Subject(owner=claim.applicant_org_id, regions=(claim.region_code,))


def _line(line: ClaimLine) -> ClaimLineRead:
    return ClaimLineRead(
        contract_id=line.contract_id,
        registration_number=line.registration_number,
        registered_on=line.registered_on,
        technology_income=fen_to_yuan(line.technology_income_fen),
        rate_percent=rules.percent(line.rate_bp),
        amount=fen_to_yuan(line.amount_fen),
        holds_contract=line.active_contract_id is not None,
    )


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else fen_to_yuan(fen)


def _claim(claim: SubsidyClaim, lines: list[ClaimLine] | None = None) -> ClaimRead:
    return ClaimRead(
        id=claim.id or 0,
        applicant_org_id=claim.applicant_org_id,
        side=claim.side,
        region_code=claim.region_code,
        year=claim.year,
        rule_code=claim.rule_code,
        budget_region_code=claim.budget_region_code,
        claimed=fen_to_yuan(claim.claimed_fen),
        recommended=_yuan(claim.recommended_fen),
        approved=_yuan(claim.approved_fen),
        status=claim.status,
        payee_name=claim.payee_name,
        payee_account=claim.payee_account,
        payout_id=claim.payout_id,
        created_at=claim.created_at,
        updated_at=claim.updated_at,
        lines=[_line(line) for line in lines or []],
    ).about(_subject(claim))


def _event(event: ClaimEvent, claim: SubsidyClaim) -> ClaimEventRead:
    return ClaimEventRead(
        id=event.id or 0,
        from_status=event.from_status,
        to_status=event.to_status,
        amount=_yuan(event.amount_fen),
        reason=event.reason,
        actor_user_id=event.actor_user_id,
        at=event.at,
    ).about(_subject(claim))


async def _detail(service: ClaimService, claim: SubsidyClaim) -> ClaimRead:
    return _claim(claim, await service.repository.lines(claim.id or 0))


# --- rules and budgets ---------------------------------------------------------------------------


@router.get(
    "/subsidy-rules",
    response_model=RulePage,
    summary="技术交易后补助政策 (按登记日期适用; 占位值会标明)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_subsidy_rules(principal: CurrentPrincipal, page: PageQuery) -> RulePage:
    return RulePage.window([_rule(r) for r in rules.rules()], page)


@router.get(
    "/subsidy-budgets",
    response_model=BudgetPage,
    summary="政策资金预算 (科技厅全部, 盟市管理员本盟市)",
    responses=problem_responses(*AUTH_ERRORS, errors.BudgetAdminsOnly),
)
async def list_subsidy_budgets(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery, year: int | None = None
) -> BudgetPage:
    rows, total = await BudgetDesk(session).page(principal, year, page.offset, page.limit)
    return BudgetPage.of([_budget(r) for r in rows], total, page)


@router.get(
    "/subsidy-budgets/{budget_id}/entries",
    response_model=BudgetEntryPage,
    summary="预算台账: 下达、预留、释放、拨付, 合计等于预算余额",
    responses=problem_responses(*AUTH_ERRORS, errors.BudgetAdminsOnly, errors.BudgetNotFound),
)
async def list_subsidy_budget_entries(
    budget_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> BudgetEntryPage:
    desk = BudgetDesk(session)
    row = await desk.get(principal, budget_id)
    entries, total = await desk.entries(principal, budget_id, page.offset, page.limit)
    return BudgetEntryPage.of([_entry(e, row.region_code) for e in entries], total, page)


@router.post(
    "/subsidy-budgets/allocations",
    response_model=BudgetRead,
    summary="下达或调减年度预算 (科技厅; 同一文件编号只记账一次)",
    responses=problem_responses(*AUTH_ERRORS, errors.PlatformAdminOnly, errors.BudgetCutTooDeep),
)
async def allocate_subsidy_budget(data: AllocationIn, principal: CurrentPrincipal, session: SessionDep) -> BudgetRead:
    amount = yuan_to_fen(data.amount)
    row = await BudgetDesk(session).allocate(
        principal,
        region_code=data.region_code,
        year=data.year,
        instrument=data.instrument.value,
        amount_fen=-amount if data.reduce else amount,
        reference=data.reference,
        source=data.source,
    )
    return _budget(row)


# --- claims --------------------------------------------------------------------------------------


@router.post(
    "/subsidy-claims",
    response_model=ClaimRead,
    status_code=201,
    summary="申请单位选择已登记、已付清的合同, 按规则生成后补助申请 (草稿)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.NotTheApplicant,
        ContractNotFound,
        errors.ContractNotClaimable,
        errors.ContractAlreadyClaimed,
        errors.NoRuleInForce,
        errors.ApplicantYearCapReached,
    ),
)
async def create_subsidy_claim(data: ClaimCreate, principal: CurrentPrincipal, session: SessionDep) -> ClaimRead:
    service = ClaimService(session)
    claim = await service.create(principal, data.contract_ids, data.payee_name, data.payee_account)
    return await _detail(service, claim)


@router.get(
    "/subsidy-claims",
    response_model=ClaimPage,
    summary="后补助申请 (单位: 本单位; 盟市管理员: 本盟市; 科技厅: 全部)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_subsidy_claims(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    status: ClaimStatus | None = None,
    year: int | None = None,
) -> ClaimPage:
    claims, total = await ClaimService(session).page(
        principal, status=status, year=year, offset=page.offset, limit=page.limit
    )
    return ClaimPage.of([_claim(c) for c in claims], total, page)


@router.get(
    "/subsidy-claims/{claim_id}",
    response_model=ClaimRead,
    responses=problem_responses(*AUTH_ERRORS, errors.ClaimNotFound),
)
async def get_subsidy_claim(claim_id: int, principal: CurrentPrincipal, session: SessionDep) -> ClaimRead:
    service = ClaimService(session)
    return await _detail(service, await service.get(principal, claim_id))


@router.get(
    "/subsidy-claims/{claim_id}/history",
    response_model=ClaimEventPage,
    summary="申请的状态历史 (提交、审核、驳回、核定、拨付)",
    responses=problem_responses(*AUTH_ERRORS, errors.ClaimNotFound),
)
async def list_subsidy_claim_history(
    claim_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> ClaimEventPage:
    service = ClaimService(session)
    claim = await service.get(principal, claim_id)
    events, total = await service.repository.history(claim.id or 0, page.offset, page.limit)
    return ClaimEventPage.of([_event(e, claim) for e in events], total, page)


@router.post(
    "/subsidy-claims/{claim_id}/submit",
    response_model=ClaimRead,
    summary="提交申请, 进入盟市审核",
    responses=problem_responses(*CLAIM_ERRORS, errors.NotTheApplicant),
)
async def submit_subsidy_claim(claim_id: int, principal: CurrentPrincipal, session: SessionDep) -> ClaimRead:
    service = ClaimService(session)
    return await _detail(service, await service.submit(principal, claim_id))


@router.post(
    "/subsidy-claims/{claim_id}/withdraw",
    response_model=ClaimRead,
    summary="撤回申请 (核定前), 合同可再次申报",
    responses=problem_responses(*CLAIM_ERRORS, errors.NotTheApplicant),
)
async def withdraw_subsidy_claim(
    claim_id: int, data: ReasonIn, principal: CurrentPrincipal, session: SessionDep
) -> ClaimRead:
    service = ClaimService(session)
    return await _detail(service, await service.withdraw(principal, claim_id, data.reason))


def _require_reason(decision: str, reason: str | None) -> None:
    if decision == "refuse" and not (reason and reason.strip()):
        raise ValidationFailed.on_field("body.reason", "reason_required", "驳回须说明理由")


@router.post(
    "/subsidy-claims/{claim_id}/region-review",
    response_model=ClaimRead,
    summary="盟市审核: 推荐 (可核减金额) 或驳回",
    responses=problem_responses(*CLAIM_ERRORS, errors.NotTheReviewer, errors.ApprovedAboveClaimed),
)
async def review_subsidy_claim(
    claim_id: int, data: RegionReviewIn, principal: CurrentPrincipal, session: SessionDep
) -> ClaimRead:
    _require_reason(data.decision, data.reason)
    amount = None if data.amount is None else yuan_to_fen(data.amount)
    service = ClaimService(session)
    claim = await service.region_review(
        principal, claim_id, approve=data.decision == "approve", amount_fen=amount, reason=data.reason
    )
    return await _detail(service, claim)


@router.post(
    "/subsidy-claims/{claim_id}/approve",
    response_model=ClaimRead,
    summary="科技厅核定 (可核减), 同时在预算中预留; 预算不足则不核定",
    responses=problem_responses(
        *CLAIM_ERRORS,
        errors.PlatformAdminOnly,
        errors.ApprovedAboveClaimed,
        errors.ApplicantYearCapReached,
        errors.BudgetExceeded,
        errors.BudgetNotConfigured,
    ),
)
async def approve_subsidy_claim(
    claim_id: int, data: ApproveIn, principal: CurrentPrincipal, session: SessionDep
) -> ClaimRead:
    amount = None if data.amount is None else yuan_to_fen(data.amount)
    service = ClaimService(session)
    return await _detail(service, await service.approve(principal, claim_id, amount, data.reason))


@router.post(
    "/subsidy-claims/{claim_id}/refuse",
    response_model=ClaimRead,
    summary="科技厅驳回 (拨付前); 已预留的预算释放, 合同可再次申报",
    responses=problem_responses(*CLAIM_ERRORS, errors.PlatformAdminOnly),
)
async def refuse_subsidy_claim(
    claim_id: int, data: ReasonIn, principal: CurrentPrincipal, session: SessionDep
) -> ClaimRead:
    _require_reason("refuse", data.reason)
    service = ClaimService(session)
    return await _detail(service, await service.refuse(principal, claim_id, data.reason))


@router.post(
    "/subsidy-claims/{claim_id}/disburse",
    response_model=ClaimRead,
    summary="拨付: 通过支付服务付款 (幂等), 结果由回调确认后记入预算台账",
    responses=problem_responses(
        *CLAIM_ERRORS, errors.PlatformAdminOnly, errors.PayoutUnavailable, errors.PayoutRejected
    ),
)
async def disburse_subsidy_claim(
    claim_id: int, principal: CurrentPrincipal, session: SessionDep, provider: ProviderDep
) -> ClaimRead:
    service = ClaimService(session, provider)
    return await _detail(service, await service.disburse(principal, claim_id))
