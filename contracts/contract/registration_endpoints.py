"""Thin handlers for 认定登记: the seller asks and resubmits; the registrar reviews, decides, and works a queue."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from contracts import errors
from contracts.contract.registration import RegistrationService
from contracts.contract.registration_certificate import CertificateService
from contracts.contract.registration_models import RegistrationStatus
from contracts.contract.registration_schemas import (
    IncomeApproval,
    Reclassification,
    RegistrationQueue,
    RegistrationRefusal,
    RegistrationRequestIn,
    RegistrationResubmission,
    RegistrationReturn,
    RegistrationVerification,
)
from contracts.contract.schemas import ContractRead, RegistrationIn
from contracts.contract.service import ContractService
from contracts.documents.errors import PdfFontMissing
from contracts.statistics.errors import UnknownRegion
from core.deps import SessionDep, SettingsDep
from core.errors import problem_responses
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])
queue_router = APIRouter(prefix="/api/v1/registrations", tags=["contracts"])

SELLER_ERRORS = (*AUTH_ERRORS, errors.ContractNotFound, errors.SellerSideOnly, errors.InvalidContractTransition)
REGISTRAR_ERRORS = (*AUTH_ERRORS, errors.ContractNotFound, errors.NotCompetentRegistrar)


@router.post(
    "/{contract_id}/registration-request",
    response_model=ContractRead,
    summary="卖方申请认定登记 (须先以合同附件上传合同文本等申请材料; 再次申请: 条款经双方重新签署后作为新一轮提交)",
    responses=problem_responses(
        *SELLER_ERRORS,
        errors.TermsChanged,
        errors.RegistrationReturned,
        errors.RegistrationRefused,
        errors.RegistrationMaterialsMissing,
    ),
)
async def request_registration(
    contract_id: int, principal: CurrentPrincipal, session: SessionDep, data: RegistrationRequestIn | None = None
) -> ContractRead:
    contract = await RegistrationService(session).request(principal, contract_id, data.note if data else None)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/registration/resubmit",
    response_model=ContractRead,
    summary="卖方按补正意见修改后重新提交 (开始新一轮审查, 此前各轮保留)",
    responses=problem_responses(
        *SELLER_ERRORS,
        errors.TermsChanged,
        errors.RegistrationNotRequested,
        errors.RegistrationClosed,
        errors.RegistrationNotReturned,
        errors.RegistrationMaterialsMissing,
    ),
)
async def resubmit_registration(
    contract_id: int, data: RegistrationResubmission, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).resubmit(principal, contract_id, data.note)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/registration/return",
    response_model=ContractRead,
    summary="登记机构退回补正 (逐项写明须补正的条款或材料及理由)",
    responses=problem_responses(
        *REGISTRAR_ERRORS,
        errors.RegistrationNotRequested,
        errors.RegistrationClosed,
        errors.RegistrationNotPending,
        errors.InvalidCorrection,
        errors.ReasonNotChinese,
    ),
)
async def return_registration(
    contract_id: int, data: RegistrationReturn, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).return_for_correction(principal, contract_id, data)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/registration/refuse",
    response_model=ContractRead,
    summary="不予登记 (附理由; 本次申请终结, 合同仍然有效但不计入统计)",
    responses=problem_responses(
        *REGISTRAR_ERRORS, errors.RegistrationNotRequested, errors.RegistrationClosed, errors.ReasonNotChinese
    ),
)
async def refuse_registration(
    contract_id: int, data: RegistrationRefusal, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).refuse(principal, contract_id, data)
    return await ContractService(session).read(contract)


@router.put(
    "/{contract_id}/registration/classification",
    response_model=ContractRead,
    summary="认定合同类型 (登记时适用; 已登记的更正后重新出具登记)",
    responses=problem_responses(
        *REGISTRAR_ERRORS,
        errors.RegistrationNotRequested,
        errors.RegistrationClosed,
        errors.SubtypeMismatch,
        errors.RewardNotApplicable,
        errors.ReasonNotChinese,
        errors.AmountsLocked,
    ),
)
async def reclassify_contract(
    contract_id: int, data: Reclassification, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).reclassify(principal, contract_id, data)
    return await ContractService(session).read(contract)


@router.put(
    "/{contract_id}/registration/income",
    response_model=ContractRead,
    summary="核定技术交易额 (不超过合同成交额; 登记后统计计入核定额)",
    responses=problem_responses(
        *REGISTRAR_ERRORS,
        errors.RegistrationNotRequested,
        errors.RegistrationClosed,
        errors.InvalidAmounts,
        errors.ReasonNotChinese,
        errors.AmountsLocked,
    ),
)
async def approve_income(
    contract_id: int, data: IncomeApproval, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).approve_income(principal, contract_id, data)
    return await ContractService(session).read(contract)


@router.post(
    "/{contract_id}/register",
    response_model=ContractRead,
    summary="认定登记 (卖方所在地盟市管理员或平台管理员; 生成 16 位登记编号, 按地区和年度连续编号)",
    responses=problem_responses(
        *REGISTRAR_ERRORS,
        errors.InvalidContractTransition,
        errors.RegistrationNotRequested,
        errors.RegistrationNotPending,
        errors.RegistrationClosed,
        errors.InvalidAmounts,
        errors.TermsChanged,
        errors.RegistrationSerialExhausted,
    ),
)
async def register_contract(
    contract_id: int, data: RegistrationIn, principal: CurrentPrincipal, session: SessionDep
) -> ContractRead:
    contract = await RegistrationService(session).register(principal, contract_id, data)
    return await ContractService(session).read(contract)


@queue_router.get(
    "",
    response_model=RegistrationQueue,
    summary="认定登记申请队列 (登记机构: 盟市管理员见本辖区卖方的申请, 平台管理员见全部)",
    responses=problem_responses(
        *AUTH_ERRORS, errors.RegistrarOnly, errors.RegistrarRegionOutOfScope, UnknownRegion, errors.InvalidQueueFilter
    ),
)
async def registration_queue(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    status: RegistrationStatus | None = None,
    region: Annotated[str | None, Query(max_length=6, description="卖方所在地 (GB/T 2260), 默认本辖区")] = None,
    min_age_days: Annotated[int | None, Query(ge=0, le=3650, description="本轮提交至今至少的天数")] = None,
    max_age_days: Annotated[int | None, Query(ge=0, le=3650, description="本轮提交至今至多的天数")] = None,
) -> RegistrationQueue:
    items, total, counts = await RegistrationService(session).queue(
        principal, page, status=status, region=region, min_age_days=min_age_days, max_age_days=max_age_days
    )
    return RegistrationQueue.of(items, total, page, counts=counts)


@router.get(
    "/{contract_id}/registration/certificate.pdf",
    summary="下载技术合同登记证明 (PDF; 合同当事方和卖方所在地的登记机构)",
    response_class=Response,
    responses={
        **problem_responses(
            *AUTH_ERRORS,
            errors.ContractNotFound,
            errors.CertificateNotEntitled,
            errors.NotRegistered,
            PdfFontMissing,
        ),
        200: {"content": {"application/pdf": {}}, "description": "登记证明 (A4, 内嵌中文字体)"},
    },
)
async def registration_certificate(
    contract_id: int, request: Request, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    number, pdf = await CertificateService(session, settings).certificate(principal, contract_id, str(request.base_url))
    chinese = quote(f"登记证明-{number}.pdf")
    disposition = f"attachment; filename=\"registration-{number}.pdf\"; filename*=UTF-8''{chinese}"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@queue_router.get(
    "/verify/{number}",
    response_model=RegistrationVerification,
    summary="核验登记编号 (公开; 附证明上的核验码时显示证明所载内容)",
    responses=problem_responses(errors.RegistrationUnknown),
)
async def verify_registration(
    session: SessionDep,
    settings: SettingsDep,
    number: Annotated[str, Path(pattern=r"^\d{16}$", description="16 位登记编号")],
    code: Annotated[str | None, Query(max_length=32, description="证明上的核验码")] = None,
) -> RegistrationVerification:
    return await CertificateService(session, settings).verify(number, code)
