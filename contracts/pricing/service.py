"""Pricing modes and 协议定价公示 with objections.

An achievement's owner declares how it is priced (``Achievement.pricing_mode``); publishing a notice
declares 协议定价. A notice names the achievement, the proposed price and the transferee and runs at
least the rule's days from today (Beijing date). Anyone logged in objects while it runs; the institute
answers each objection. ``contracts.pricing.gate`` lets the contract be signed only once the period is
over with no objection unanswered. The day is ``contracts.contract.service.today`` (tests move it).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors as contract_errors
from contracts.contract import service as contract_service
from contracts.pricing import errors, rules
from contracts.pricing.models import NoticeStatus, ObjectionStatus, PriceNotice, PriceObjection
from contracts.pricing.repository import PricingRepository
from contracts.pricing.schemas import (
    ObjectionRead,
    PriceNoticeCreate,
    PriceNoticeRead,
)
from core import audit
from core.errors import FieldError
from core.money import fen_to_yuan, yuan_to_fen
from core.reference import region_prefix
from core.types import utcnow
from core.visibility import Subject
from market.identity.models import Organization, OrganizationStatus
from market.identity.service import Principal
from market.listings.models import Achievement, ListingStatus, PricingMode
from market.notifications.service import PRICE_NOTICE_TOPIC, announce

OBJECTION_PROCEDURE = (
    "公示期内, 任何登录用户均可就成果名称、拟交易价格或受让方提出书面异议并说明理由; "
    "公示单位须逐条答复。公示期届满且全部异议均已答复后, 方可按公示价格与公示受让方签订合同。"
)
EXCERPT = 200


class PricingService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = PricingRepository(session)

    # --- modes ---------------------------------------------------------------------------------

    async def owned_achievement(self, principal: Principal, achievement_id: int) -> Achievement:
        acting = principal.require_can_publish()
        achievement = await self.repository.achievement(achievement_id, lock=True)
        if achievement is None:
            raise contract_errors.ListingNotFound()
        if achievement.owner_id != acting.id:
            raise errors.PricingOwnerOnly()
        return achievement

    async def set_mode(self, principal: Principal, achievement_id: int, mode: PricingMode) -> Achievement:
        """A mode is changed only while nothing relies on the old one."""
        achievement = await self.owned_achievement(principal, achievement_id)
        if achievement.pricing_mode == mode:
            return achievement
        busy = (
            achievement.contracts_in_force
            or await self.repository.running_notices(achievement_id, contract_service.today())
            or await self.repository.open_listing(achievement_id) is not None
        )
        if busy:
            raise errors.PricingModeLocked(current=achievement.pricing_mode)
        before = achievement.pricing_mode
        achievement.pricing_mode = mode
        self.session.add(achievement)
        await audit.record(
            self.session, "achievement", achievement_id, "pricing_mode", actor_user_id=principal.user.id,
            changes={"pricing_mode": [before, mode.value]},
        )  # fmt: skip
        await self.session.flush()
        return achievement

    # --- notices -------------------------------------------------------------------------------

    async def publish_notice(self, principal: Principal, data: PriceNoticeCreate) -> PriceNotice:
        achievement = await self.owned_achievement(principal, data.achievement_id)
        if achievement.status != ListingStatus.published:
            raise errors.AchievementNotPriceable()
        if achievement.pricing_mode not in (None, PricingMode.agreed):
            raise errors.PricingModeMismatch(detail=f"成果的定价方式为 {achievement.pricing_mode}, 不能协议定价公示")
        rule = rules.AGREED
        if data.days < rule.notice_days:
            raise errors.NoticePeriodTooShort(
                errors=[FieldError(field="body.days", code=errors.NoticePeriodTooShort.code, message=rule.describe())],
                rule=rule.code,
            )
        transferee = await self.repository.organization(data.transferee_org_id)
        if (
            transferee is None
            or transferee.status != OrganizationStatus.verified
            or transferee.id == achievement.owner_id
        ):
            raise errors.TransfereeInvalid(
                errors=[
                    FieldError(
                        field="body.transferee_org_id",
                        code=errors.TransfereeInvalid.code,
                        message=errors.TransfereeInvalid.message,
                    )
                ]
            )
        price = yuan_to_fen(data.price)
        if price <= 0:
            raise errors.TransfereeInvalid(
                errors=[FieldError(field="body.price", code="price_positive", message="拟交易价格应大于 0")]
            )
        achievement.pricing_mode = PricingMode.agreed
        starts = contract_service.today()
        notice = PriceNotice(
            achievement_id=achievement.id or 0,
            seller_organization_id=achievement.owner_id,
            transferee_organization_id=transferee.id or 0,
            title=achievement.title,
            transferee_name=transferee.name,
            price_fen=price,
            starts_on=starts,
            ends_on=rules.notice_end(starts, data.days),
            rule=rule.code,
            created_by=principal.user.id,
        )
        await self.repository.add(achievement, notice)
        await audit.record(
            self.session, "price_notice", notice.id or 0, "published", actor_user_id=principal.user.id,
            changes={"price_fen": price, "transferee": transferee.id, "ends_on": notice.ends_on.isoformat()},
        )  # fmt: skip
        return notice

    async def notice(self, notice_id: int) -> PriceNotice:
        notice = await self.repository.notice(notice_id)
        if notice is None or notice.status != NoticeStatus.open:
            raise errors.PriceNoticeNotFound()
        return notice

    async def read_notices(self, notices: list[PriceNotice]) -> list[PriceNoticeRead]:
        counts = await self.repository.open_objection_counts([n.id or 0 for n in notices])
        today = contract_service.today()
        return [
            PriceNoticeRead(
                id=n.id or 0,
                achievement_id=n.achievement_id,
                title=n.title,
                seller_organization_id=n.seller_organization_id,
                transferee_organization_id=n.transferee_organization_id,
                transferee_name=n.transferee_name,
                price=fen_to_yuan(n.price_fen),
                starts_on=n.starts_on,
                ends_on=n.ends_on,
                status=n.status,
                rule=n.rule,
                period_over=rules.notice_period_over(n.ends_on, today),
                open_objections=counts.get(n.id or 0, 0),
                objection_procedure=OBJECTION_PROCEDURE,
            )
            for n in notices
        ]

    async def withdraw(self, principal: Principal, notice_id: int, reason: str) -> PriceNotice:
        """The institute takes a notice back (an objection it upheld, a changed price): no contract
        may rely on it, and its unanswered objections leave the admins' queue."""
        notice = await self.notice(notice_id)
        if not principal.belongs_to(notice.seller_organization_id):
            raise errors.PricingOwnerOnly("只有公示单位可以撤回公示")
        principal.require_can_publish()
        notice.status = NoticeStatus.withdrawn
        await self.repository.add(notice)
        await audit.record(
            self.session, "price_notice", notice.id or 0, "withdrawn", actor_user_id=principal.user.id, reason=reason
        )
        return notice

    # --- objections ----------------------------------------------------------------------------

    async def object_to(self, principal: Principal, notice_id: int, reasons: str) -> PriceObjection:
        notice = await self.notice(notice_id)
        if rules.notice_period_over(notice.ends_on, contract_service.today()):
            raise errors.ObjectionWindowClosed(notice_ends_on=notice.ends_on.isoformat())
        objection = PriceObjection(
            notice_id=notice.id or 0,
            user_id=principal.user.id,
            organization_id=principal.organization.id if principal.organization is not None else None,
            reasons=reasons,
        )
        await self.repository.add(objection)
        await audit.record(self.session, "price_notice", notice.id or 0, "objection", actor_user_id=principal.user.id)
        data = {
            "notice_id": notice.id,
            "title": notice.title,
            "price": str(fen_to_yuan(notice.price_fen)),
            "excerpt": reasons[:EXCERPT],
            "organization_ids": [notice.seller_organization_id],
        }
        await announce(
            self.session, PRICE_NOTICE_TOPIC, f"price_notice:{notice.id}", f"obj_{objection.id}",
            "pricing.objection_filed", data,
        )  # fmt: skip
        return objection

    async def answer(self, principal: Principal, notice_id: int, objection_id: int, answer: str) -> PriceObjection:
        notice = await self.notice(notice_id)
        if not principal.belongs_to(notice.seller_organization_id):
            raise errors.PricingOwnerOnly("只有公示单位可以答复异议")
        principal.require_can_publish()
        objection = await self.repository.objection(notice.id or 0, objection_id)
        if objection is None:
            raise errors.ObjectionNotFound()
        if objection.status != ObjectionStatus.open:
            raise errors.ObjectionAlreadyAnswered()
        objection.status, objection.answer = ObjectionStatus.answered, answer
        objection.answered_by, objection.answered_at = principal.user.id, utcnow()
        await self.repository.add(objection)
        await audit.record(
            self.session, "price_notice", notice.id or 0, "objection_answered", actor_user_id=principal.user.id,
            changes={"objection_id": objection.id},
        )  # fmt: skip
        if objection.user_id is not None:
            data = {
                "notice_id": notice.id,
                "title": notice.title,
                "excerpt": answer[:EXCERPT],
                "organization_ids": [],
                "user_ids": [objection.user_id],
            }
            await announce(
                self.session, PRICE_NOTICE_TOPIC, f"price_notice:{notice.id}", f"ans_{objection.id}",
                "pricing.objection_answered", data,
            )  # fmt: skip
        return objection

    async def objections(
        self, notice_id: int, offset: int, limit: int
    ) -> tuple[PriceNotice, list[PriceObjection], int]:
        notice = await self.notice(notice_id)
        rows, total = await self.repository.objections(notice.id or 0, offset, limit)
        return notice, rows, total

    async def open_objections(self, principal: Principal, offset: int, limit: int) -> tuple[list[PriceObjection], int]:
        """The admin queue: a platform admin's is every region's, a region admin's its own sellers'."""
        if principal.is_platform_admin:
            return await self.repository.open_objections(offset, limit, None)
        scope = principal.region_scope
        if scope is None:
            raise errors.PricingOwnerOnly("只有平台或区域管理员可以查看异议队列")
        return await self.repository.open_objections(offset, limit, region_prefix(scope))

    async def read_objections(self, rows: list[PriceObjection]) -> list[ObjectionRead]:
        """Each rendered for the caller: the objector, the institute and its region's admins see the text."""
        reads = []
        sellers: dict[int, Organization | None] = {}
        for row in rows:
            notice = await self.repository.notice(row.notice_id)
            seller_id = notice.seller_organization_id if notice is not None else 0
            if seller_id not in sellers:
                sellers[seller_id] = await self.repository.organization(seller_id)
            seller = sellers[seller_id]
            parties = {seller_id} | ({row.organization_id} if row.organization_id is not None else set())
            subject = Subject(
                owner=seller_id,
                parties=frozenset(parties),
                regions=(seller.region,) if seller is not None else (),
                user=row.user_id,
            )
            read = ObjectionRead(
                id=row.id or 0,
                notice_id=row.notice_id,
                status=row.status,
                created_at=row.created_at,
                answered_at=row.answered_at,
                organization_id=row.organization_id,
                reasons=row.reasons,
                answer=row.answer,
            )
            reads.append(read.about(subject))
        return reads
