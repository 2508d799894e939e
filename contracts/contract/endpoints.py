"""Thin handlers for technology contracts: create, sign, correct, move on (认定登记: ``registration_endpoints``)."""

from __future__ import annotations

from fastapi import APIRouter, status

from contracts import errors
from contracts.contract.completion import CompletionService
from contracts.contract.schemas import (
    AmountsCorrection,
    AuditPage,
    AuditRead,
    CompletionObjection,
    ContractCreate,
    ContractPage,
    ContractRead,
    SignIn,
    TransitionIn,
    contract_subject,
)
from contracts.contract.service import ContractService
from contracts.pricing import errors as pricing_errors
from core.deps import SessionDep
from core.errors import problem_responses
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OrganizationNotVerified, OtherOrganization

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])


@router.post(
    "",
    response_model=ContractRead,
    status_code=status.HTTP_201_CREATED,
    summary="起草技术合同 (可由意向转入)",
    responses=problem_responses(
        *AUTH_ERRORS,
        OtherOrganization,
        OrganizationNotVerified,
        errors.DealNotFound,
        errors.DealClosed,
        errors.NotAContractParty,
        errors.InvalidAmounts,
        errors.RewardRateBelowFloor,
        errors.PartiesRequired,
        errors.SameOrganization,
        errors.PartyNotFound,
        errors.PartyNotVerified,
        errors.SubtypeMismatch,
        errors.AchievementNotSeller,
        errors.TermEndBeforeStart,
        errors.DeductionNotPositive,
        errors.DeductionsExceedIncome,
        errors.RewardNotApplicable,
        errors.InventorsRequired,
        errors.InventorWeightNotPositive,
    ),
)
async def create_contract(data: ContractCreate, principal: CurrentPrincipal, session: SessionDep) -> ContractRead:
    service = ContractService(session)
    return await service.read(await service.create(principal, data))


@router.get(
    "",
    response_model=ContractPage,
    summary="可见的合同 (当事方; 管理员见辖区)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_contracts(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
) -> ContractPage:
    service = ContractService(session)
    items, total = await service.list(principal, page.offset, page.limit)
    return ContractPage.of([await service.read(c) for c in items], total, page)


@router.get(
    "/{contract_id}", response_model=ContractRead, responses=problem_responses(*AUTH_ERRORS, errors.ContractNotFound)
)
async def get_contract(contract_id: int, principal: CurrentPrincipal, session: SessionDep) -> ContractRead:
    service = ContractService(session)
    return await service.read(await service.get(principal, contract_id))


@router.post(
    "/{contract_id}/sign",
    response_model=ContractRead,
    summary="当事方签署当前条款 (双方签署同一条款后合同为 signed; 条款改动使此前的签署作废)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ContractNotFound,
        errors.NotAContractParty,
        errors.InvalidContractTransition,
        errors.TermsChanged,
        pricing_errors.AgreedPriceNoticeRequired,
        pricing_errors.AgreedPriceNoticeRunning,
        pricing_errors.AgreedPriceObjectionOpen,
        pricing_errors.PriceNotDiscovered,
    ),
)
async def sign_contract(
    contract_id: int, principal: CurrentPrincipal, session: SessionDep, data: SignIn | None = None
) -> ContractRead:
    service = ContractService(session)
    return await service.read(await service.sign(principal, contract_id, data.terms_digest if data else None))


@router.patch(
    "/{contract_id}/amounts",
    response_model=ContractRead,
    summary="更正金额 (登记前: 当事方或登记机构, 双方须重新签署; 登记后: 仅登记机构, 重新出具登记; 均留审计记录)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ContractNotFound,
        errors.NotAContractParty,
        errors.AmountsLocked,
        errors.InvalidAmounts,
        errors.DeductionsExceedIncome,
        errors.MilestonePaymentStarted,
    ),
)
async def correct_amounts(
    contract_id: int, data: AmountsCorrection, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    service = ContractService(session)
    return await service.read(await service.correct_amounts(principal, contract_id, data))


@router.post(
    "/{contract_id}/transitions",
    response_model=ContractRead,
    summary="变更状态 (performing / terminated; 即合同的 allowed_transitions)",
    responses=problem_responses(
        *AUTH_ERRORS, errors.ContractNotFound, errors.NotAContractParty, errors.InvalidContractTransition
    ),
)
async def transition_contract(
    contract_id: int, data: TransitionIn, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    service = ContractService(session)
    return await service.read(await service.transition(principal, contract_id, data.to, data.reason))


COMPLETION_ERRORS = (*AUTH_ERRORS, errors.ContractNotFound, errors.InvalidContractTransition)


@router.post(
    "/{contract_id}/completion/claim",
    response_model=ContractRead,
    summary="卖方声明履行完毕 (各付款节点均已付款; 买方须在规定天数内确认或提出异议)",
    responses=problem_responses(
        *COMPLETION_ERRORS, errors.CompletionSellerOnly, errors.CompletionAlreadyClaimed, errors.MilestonesUnpaid
    ),
)
async def claim_completion(contract_id: int, principal: CurrentPrincipal, session: SessionDep) -> ContractRead:
    contract = await CompletionService(session).claim(principal, contract_id)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/completion/confirm",
    response_model=ContractRead,
    summary="买方确认履行完毕, 合同完成 (买方逾期未确认也未提出异议的, 卖方确认)",
    responses=problem_responses(
        *COMPLETION_ERRORS, errors.CompletionBuyerOnly, errors.CompletionNotClaimed, errors.CompletionWindowOpen
    ),
)
async def confirm_completion(contract_id: int, principal: CurrentPrincipal, session: SessionDep) -> ContractRead:
    contract = await CompletionService(session).confirm(principal, contract_id)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/completion/objection",
    response_model=ContractRead,
    summary="买方在期限内提出异议 (附理由): 声明撤回, 合同继续履行",
    responses=problem_responses(
        *COMPLETION_ERRORS, errors.CompletionBuyerOnly, errors.CompletionNotClaimed, errors.CompletionWindowClosed
    ),
)
async def object_to_completion(
    contract_id: int, data: CompletionObjection, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await CompletionService(session).object_to(principal, contract_id, data.reason)
    return await ContractService(session).read(contract)


@router.get(
    "/{contract_id}/audit",
    response_model=AuditPage,
    summary="合同审计记录",
    responses=problem_responses(*AUTH_ERRORS, errors.ContractNotFound),
)
async def contract_audit(
    contract_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> AuditPage:
    service = ContractService(session)
    contract = await service.get(principal, contract_id)
    entries, total = await service.repository.audit(contract_id, page.offset, page.limit)
    subject = contract_subject(contract)
    return AuditPage.of([AuditRead.model_validate(e).about(subject) for e in entries], total, page)
