"""Thin handlers: pricing modes, 协议定价公示 and objections, 挂牌, 成交公示, 交易鉴证 and its public check.

Notices, listings, deal notices and the certificate check are public records, answered without login."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response

from contracts import errors as contract_errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.documents.errors import PdfFontMissing
from contracts.pricing import certificate_pdf, certificates, errors, rules
from contracts.pricing.listings import ListingService
from contracts.pricing.models import DEAL_MODE_ZH, DealNotice
from contracts.pricing.repository import PricingRepository
from contracts.pricing.schemas import (
    AcceptIn,
    CertificateCheck,
    CertificateRead,
    DealNoticePage,
    DealNoticeRead,
    ObjectionAnswer,
    ObjectionCreate,
    ObjectionPage,
    ObjectionRead,
    PriceListingCreate,
    PriceListingRead,
    PriceNoticeCreate,
    PriceNoticePage,
    PriceNoticeRead,
    PricingModeIn,
    PricingModeRead,
    PricingRulePage,
    PricingRuleRead,
    WithdrawIn,
)
from contracts.pricing.service import PricingService
from core.deps import SessionDep, SettingsDep
from core.errors import problem_responses
from core.money import fen_to_yuan
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OrganizationNotVerified, OtherOrganization
from market.listings.models import PricingMode

router = APIRouter(prefix="/api/v1", tags=["pricing"])
WRITE_ERRORS = (*AUTH_ERRORS, OtherOrganization, OrganizationNotVerified)


def _deal(notice: DealNotice) -> DealNoticeRead:
    return DealNoticeRead(
        id=notice.id or 0,
        achievement_id=notice.achievement_id,
        title=notice.title,
        mode=notice.mode,
        mode_label=DEAL_MODE_ZH[notice.mode],
        price=fen_to_yuan(notice.price_fen),
        seller_organization_id=notice.seller_organization_id,
        seller_name=notice.seller_name,
        buyer_organization_id=notice.buyer_organization_id,
        buyer_name=notice.buyer_name,
        deal_date=notice.deal_date,
    )


@router.get("/pricing/rules", response_model=PricingRulePage, summary="定价方式及其法律依据 (公开)")
async def list_pricing_rules(page: PageQuery) -> PricingRulePage:
    items = [
        PricingRuleRead(
            code=r.code,
            mode=PricingMode(r.mode),
            name=r.name,
            citation=r.citation,
            effective_from=r.effective_from,
            requirement=r.requirement,
            notice_days=r.notice_days,
        )
        for r in rules.RULES
    ]
    return PricingRulePage.window(items, page)


@router.put(
    "/achievements/{achievement_id}/pricing-mode",
    response_model=PricingModeRead,
    summary="设定成果的定价方式 (协议定价 / 挂牌 / 拍卖)",
    responses=problem_responses(
        *WRITE_ERRORS, contract_errors.ListingNotFound, errors.PricingOwnerOnly, errors.PricingModeLocked
    ),
)
async def set_pricing_mode(
    achievement_id: int, data: PricingModeIn, principal: CurrentPrincipal, session: SessionDep
) -> PricingModeRead:
    achievement = await PricingService(session).set_mode(principal, achievement_id, data.mode)
    return PricingModeRead(achievement_id=achievement.id or 0, pricing_mode=data.mode)


# --- 协议定价公示 -------------------------------------------------------------------------------


@router.post(
    "/price-notices",
    response_model=PriceNoticeRead,
    status_code=status.HTTP_201_CREATED,
    summary="发布协议定价公示 (成果名称、拟交易价格、受让方, 不少于15日)",
    responses=problem_responses(
        *WRITE_ERRORS,
        contract_errors.ListingNotFound,
        errors.PricingOwnerOnly,
        errors.AchievementNotPriceable,
        errors.PricingModeMismatch,
        errors.NoticePeriodTooShort,
        errors.TransfereeInvalid,
    ),
)
async def publish_price_notice(
    data: PriceNoticeCreate, principal: CurrentPrincipal, session: SessionDep
) -> PriceNoticeRead:
    service = PricingService(session)
    return (await service.read_notices([await service.publish_notice(principal, data)]))[0]


@router.get("/price-notices", response_model=PriceNoticePage, summary="协议定价公示 (公开, 新的在前)")
async def list_price_notices(
    session: SessionDep, page: PageQuery, achievement_id: Annotated[int | None, Query()] = None
) -> PriceNoticePage:
    service = PricingService(session)
    rows, total = await service.repository.notices(page.offset, page.limit, achievement_id)
    return PriceNoticePage.of(await service.read_notices(rows), total, page)


@router.get(
    "/price-notices/{notice_id}",
    response_model=PriceNoticeRead,
    summary="一则协议定价公示 (公开)",
    responses=problem_responses(errors.PriceNoticeNotFound),
)
async def read_price_notice(notice_id: int, session: SessionDep) -> PriceNoticeRead:
    service = PricingService(session)
    return (await service.read_notices([await service.notice(notice_id)]))[0]


@router.post(
    "/price-notices/{notice_id}/withdraw",
    response_model=PriceNoticeRead,
    summary="公示单位撤回公示 (此后不能据以签订合同)",
    responses=problem_responses(*WRITE_ERRORS, errors.PriceNoticeNotFound, errors.PricingOwnerOnly),
)
async def withdraw_price_notice(
    notice_id: int, data: WithdrawIn, principal: CurrentPrincipal, session: SessionDep
) -> PriceNoticeRead:
    service = PricingService(session)
    return (await service.read_notices([await service.withdraw(principal, notice_id, data.reason)]))[0]


@router.post(
    "/price-notices/{notice_id}/objections",
    response_model=ObjectionRead,
    status_code=status.HTTP_201_CREATED,
    summary="对协议定价公示提出异议 (登录用户, 公示期内)",
    responses=problem_responses(*AUTH_ERRORS, errors.PriceNoticeNotFound, errors.ObjectionWindowClosed),
)
async def file_objection(
    notice_id: int, data: ObjectionCreate, principal: CurrentPrincipal, session: SessionDep
) -> ObjectionRead:
    service = PricingService(session)
    return (await service.read_objections([await service.object_to(principal, notice_id, data.reasons)]))[0]


@router.get(
    "/price-notices/{notice_id}/objections",
    response_model=ObjectionPage,
    summary="公示的异议 (理由与答复仅异议人、公示单位及其管理员可见)",
    responses=problem_responses(*AUTH_ERRORS, errors.PriceNoticeNotFound),
)
async def list_objections(
    notice_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> ObjectionPage:
    service = PricingService(session)
    _, rows, total = await service.objections(notice_id, page.offset, page.limit)
    return ObjectionPage.of(await service.read_objections(rows), total, page)


@router.post(
    "/price-notices/{notice_id}/objections/{objection_id}/answer",
    response_model=ObjectionRead,
    summary="公示单位答复异议",
    responses=problem_responses(
        *WRITE_ERRORS,
        errors.PriceNoticeNotFound,
        errors.PricingOwnerOnly,
        errors.ObjectionNotFound,
        errors.ObjectionAlreadyAnswered,
    ),
)
async def answer_objection(
    notice_id: int, objection_id: int, data: ObjectionAnswer, principal: CurrentPrincipal, session: SessionDep
) -> ObjectionRead:
    service = PricingService(session)
    row = await service.answer(principal, notice_id, objection_id, data.answer)
    return (await service.read_objections([row]))[0]


@router.get(
    "/admin/price-objections",
    response_model=ObjectionPage,
    summary="待答复的异议 (平台管理员全部, 盟市管理员本辖区公示单位的)",
    responses=problem_responses(*AUTH_ERRORS, errors.PricingOwnerOnly),
)
async def list_open_objections(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> ObjectionPage:
    service = PricingService(session)
    rows, total = await service.open_objections(principal, page.offset, page.limit)
    return ObjectionPage.of(await service.read_objections(rows), total, page)


# --- 挂牌 -----------------------------------------------------------------------------------------


@router.post(
    "/price-listings",
    response_model=PriceListingRead,
    status_code=status.HTTP_201_CREATED,
    summary="挂牌 (首个接受者成交, 或挂牌期内竞价)",
    responses=problem_responses(
        *WRITE_ERRORS,
        contract_errors.ListingNotFound,
        errors.PricingOwnerOnly,
        errors.AchievementNotPriceable,
        errors.PricingModeMismatch,
        errors.PricingModeLocked,
        errors.BidBelowListedPrice,
    ),
)
async def open_price_listing(
    data: PriceListingCreate, principal: CurrentPrincipal, session: SessionDep
) -> PriceListingRead:
    service = ListingService(session)
    return await service.read(await service.open(principal, data))


@router.get(
    "/price-listings/{listing_id}",
    response_model=PriceListingRead,
    summary="一则挂牌 (公开)",
    responses=problem_responses(errors.PriceListingNotFound),
)
async def read_price_listing(listing_id: int, session: SessionDep) -> PriceListingRead:
    service = ListingService(session)
    return await service.read(await service.get(listing_id))


@router.post(
    "/price-listings/{listing_id}/accept",
    response_model=PriceListingRead,
    summary="接受挂牌价 (竞价挂牌可出更高价)",
    responses=problem_responses(
        *WRITE_ERRORS,
        errors.PriceListingNotFound,
        errors.OwnPriceListing,
        errors.PriceListingClosed,
        errors.BidBelowListedPrice,
    ),
)
async def accept_price_listing(
    listing_id: int, principal: CurrentPrincipal, session: SessionDep, data: AcceptIn | None = None
) -> PriceListingRead:
    service = ListingService(session)
    return await service.read(await service.accept(principal, listing_id, data or AcceptIn()))


@router.post(
    "/price-listings/{listing_id}/award",
    response_model=PriceListingRead,
    summary="竞价挂牌期满后由挂牌单位确定最高出价者成交",
    responses=problem_responses(
        *WRITE_ERRORS,
        errors.PriceListingNotFound,
        errors.PricingOwnerOnly,
        errors.PriceListingClosed,
        errors.PriceListingStillOpen,
    ),
)
async def award_price_listing(listing_id: int, principal: CurrentPrincipal, session: SessionDep) -> PriceListingRead:
    service = ListingService(session)
    return await service.read(await service.award(principal, listing_id))


# --- 成交公示, 交易鉴证 -----------------------------------------------------------------------------


@router.get("/deal-notices", response_model=DealNoticePage, summary="成交公示 (公开, 新的在前)")
async def list_deal_notices(
    session: SessionDep, page: PageQuery, achievement_id: Annotated[int | None, Query()] = None
) -> DealNoticePage:
    rows, total = await PricingRepository(session).deal_notices(page.offset, page.limit, achievement_id)
    return DealNoticePage.of([_deal(n) for n in rows], total, page)


@router.get(
    "/contracts/{contract_id}/certificate",
    response_model=CertificateRead,
    summary="合同的交易鉴证 (当事方与管理员)",
    responses=problem_responses(*AUTH_ERRORS, contract_errors.ContractNotFound, errors.CertificateNotFound),
)
async def read_certificate(contract_id: int, principal: CurrentPrincipal, session: SessionDep) -> CertificateRead:
    contract = await ContractService(session).get(principal, contract_id)
    row = await PricingRepository(session).certificate_of_contract(contract.id or 0)
    if row is None:
        raise errors.CertificateNotFound()
    read = CertificateRead(
        number=row.number,
        contract_id=row.contract_id,
        mode=row.mode,
        terms_digest=row.terms_digest,
        issued_on=row.issued_on,
    )
    return read.about(contract_subject(contract))


@router.get(
    "/contracts/{contract_id}/certificate.pdf",
    summary="下载交易鉴证 (PDF; 合同当事方和卖方所在地的管理员)",
    response_class=Response,
    responses={
        **problem_responses(
            *AUTH_ERRORS,
            contract_errors.ContractNotFound,
            errors.CertificatePdfNotEntitled,
            errors.CertificateNotIssued,
            PdfFontMissing,
        ),
        200: {"content": {"application/pdf": {}}, "description": "交易鉴证 (A4, 内嵌中文字体)"},
    },
)
async def certificate_pdf_download(
    contract_id: int, request: Request, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    number, pdf = await certificate_pdf.certificate_pdf(
        session, settings, principal, contract_id, str(request.base_url)
    )
    chinese = quote(f"交易鉴证-{number}.pdf")
    disposition = f"attachment; filename=\"certificate-{number}.pdf\"; filename*=UTF-8''{chinese}"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.get(
    "/certificates/{number}",
    response_model=CertificateCheck,
    summary="核验交易鉴证编号真伪 (公开; 给出 digest 时核对条款摘要)",
)
async def verify_certificate(
    number: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    digest: Annotated[str | None, Query(max_length=128, description="合同条款摘要 (SHA-256, 十六进制)")] = None,
) -> CertificateCheck:
    return await certificates.verify(session, number, digest)
