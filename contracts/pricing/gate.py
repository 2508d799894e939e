"""The signing check of art. 18: a state-funded unit's service invention is sold only at a price
found by one of the three ways its achievement declared (``Achievement.pricing_mode``).

- 协议定价: a notice of this achievement, naming this buyer at exactly the contract's total, whose
  period is over and none of whose objections is left unanswered;
- 挂牌 / 拍卖: a deal notice of this achievement's award to this buyer at exactly that total.

An achievement that declared no mode is priced by agreement: its seller named neither a listing nor an
auction, so the notice is what it owes (art. 18 admits no fourth way).
Called by ``ContractService.sign`` before a signature is written, with the day it signs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import Contract
from contracts.pricing import errors, rules
from contracts.pricing.repository import PricingRepository
from core.money import fen_to_yuan
from market.listings.models import Achievement, PricingMode


async def require_price_discovered(
    session: AsyncSession, contract: Contract, achievements: Sequence[Achievement], today: date
) -> None:
    if not rules.bound(contract.type.value, contract.seller_kind.value, contract.service_invention):
        return
    repository = PricingRepository(session)
    for achievement in achievements:
        mode = achievement.pricing_mode or PricingMode.agreed
        rule = rules.rule_for(mode.value)
        aid = achievement.id or 0
        price = fen_to_yuan(contract.total_fen)
        if mode != PricingMode.agreed:
            award = await repository.award(aid, mode.value, contract.buyer_org_id, contract.total_fen)
            if award is None:
                raise errors.PriceNotDiscovered(
                    detail=f"成果《{achievement.title}》以{rule.name}方式定价, 未找到该受让方以 {price} 元成交的结果",
                    rule=rule.code,
                    achievement_id=aid,
                )
            continue
        notices = await repository.notices_for(aid, contract.buyer_org_id, contract.total_fen)
        if not notices:
            raise errors.AgreedPriceNoticeRequired(
                detail=f"成果《{achievement.title}》未就该受让方以 {price} 元的拟交易价格进行公示",
                rule=rule.code,
                achievement_id=aid,
            )
        over = [n for n in notices if rules.notice_period_over(n.ends_on, today)]
        if not over:
            ends = min(n.ends_on for n in notices)
            raise errors.AgreedPriceNoticeRunning(
                detail=f"成果《{achievement.title}》的协议定价公示至 {ends.isoformat()} 届满",
                rule=rule.code,
                achievement_id=aid,
                notice_ends_on=ends.isoformat(),
            )
        contested = await repository.notices_with_open_objections([n.id or 0 for n in over])
        if all(n.id in contested for n in over):
            raise errors.AgreedPriceObjectionOpen(rule=rule.code, achievement_id=aid, notice_id=over[0].id)
