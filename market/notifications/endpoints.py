"""Each user's notifications (in-app), with the state of their e-mail and webhook pushes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from core.deps import SessionDep
from core.errors import problem_responses
from core.pagination import Page, PageQuery
from core.visibility import Classified, Org, Public, Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.notifications.models import Channel, DeliveryStatus, NotificationDelivery, UserNotification
from market.notifications.service import NotificationInbox, UserNotificationNotFound

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class PushRead(Classified):
    model_config = ConfigDict(from_attributes=True)

    channel: Org[Channel] = Field(description="webhook: 本单位回调地址; email: 本人邮箱")
    delivery_status: Org[DeliveryStatus] = Field(description="pending 待发/重试中, delivered 已送达, failed 已放弃")
    delivery_attempts: Org[int]
    delivery_error: Org[str | None] = Field(description="最近一次失败的原因 (稳定的错误码开头)")
    delivered_at: Org[datetime | None]


class UserNotificationRead(Classified):
    """A user's own notification (only that user lists it)."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    type: Org[str] = Field(description="事件类型, 如 contract.registration_returned")
    event_id: Org[str] = Field(description="事件编号, 与回调推送的 Techmarket-Event-Id 相同")
    title: Org[str]
    body: Org[str]
    contract_id: Org[int | None]
    deal_id: Org[int | None]
    created_at: Org[datetime]
    read_at: Org[datetime | None]
    pushes: Org[list[PushRead]] = Field(default_factory=list, description="邮件与回调推送的状态")


class UserNotificationPage(Page[UserNotificationRead]):
    pass


def _read(row: UserNotification, pushes: list[NotificationDelivery]) -> UserNotificationRead:
    item = UserNotificationRead.model_validate(row)
    item.pushes = [PushRead.model_validate(push) for push in pushes]
    return item.about(Subject(owner=row.organization_id, user=row.user_id))


async def get_inbox(session: SessionDep) -> NotificationInbox:
    return NotificationInbox(session)


InboxDep = Annotated[NotificationInbox, Depends(get_inbox)]


@router.get(
    "/notifications/mine",
    response_model=UserNotificationPage,
    summary="我的通知 (洽谈留言、签署、登记结果、付款、收益分配)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def my_notifications(
    principal: CurrentPrincipal,
    inbox: InboxDep,
    page: PageQuery,
    unread: bool = False,
    delivery: Annotated[DeliveryStatus | None, Query(description="按推送状态筛选 (failed: 已放弃推送)")] = None,
) -> UserNotificationPage:
    rows, total = await inbox.page(
        principal.user.id or 0, unread=unread, delivery=delivery, offset=page.offset, limit=page.limit
    )
    pushes = await inbox.pushes(rows)
    return UserNotificationPage.of([_read(row, pushes.get(row.id or 0, [])) for row in rows], total, page)


@router.post(
    "/notifications/mine/{notification_id}/read",
    response_model=UserNotificationRead,
    summary="标为已读",
    responses=problem_responses(*AUTH_ERRORS, UserNotificationNotFound),
)
async def mark_mine_read(notification_id: int, principal: CurrentPrincipal, inbox: InboxDep) -> UserNotificationRead:
    row = await inbox.mark_read(principal.user.id or 0, notification_id)
    return _read(row, (await inbox.pushes([row])).get(row.id or 0, []))
