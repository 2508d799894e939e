"""Pricing modes of a state-funded unit's achievement, as data with their legal source.

促进科技成果转化法 (2015 修正) art. 18: a research institute or university set up by the state may
transfer, license or invest its achievements, but sets the price by agreement (协议定价), by listing
on a technology market (挂牌交易) or by auction (拍卖); an agreed price is first publicly noticed
(the achievement's name and the proposed price). 国发〔2016〕16号 (若干规定) part 1 (3): the notice
runs at least 15 days, and the unit states and publishes how objections are handled.

Who is bound (``bound``): universities and institutes (the platform's kinds for 国家设立的研究开发机构、
高等院校), selling a service invention (职务科技成果) by transfer or licence. Pure data and functions:
the service (``contracts.pricing.gate``) asks here and this module knows no tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

BOUND_SELLER_KINDS = frozenset({"university", "institute"})
BOUND_CONTRACT_TYPES = frozenset({"transfer", "license"})


@dataclass(frozen=True)
class PricingRule:
    code: str
    mode: str  # market.listings.models.PricingMode value
    name: str  # short Chinese name
    citation: str
    effective_from: date
    requirement: str  # what the platform checks before a contract at this mode's price is signed
    notice_days: int = 0  # the least number of calendar days an agreed price is noticed

    def describe(self) -> str:
        return f"{self.citation} ({self.effective_from.isoformat()} 起施行): {self.requirement}"


ART_18 = "《中华人民共和国促进科技成果转化法》(2015年修正) 第十八条"
STATE_COUNCIL_2016 = "国务院印发《实施〈中华人民共和国促进科技成果转化法〉若干规定》(国发〔2016〕16号) 第一条第(三)项"

RULES: tuple[PricingRule, ...] = (
    PricingRule(
        code="cn-2016-agreed-notice",
        mode="agreed",
        name="协议定价 (公示不少于15日)",
        citation=f"{ART_18}; {STATE_COUNCIL_2016}",
        effective_from=date(2016, 2, 26),
        requirement="协议定价的, 应在本单位公示科技成果名称和拟交易价格, 公示时间不少于15日, "
        "并明确、公开异议处理程序; 公示期满且异议均已处理后方可签订合同",
        notice_days=15,
    ),
    PricingRule(
        code="cn-2015-art18-listed",
        mode="listed",
        name="在技术交易市场挂牌交易",
        citation=ART_18,
        effective_from=date(2015, 10, 1),
        requirement="按挂牌价首个接受的已认证买方成交; 竞价挂牌的, 在挂牌期内接受的买方中出价最高者成交",
    ),
    PricingRule(
        code="cn-2015-art18-auction",
        mode="auction",
        name="拍卖",
        citation=ART_18,
        effective_from=date(2015, 10, 1),
        requirement="经拍卖确定价格, 合同价格与受让方须与拍卖成交结果一致",
    ),
)

RULES_BY_MODE = {rule.mode: rule for rule in RULES}
AGREED = RULES_BY_MODE["agreed"]


def rule_for(mode: str) -> PricingRule:
    return RULES_BY_MODE[mode]


def bound(contract_type: str, seller_kind: str, service_invention: bool) -> bool:
    """Whether art. 18 decides how this contract's price is set."""
    return service_invention and contract_type in BOUND_CONTRACT_TYPES and seller_kind in BOUND_SELLER_KINDS


def notice_end(starts_on: date, days: int) -> date:
    """The last day of a notice of ``days`` calendar days that starts on ``starts_on`` (counted inclusively)."""
    return starts_on + timedelta(days=days - 1)


def notice_period_over(ends_on: date, today: date) -> bool:
    """A notice's last day belongs to it: a contract may be signed the day after."""
    return today > ends_on
