"""Errors of auctions, bids and deposits (each with its status, stable code and Chinese message)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class AuctionNotFound(NotFound):
    code = "auction_not_found"
    message = "拍卖不存在"


class AchievementNotAuctionable(Conflict):
    code = "achievement_not_auctionable"
    message = "只有本单位已发布且定价方式允许拍卖的成果可以拍卖"


class AuctionAlreadyLive(Conflict):
    code = "auction_already_live"
    message = "该成果已有进行中的拍卖"


class InvalidAuctionTerms(ValidationFailed):
    code = "invalid_auction_terms"
    message = "拍卖条件无效"


class AuctionNotOpen(Conflict):
    code = "auction_not_open"
    message = "拍卖不在竞价时间内"


class BidTooLow(Conflict):
    code = "bid_too_low"
    message = "出价低于当前最低可出价"


class AlreadyLeading(Conflict):
    code = "already_leading"
    message = "您已是当前最高出价人"


class OwnAuction(Forbidden):
    code = "own_auction"
    message = "不能参与本单位成果的拍卖"


class DepositRequired(Conflict):
    code = "deposit_required"
    message = "请先缴纳竞价保证金, 到账后方可出价"


class IdempotencyKeyRequired(ValidationFailed):
    code = "idempotency_key_required"
    message = "出价须带 Idempotency-Key 请求头"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "该 Idempotency-Key 已用于另一笔出价"


class AdminOnlyView(Forbidden):
    code = "auction_admin_only"
    message = "只有平台管理员可以查看"
