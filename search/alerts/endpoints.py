"""Subscriptions, notifications (read/unread) and the organization's webhook."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from core.deps import SessionDep
from core.egress import EgressPolicy
from core.errors import problem_responses
from core.pagination import PageQuery
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import NotOrganizationAdmin, OtherOrganization
from search.alerts.models import DeliveryStatus
from search.alerts.repository import AlertRepository
from search.alerts.schemas import (
    NotificationPage,
    NotificationRead,
    SubscriptionCreate,
    SubscriptionPage,
    SubscriptionRead,
    WebhookRead,
    WebhookSet,
)
from search.alerts.service import (
    AlertService,
    InvalidWebhookUrl,
    NotificationNotFound,
    NotOwnListing,
    SubscriptionNotFound,
)

router = APIRouter(prefix="/api/v1", tags=["alerts"])


async def get_alert_service(session: SessionDep) -> AlertService:
    return AlertService(AlertRepository(session))


AlertServiceDep = Annotated[AlertService, Depends(get_alert_service)]


@router.post(
    "/subscriptions",
    response_model=SubscriptionRead,
    status_code=status.HTTP_201_CREATED,
    summary="订阅匹配提醒",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization, NotOwnListing),
)
async def subscribe(
    data: SubscriptionCreate, principal: CurrentPrincipal, service: AlertServiceDep
) -> SubscriptionRead:
    row = await service.subscribe(principal, data)
    return SubscriptionRead.model_validate(row).about(Subject(owner=row.organization_id))


@router.get(
    "/subscriptions",
    response_model=SubscriptionPage,
    summary="本单位的订阅",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization),
)
async def subscriptions(principal: CurrentPrincipal, service: AlertServiceDep, page: PageQuery) -> SubscriptionPage:
    rows, total = await service.subscriptions(principal, page.offset, page.limit)
    items = [SubscriptionRead.model_validate(r).about(Subject(owner=r.organization_id)) for r in rows]
    return SubscriptionPage.of(items, total, page)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="取消订阅",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization, SubscriptionNotFound),
)
async def unsubscribe(subscription_id: int, principal: CurrentPrincipal, service: AlertServiceDep) -> None:
    await service.unsubscribe(principal, subscription_id)


@router.get(
    "/notifications",
    response_model=NotificationPage,
    summary="匹配提醒",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization),
)
async def notifications(
    principal: CurrentPrincipal,
    service: AlertServiceDep,
    page: PageQuery,
    unread: bool = False,
    delivery: Annotated[DeliveryStatus | None, Query(description="按推送状态筛选 (failed: 已放弃推送)")] = None,
) -> NotificationPage:
    rows, total = await service.notifications(
        principal, unread=unread, delivery=delivery, offset=page.offset, limit=page.limit
    )
    items = [NotificationRead.model_validate(r).about(Subject(owner=r.organization_id)) for r in rows]
    return NotificationPage.of(items, total, page)


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationRead,
    summary="标为已读",
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization, NotificationNotFound),
)
async def mark_read(notification_id: int, principal: CurrentPrincipal, service: AlertServiceDep) -> NotificationRead:
    row = await service.mark_read(principal, notification_id)
    return NotificationRead.model_validate(row).about(Subject(owner=row.organization_id))


@router.put(
    "/organizations/{organization_id}/webhook",
    response_model=WebhookRead,
    summary="设置提醒回调地址 (返回签名密钥, 只显示一次)",
    description=(
        "回调地址须为 https 公网地址 (端口 443, 或运维允许的端口), 不能含用户名/密码, "
        "不能是内部主机名或数字形式的主机名, "
        "不能指向回环、私有、链路本地、CGNAT、组播、保留或未指定地址; 每次推送时重新解析域名并只连接检查过的地址, "
        "不跟随重定向。推送失败按通知重试, 最后一次失败后放弃, 状态见 `GET /notifications` 的 `delivery_status`。"
    ),
    responses=problem_responses(*AUTH_ERRORS, OtherOrganization, NotOrganizationAdmin, InvalidWebhookUrl),
)
async def set_webhook(
    organization_id: int, data: WebhookSet, request: Request, principal: CurrentPrincipal, service: AlertServiceDep
) -> WebhookRead:
    policy = EgressPolicy.from_settings(request.app.state.settings)
    endpoint, secret = await service.set_webhook(principal, organization_id, data.url, request.url.netloc, policy)
    return WebhookRead(url=endpoint.url, secret=secret, created_at=endpoint.created_at).about(
        Subject(owner=organization_id)
    )
