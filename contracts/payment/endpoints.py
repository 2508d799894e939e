"""Thin handlers: pay and refund a milestone, list payments, receive provider webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Request

from contracts import errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.deps import PaymentSettingsDep, ProviderDep
from contracts.payment.models import Payment
from contracts.payment.schemas import PaymentPage, PaymentRead, RefundIn, WebhookAck
from contracts.payment.service import PaymentService
from contracts.payment.signature import HEADER
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan, yuan_to_fen
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS

router = APIRouter(prefix="/api/v1", tags=["payments"])


def _read(payment: Payment) -> PaymentRead:
    return PaymentRead(
        id=payment.id or 0,
        contract_id=payment.contract_id,
        milestone_id=payment.milestone_id,
        amount=fen_to_yuan(payment.amount_fen),
        refunded=fen_to_yuan(payment.refunded_fen),
        status=payment.status,
        provider_intent_id=payment.provider_intent_id,
        created_at=payment.created_at,
        succeeded_at=payment.succeeded_at,
    )


@router.post(
    "/contracts/{contract_id}/milestones/{milestone_id}/pay",
    response_model=PaymentRead,
    summary="买方确认支付付款节点 (幂等: 重复请求不会重复扣款)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ContractNotFound,
        errors.MilestoneNotFound,
        errors.BuyerSideOnly,
        errors.PaymentNotAllowed,
        errors.TermsChanged,
        errors.ProviderUnavailableError,
        errors.ProviderRejectedError,
    ),
)
async def pay_milestone(
    contract_id: int, milestone_id: int, principal: CurrentPrincipal, session: SessionDep, provider: ProviderDep
) -> PaymentRead:
    payment = await PaymentService(session, provider).pay(principal, contract_id, milestone_id)
    return _read(payment).about(contract_subject(await ContractService(session).get(principal, contract_id)))


@router.post(
    "/contracts/{contract_id}/milestones/{milestone_id}/refund",
    response_model=PaymentRead,
    summary="退款 (卖方或平台管理员; 收益分配按比例冲回)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.ContractNotFound,
        errors.MilestoneNotFound,
        errors.NotAContractParty,
        errors.RefundNotAllowed,
        errors.ProviderUnavailableError,
        errors.ProviderRejectedError,
    ),
)
async def refund_milestone(
    contract_id: int,
    milestone_id: int,
    data: RefundIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    provider: ProviderDep,
) -> PaymentRead:
    amount = None if data.amount is None else yuan_to_fen(data.amount)
    payment = await PaymentService(session, provider).refund(principal, contract_id, milestone_id, amount)
    return _read(payment).about(contract_subject(await ContractService(session).get(principal, contract_id)))


@router.get(
    "/contracts/{contract_id}/payments",
    response_model=PaymentPage,
    responses=problem_responses(*AUTH_ERRORS, errors.ContractNotFound),
)
async def list_payments(
    contract_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> PaymentPage:
    contract = await ContractService(session).get(principal, contract_id)
    payments, total = await PaymentService(session).repository.of_contract(contract_id, page.offset, page.limit)
    subject = contract_subject(contract)
    return PaymentPage.of([_read(p).about(subject) for p in payments], total, page)


@router.post(
    "/payments/webhook",
    response_model=WebhookAck,
    summary="支付服务回调 (HMAC-SHA256 签名, 5 分钟窗口, 事件只接收一次)",
    responses=problem_responses(
        errors.WebhookSignatureInvalid,
        errors.WebhookTimestampOutsideWindow,
        errors.WebhookReplayed,
        errors.WebhookMalformed,
    ),
)
async def payment_webhook(request: Request, session: SessionDep, settings: PaymentSettingsDep) -> WebhookAck:
    body = await request.body()
    record = await PaymentService(session).receive_webhook(body, request.headers.get(HEADER), settings)
    return WebhookAck(received=True, event_id=record.event_id, result=record.result)
