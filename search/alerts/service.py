"""Subscriptions, notifications and webhook settings; scoring a new listing against subscriptions."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from core import outbox
from core.egress import EgressPolicy, EgressRefused, check_url
from core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from market.identity.errors import NotOrganizationAdmin, OtherOrganization
from market.identity.models import Role
from market.identity.service import Principal
from market.listings.kinds import KINDS
from market.listings.models import Achievement, Demand
from market.listings.repository import ListingRepository
from market.listings.service import PUBLISHED_TOPIC
from market.notifications.models import WEBHOOK_TOPIC
from search.alerts.models import DeliveryStatus, ListingKindName, Notification, Subscription, WebhookEndpoint
from search.alerts.repository import AlertRepository
from search.alerts.schemas import SubscriptionCreate
from search.matching.features import matched_terms, profile
from search.matching.ranking import pair, text_similarity
from search.matching.scoring import Match
from search.matching.service import field_names, profile_of, side_of

ALERT_TOPIC = PUBLISHED_TOPIC
OPPOSITE = {ListingKindName.achievement: ListingKindName.demand, ListingKindName.demand: ListingKindName.achievement}


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"
    message = "订阅不存在"


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "通知不存在"


class NotOwnListing(Forbidden):
    code = "not_own_listing"
    message = "只能用本单位的成果或需求订阅"


class InvalidWebhookUrl(ValidationFailed):
    """Field codes: ``invalid_webhook_url`` (malformed, or not http(s)), ``webhook_https_required``,
    ``webhook_userinfo_not_allowed``, ``webhook_port_not_allowed``, ``webhook_host_not_allowed``
    (internal or numeric-looking names), ``webhook_address_not_allowed`` (an address, or what the
    name resolves to, outside the public unicast ranges), ``webhook_points_to_platform``."""

    code = "invalid_webhook_url"
    message = "回调地址无效"

    @classmethod
    def refused(cls, refusal: EgressRefused) -> InvalidWebhookUrl:
        code = "invalid_webhook_url" if refusal.code == "invalid_url" else f"webhook_{refusal.code}"
        return cls(errors=[FieldError(field="body.url", code=code, message=f"回调地址无效: {refusal.message}")])


def _organization_id(principal: Principal) -> int:
    if principal.organization is None or principal.organization.id is None:
        raise OtherOrganization("订阅与通知属于单位, 管理员账号没有")
    return principal.organization.id


class AlertService:
    def __init__(self, repository: AlertRepository) -> None:
        self.repository = repository
        self.listings = ListingRepository(repository.session)

    async def subscribe(self, principal: Principal, data: SubscriptionCreate) -> Subscription:
        organization_id = _organization_id(principal)
        if data.listing_kind is not None:
            row = await self.listings.get(KINDS[data.listing_kind.value].model, data.listing_id or 0)
            if row is None or row.owner_id != organization_id:
                raise NotOwnListing()
            target = OPPOSITE[data.listing_kind]
        else:
            target = data.target_kind or ListingKindName.achievement
        subscription = Subscription(
            organization_id=organization_id,
            created_by=principal.user.id,
            source_kind=data.listing_kind,
            source_id=data.listing_id,
            query=data.query,
            target_kind=target,
            threshold=data.threshold,
        )
        await self.repository.add(subscription)
        return subscription

    async def subscriptions(self, principal: Principal, offset: int, limit: int) -> tuple[list[Subscription], int]:
        return await self.repository.subscriptions_of(_organization_id(principal), offset, limit)

    async def unsubscribe(self, principal: Principal, subscription_id: int) -> None:
        subscription = await self.repository.subscription(subscription_id)
        if subscription is None or subscription.organization_id != _organization_id(principal):
            raise SubscriptionNotFound()
        subscription.active = False
        await self.repository.add(subscription)

    async def notifications(
        self, principal: Principal, *, unread: bool, delivery: DeliveryStatus | None = None, offset: int, limit: int
    ) -> tuple[Sequence[Notification], int]:
        return await self.repository.notifications(
            _organization_id(principal), unread=unread, delivery=delivery, offset=offset, limit=limit
        )

    async def mark_read(self, principal: Principal, notification_id: int) -> Notification:
        organization_id = _organization_id(principal)
        notification = await self.repository.notification(notification_id)
        if notification is None or notification.organization_id != organization_id:
            raise NotificationNotFound()
        await self.repository.mark_read(organization_id, notification_id)
        await self.repository.session.refresh(notification)
        return notification

    async def set_webhook(
        self, principal: Principal, organization_id: int, url: str, platform_netloc: str, policy: EgressPolicy
    ) -> tuple[WebhookEndpoint, str]:
        """The egress guard's static rule; what the name resolves to is checked at every delivery
        (not here: no network wait inside the request's transaction)."""
        principal.require_member_of(organization_id)
        if principal.user.role != Role.org_admin:
            raise NotOrganizationAdmin()
        try:
            same_host = urlsplit(url).netloc.lower() == platform_netloc.lower()
        except ValueError:
            same_host = False
        if same_host:
            raise InvalidWebhookUrl.on_field("body.url", "webhook_points_to_platform", "回调地址不能指向本平台自身")
        try:
            check_url(url, policy)
        except EgressRefused as refusal:
            raise InvalidWebhookUrl.refused(refusal) from None
        endpoint = await self.repository.webhook_of(organization_id)
        secret = secrets.token_urlsafe(32)
        if endpoint is None:
            endpoint = WebhookEndpoint(organization_id=organization_id, url=url, secret=secret)
        else:
            endpoint.url, endpoint.secret = url, secret
        await self.repository.add(endpoint)
        return endpoint, secret

    # --- evaluation (worker side) --------------------------------------------------------------

    async def evaluate(self, kind: str, listing_id: int) -> list[Notification]:
        """Notifications for every subscription the new listing clears; each (subscription, listing) once."""
        row = await self.listings.get(KINDS[kind].model, listing_id)
        if row is None or row.status.value != "published":
            return []
        created = []
        target = ListingKindName(kind)
        document, document_side = profile_of(row), side_of(row)
        names = field_names()
        for subscription in await self.repository.active_for_target(target, exclude_organization=row.owner_id):
            if await self.repository.notification_exists(subscription.id or 0, target, listing_id):
                continue
            match = await self._score(subscription, row, document, document_side, names)
            if match is None or match.score < subscription.threshold:
                continue
            notification = Notification(
                organization_id=subscription.organization_id,
                subscription_id=subscription.id or 0,
                listing_kind=target,
                listing_id=listing_id,
                title=row.title,
                score=match.score,
                reasons=match.reasons,
            )
            pushed = await self.repository.webhook_of(subscription.organization_id) is not None
            notification.delivery_status = DeliveryStatus.pending if pushed else None
            await self.repository.add(notification)
            if pushed:
                await outbox.enqueue(
                    self.repository.session,
                    WEBHOOK_TOPIC,
                    f"org:{subscription.organization_id}",
                    {"notification_id": notification.id},
                )
            created.append(notification)
        return created

    async def _score(self, subscription: Subscription, row: Achievement | Demand, document, document_side, names):
        if subscription.query is not None:
            query = profile(
                subscription.query,
                "",
                expand="problem" if subscription.target_kind == ListingKindName.achievement else "solution",
            )
            terms = matched_terms(query, document.vector)
            reasons = ["匹配: " + "、".join(terms)] if terms else []
            return Match(score=round(text_similarity(query, document), 4), explain=lambda: reasons)
        source = await self.listings.get(KINDS[subscription.source_kind.value].model, subscription.source_id or 0)  # type: ignore[union-attr]
        if source is None or source.status.value != "published":
            return None
        return pair(
            profile_of(source, as_query=True),
            side_of(source),
            document,
            document_side,
            query_is_demand=isinstance(source, Demand),
            field_names=names,
        )
