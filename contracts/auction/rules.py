"""Auction rules as data, with their sources.

- 《中华人民共和国拍卖法》(1997-01-01 施行, 2015-04-24 修正) 第二十八条: a reserve price (保留价) may be set and
  kept secret; 第五十条: a lot not reaching the reserve is not sold (流拍).
- 《中华人民共和国促进科技成果转化法》(2015-10-01 施行) 第十八条: state-funded institutions may transfer
  achievements by 协议定价, 在技术交易市场挂牌交易 or 拍卖; the pricing mode lives on the achievement.
- 竞价保证金 and the anti-sniping extension (延时竞价) follow common exchange practice (e.g. 上海技术交易所
  网络竞价规则): a bid in the last N minutes extends the end by N minutes; the winner's deposit becomes part
  of the price, and is forfeited if the winner does not sign the contract in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_EXTENSION_MINUTES = 5
MAX_EXTENSION_MINUTES = 60
DEFAULT_SIGN_DAYS = 10
MAX_SIGN_DAYS = 60


def minimum_bid(start_price_fen: int, current_price_fen: int | None, increment_fen: int) -> int:
    """The lowest acceptable next bid: the start price first, then the current price plus the increment."""
    return start_price_fen if current_price_fen is None else current_price_fen + increment_fen


def extended_end(ends_at: datetime, bid_at: datetime, extension_minutes: int) -> datetime | None:
    """The new end when a bid lands in the last ``extension_minutes`` (None: no extension)."""
    window = timedelta(minutes=extension_minutes)
    if extension_minutes > 0 and ends_at - bid_at <= window:
        return ends_at + window
    return None
