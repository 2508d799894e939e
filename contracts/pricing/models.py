"""Price discovery records: 协议定价公示 and its objections, 挂牌 listings and their acceptances,
成交公示 and 交易鉴证. Money is integer fen; public notices keep a snapshot of the names they showed."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class DealMode(StrEnum):
    agreed = "agreed"  # 协议定价
    listed = "listed"  # 挂牌交易
    auction = "auction"  # 拍卖


DEAL_MODE_ZH = {DealMode.agreed: "协议定价", DealMode.listed: "挂牌交易", DealMode.auction: "拍卖"}


class NoticeStatus(StrEnum):
    open = "open"  # published; ends_on decides whether the period is still running
    withdrawn = "withdrawn"  # the institute took it back: no contract may rely on it


class PriceNotice(SQLModel, table=True):
    """协议定价公示: the agreed price proposed for an achievement, publicly noticed before signing."""

    __tablename__ = "price_notices"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("ends_on >= starts_on", name="period_order"),
    )

    id: int | None = Field(default=None, primary_key=True)
    achievement_id: int = Field(foreign_key="achievements.id", index=True, ondelete="RESTRICT")
    seller_organization_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    transferee_organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    title: str = Field(max_length=200, description="成果名称 (公示时)")
    transferee_name: str = Field(max_length=200, description="受让方名称 (公示时)")
    price_fen: int = Field(sa_type=BigInteger, description="拟成交价格")
    starts_on: date = Field(description="公示开始日 (北京时间)")
    ends_on: date = Field(description="公示截止日 (含)")
    rule: str = Field(max_length=32, description="所依据的公示规则代码")
    status: NoticeStatus = Field(default=NoticeStatus.open, sa_type=str_enum(NoticeStatus, 16), nullable=False)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ObjectionStatus(StrEnum):
    open = "open"
    answered = "answered"


class PriceObjection(SQLModel, table=True):
    """异议: anyone logged in objects to a notice with reasons; the institute answers."""

    __tablename__ = "price_objections"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="price_notices.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    organization_id: int | None = Field(default=None, foreign_key="organizations.id", ondelete="SET NULL")
    reasons: str = Field(max_length=4000)
    status: ObjectionStatus = Field(
        default=ObjectionStatus.open, sa_type=str_enum(ObjectionStatus, 16), nullable=False, index=True
    )
    answer: str | None = Field(default=None, max_length=4000)
    answered_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ListingRule(StrEnum):
    first_accept = "first_accept"  # 挂牌: the first verified buyer to accept gets it
    bidding = "bidding"  # 挂牌竞价: those who accept within the window bid; the highest wins


class PriceListingStatus(StrEnum):
    open = "open"
    awarded = "awarded"
    lapsed = "lapsed"  # the window closed with nobody accepting


class PriceListing(SQLModel, table=True):
    """挂牌: an achievement offered at a stated price for a window."""

    __tablename__ = "price_listings"
    __table_args__ = (CheckConstraint("price_fen > 0", name="price_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    achievement_id: int = Field(foreign_key="achievements.id", index=True, ondelete="RESTRICT")
    seller_organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    rule: ListingRule = Field(sa_type=str_enum(ListingRule, 16), nullable=False)
    price_fen: int = Field(sa_type=BigInteger, description="挂牌价")
    opens_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    closes_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status: PriceListingStatus = Field(
        default=PriceListingStatus.open, sa_type=str_enum(PriceListingStatus, 16), nullable=False, index=True
    )
    winner_organization_id: int | None = Field(default=None, foreign_key="organizations.id", ondelete="RESTRICT")
    final_price_fen: int | None = Field(default=None, sa_type=BigInteger)
    awarded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ListingAcceptance(SQLModel, table=True):
    """A buyer's acceptance of a listing's price (with its bid, in a 竞价 round)."""

    __tablename__ = "price_listing_acceptances"
    __table_args__ = (UniqueConstraint("listing_id", "organization_id"),)

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="price_listings.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    bid_fen: int = Field(sa_type=BigInteger)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DealNotice(SQLModel, table=True):
    """成交公示: every completed deal, whatever its pricing mode."""

    __tablename__ = "deal_notices"
    __table_args__ = (CheckConstraint("price_fen > 0", name="price_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    achievement_id: int = Field(foreign_key="achievements.id", index=True, ondelete="RESTRICT")
    mode: DealMode = Field(sa_type=str_enum(DealMode, 16), nullable=False)
    price_fen: int = Field(sa_type=BigInteger)
    seller_organization_id: int = Field(foreign_key="organizations.id", ondelete="RESTRICT")
    buyer_organization_id: int = Field(foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    contract_id: int | None = Field(
        default=None, foreign_key="contracts.id", unique=True, ondelete="SET NULL", description="成交后签订的合同"
    )
    title: str = Field(max_length=200, description="成交标的 (公示时的成果名称)")
    seller_name: str = Field(max_length=200)
    buyer_name: str = Field(max_length=200)
    deal_date: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TransactionCertificate(SQLModel, table=True):
    """交易鉴证: issued on a contract's completion; its digest is the SHA-256 of the contract's terms."""

    __tablename__ = "transaction_certificates"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    contract_id: int = Field(foreign_key="contracts.id", unique=True, ondelete="RESTRICT")
    deal_notice_id: int | None = Field(default=None, foreign_key="deal_notices.id", ondelete="SET NULL")
    mode: DealMode = Field(sa_type=str_enum(DealMode, 16), nullable=False)
    terms_digest: str = Field(max_length=64, description="合同条款规范形式的 SHA-256")
    issued_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
