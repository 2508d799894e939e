"""Errors of pricing modes, notices, objections, listings and certificates (status, stable code, Chinese message).

The refusals of signing name the rule they apply (``rule``: a code of ``contracts.pricing.rules``)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class AgreedPriceNoticeRequired(Conflict):
    code = "agreed_price_notice_required"
    message = "协议定价须先公示成果名称和拟交易价格 (不少于15日), 公示期满后方可签订合同"


class AgreedPriceNoticeRunning(Conflict):
    code = "agreed_price_notice_running"
    message = "协议定价公示期尚未届满, 暂不能签订合同"


class AgreedPriceObjectionOpen(Conflict):
    code = "agreed_price_objection_open"
    message = "协议定价公示有尚未答复的异议, 暂不能签订合同"


class PriceNotDiscovered(Conflict):
    code = "price_not_discovered"
    message = "该成果以挂牌或拍卖方式定价, 合同的受让方和价格须与成交结果一致"


class PricingOwnerOnly(Forbidden):
    code = "pricing_owner_only"
    message = "只有成果所属单位可以设定定价方式、发布公示或挂牌"


class PricingModeLocked(Conflict):
    code = "pricing_mode_locked"
    message = "成果已有进行中的公示、挂牌或已签订的合同, 不能更改定价方式"


class PricingModeMismatch(Conflict):
    code = "pricing_mode_mismatch"
    message = "成果的定价方式与此操作不符"


class AchievementNotPriceable(Conflict):
    code = "achievement_not_priceable"
    message = "只有已发布的成果可以公示或挂牌"


class NoticePeriodTooShort(ValidationFailed):
    code = "notice_period_too_short"
    message = "协议定价公示期不少于15日"


class TransfereeInvalid(ValidationFailed):
    code = "transferee_invalid"
    message = "受让方须为已认证的其他单位"


class PriceNoticeNotFound(NotFound):
    code = "price_notice_not_found"
    message = "协议定价公示不存在"


class ObjectionWindowClosed(Conflict):
    code = "objection_window_closed"
    message = "公示期已结束或公示已撤回, 不能再提出异议"


class ObjectionNotFound(NotFound):
    code = "objection_not_found"
    message = "异议不存在"


class ObjectionAlreadyAnswered(Conflict):
    code = "objection_already_answered"
    message = "该异议已答复"


class PriceListingNotFound(NotFound):
    code = "price_listing_not_found"
    message = "挂牌不存在"


class PriceListingClosed(Conflict):
    code = "price_listing_closed"
    message = "挂牌已成交或已过挂牌期"


class PriceListingStillOpen(Conflict):
    code = "price_listing_still_open"
    message = "竞价挂牌期尚未结束"


class OwnPriceListing(Forbidden):
    code = "own_price_listing"
    message = "不能接受本单位的挂牌"


class BidBelowListedPrice(ValidationFailed):
    code = "bid_below_listed_price"
    message = "出价不能低于挂牌价"


class CertificateNotFound(NotFound):
    code = "certificate_not_found"
    message = "该合同尚无交易鉴证 (合同履行完毕后出具)"


class CertificateNotIssued(Conflict):
    code = "certificate_not_issued"
    message = "合同尚未履行完毕, 尚未出具交易鉴证"


class CertificatePdfNotEntitled(Forbidden):
    code = "transaction_certificate_not_entitled"
    message = "只有合同当事方和卖方所在地的管理员 (盟市管理员或平台管理员) 可以下载交易鉴证"
