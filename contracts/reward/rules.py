"""Inventor reward rules and the split: pure functions on integer fen (or integer shares).

Floors come from rules by jurisdiction and effective date. The most specific jurisdiction whose
rule is in force on the contract's signing date wins (a province over the national default):

- national default, 促进科技成果转化法 (2015 修正) art. 45, in force 2015-10-01: at least 50% of
  the net income of a transfer or licence, and at least 50% of the equity of 作价投资, go to the
  people who made the achievement;
- Inner Mongolia (150000), the region's 2017 plan: at least 70% of the income of transferring a
  service invention goes to the key contributors and their team; the same floor for equity deals.

An institution may set a higher rate, never a lower one (``check_rate``). Rates are basis points
(7000 = 70%) so nothing is ever a float.

The split of a sequence of payments is cumulative (``Ledger.apply``): the team's total after each
payment is ``ceil(rate x cumulative net income)``, so the floor holds at every amount, and each
inventor's total is the largest-remainder apportionment of the team's total by weight (ties to the
inventor listed first). So every total depends only on the cumulative amount received, never on how
it was cut into payments or in which order they arrived; each inventor is within one fen of the exact
share of the team's total; and each distribution's parts sum exactly to its net income. A refund is a
negative payment appending the differences; refunding everything brings every total back to zero.
A line can move one fen against its payment (largest remainder's Alabama paradox: weights 1:3:3 get
1/1/1 of 3 fen but 0/2/2 of 4), which is the price of totals that never depend on the schedule.

Who gets a reward (``reward_applies``: a service invention, transferred or licensed, by a university
or institute) and who the inventors are (``merge_inventors``, ``inventors_from``) are decided here too,
so the contract package asks this module and this module knows nothing of contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

BP = 10_000  # basis points in a whole
NATIONAL = "000000"


class RewardKind(StrEnum):
    income = "income"  # 转让 / 许可: share of net income (fen)
    equity = "equity"  # 作价投资: share of the equity (shares)


class DeductionKind(StrEnum):
    tax = "tax"  # 相关税费
    fee = "fee"  # 手续费等
    maintenance = "maintenance"  # 维持费用, e.g. 专利年费
    transaction_cost = "transaction_cost"  # 评估、鉴定等直接交易费用


DEDUCTION_KIND_ZH = {
    DeductionKind.tax: "相关税费",
    DeductionKind.fee: "手续费",
    DeductionKind.maintenance: "成果维持费用 (如专利年费)",
    DeductionKind.transaction_cost: "直接交易费用 (评估、鉴定等)",
}


@dataclass(frozen=True)
class FloorRule:
    code: str
    jurisdiction: str  # GB/T 2260 province code, or NATIONAL
    effective_from: date
    income_floor_bp: int
    equity_floor_bp: int
    citation: str
    name: str  # short Chinese name, for exports and reports

    def floor_bp(self, kind: RewardKind) -> int:
        return self.income_floor_bp if kind == RewardKind.income else self.equity_floor_bp

    def describe(self, kind: RewardKind = RewardKind.income) -> str:
        return f"{self.citation} ({self.effective_from.isoformat()} 起施行): 不低于 {format_bp(self.floor_bp(kind))}"


RULES: tuple[FloorRule, ...] = (
    FloorRule(
        code="cn-2015-art45",
        jurisdiction=NATIONAL,
        effective_from=date(2015, 10, 1),
        income_floor_bp=5000,
        equity_floor_bp=5000,
        citation="《中华人民共和国促进科技成果转化法》(2015年修正) 第四十五条",
        name="促进科技成果转化法第四十五条 (国家默认)",
    ),
    FloorRule(
        code="nm-2017-plan",
        jurisdiction="150000",
        # The plan is dated 2017; the day it took effect is taken as 2017-01-01 until checked.
        effective_from=date(2017, 1, 1),
        income_floor_bp=7000,
        equity_floor_bp=7000,
        citation="内蒙古自治区促进科技成果转移转化方案 (2017年): 职务发明成果转让收益用于奖励重要贡献人员和团队的比例",
        name="内蒙古自治区促进科技成果转移转化方案 (2017年)",
    ),
)


RULES_BY_CODE = {rule.code: rule for rule in RULES}


def rule_name(code: str) -> str:
    """The Chinese name of a rule by its stored code (the code itself if it is not one of ours)."""
    rule = RULES_BY_CODE.get(code)
    return rule.name if rule is not None else code


class NoRuleInForce(ValueError):
    """No rule covers the date (before the 2015 amendment took effect)."""


class RateBelowFloor(ValueError):
    def __init__(self, rate_bp: int, rule: FloorRule, kind: RewardKind) -> None:
        self.rate_bp = rate_bp
        self.rule = rule
        self.kind = kind
        super().__init__(
            f"奖励比例 {format_bp(rate_bp)} 低于下限: {rule.describe(kind)}。单位可以规定更高的比例, 不能更低。"
        )


def format_bp(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}%"


def province_of(region_code: str) -> str:
    return region_code[:2] + "0000"


def floor_rule(region_code: str, on: date, rules: Sequence[FloorRule] = RULES) -> FloorRule:
    """The rule in force on ``on`` for an institution located in ``region_code``."""
    province = province_of(region_code)
    candidates = [r for r in rules if r.effective_from <= on and r.jurisdiction in (province, NATIONAL)]
    if not candidates:
        raise NoRuleInForce(f"{on.isoformat()} 没有适用的成果转化奖励规定")
    # Provincial rules beat the national default; among equals, the newest in force wins.
    return max(candidates, key=lambda r: (r.jurisdiction != NATIONAL, r.effective_from))


def check_rate(
    rate_bp: int | None, region_code: str, on: date, kind: RewardKind = RewardKind.income
) -> tuple[int, FloorRule]:
    """The rate to apply (the floor when none is set) and the rule; refuses a rate below the floor."""
    rule = floor_rule(region_code, on)
    floor = rule.floor_bp(kind)
    if rate_bp is None:
        return floor, rule
    if not 0 <= rate_bp <= BP:
        raise ValueError("奖励比例应在 0% 到 100% 之间")
    if rate_bp < floor:
        raise RateBelowFloor(rate_bp, rule, kind)
    return rate_bp, rule


def rate_on_signing(
    rate_bp: int, region_code: str, signed_on: date, kind: RewardKind = RewardKind.income
) -> tuple[int, FloorRule]:
    """The rate and rule of a contract signed on ``signed_on``: the floor is the one in force that day.

    The agreed rate was checked against the drafting day's floor. Signing under a higher floor raises it
    to that floor; an agreed rate is never lowered, since only the parties may lower what they agreed.
    """
    rule = floor_rule(region_code, signed_on)
    return max(rate_bp, rule.floor_bp(kind)), rule


# --- who is rewarded --------------------------------------------------------------------------

# 转让 and 许可 earn income from the achievement itself; 开发/咨询/服务 pay for work, not for it.
REWARD_CONTRACT_TYPES = frozenset({"transfer", "license"})
# Art. 45 binds the state-funded research units: universities and research institutes.
REWARD_SELLER_KINDS = frozenset({"university", "institute"})


class RewardedContract(Protocol):
    @property
    def service_invention(self) -> bool: ...
    @property
    def type(self) -> str: ...
    @property
    def seller_kind(self) -> str: ...


def reward_eligible(contract_type: str, seller_kind: str) -> bool:
    """Whether a contract of this type, sold by a unit of this kind, can carry an inventor reward."""
    return contract_type in REWARD_CONTRACT_TYPES and seller_kind in REWARD_SELLER_KINDS


def reward_applies(contract: RewardedContract) -> bool:
    """A service invention (职务科技成果) of an eligible contract: its income is split with the inventors."""
    return contract.service_invention and reward_eligible(contract.type, contract.seller_kind)


def merge_inventors(per_achievement: Iterable[Iterable[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The inventors of the linked achievements, one line per name (first seen first): a person on
    several achievements gets the sum of their shares, as whole weights (share x 100; 1 when unset)."""
    merged: dict[str, int] = {}
    for people in per_achievement:
        for person in people:
            name = str(person.get("name", "")).strip()
            if name:
                merged[name] = merged.get(name, 0) + int(Decimal(str(person.get("share") or 1)) * 100)
    return [{"name": name, "weight": weight, "user_id": None} for name, weight in merged.items()]


# --- apportionment ----------------------------------------------------------------------------


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` (>= 0) in proportion to ``weights`` so the parts sum exactly to ``total``.

    Each part is its exact quota rounded down, and the units left over go to the largest
    remainders; equal remainders go to the earlier weight (for inventors: the order the contract
    lists them in), so the same total and weights always give the same parts. Each part is within
    one unit of its exact quota. Zero weights everywhere means equal shares.
    """
    if total < 0:
        raise ValueError("total must be >= 0")
    if not weights:
        if total:
            raise ValueError("nothing to split among")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights, weight_sum = [1] * len(weights), len(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    left = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --- the split --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventor:
    name: str
    weight: int = 1  # share weight; equal by default
    user_id: int | None = None


def inventors_from(records: Iterable[Mapping[str, Any]]) -> tuple[Inventor, ...]:
    """The inventors as a contract stores them (name, weight, user_id)."""
    return tuple(Inventor(name=i["name"], weight=int(i.get("weight", 1)), user_id=i.get("user_id")) for i in records)


@dataclass(frozen=True)
class Split:
    """One distribution: the net amount, the team's part split per inventor, the institution's rest."""

    gross: int
    deductions: int
    net: int
    team: int
    institution: int
    inventors: tuple[int, ...]

    def __post_init__(self) -> None:
        assert self.institution + sum(self.inventors) == self.net
        assert self.team == sum(self.inventors)


def team_share(net: int, rate_bp: int) -> int:
    """The team's part of ``net``: rounded up, so it is never below ``rate`` of the amount."""
    return ceil_div(net * rate_bp, BP)


def split(net: int, rate_bp: int, inventors: Sequence[Inventor]) -> Split:
    """Split one amount (fen of net income, or shares of equity) between inventors and institution."""
    if net < 0:
        raise ValueError("net must be >= 0")
    if not inventors:
        raise ValueError("至少需要一名成果完成人")
    team = team_share(net, rate_bp)
    parts = largest_remainder(team, [i.weight for i in inventors])
    return Split(gross=net, deductions=0, net=net, team=team, institution=net - team, inventors=tuple(parts))


def split_equity(shares: int, rate_bp: int, inventors: Sequence[Inventor]) -> Split:
    """作价投资: whole shares, the same floor and rounding as income."""
    return split(shares, rate_bp, inventors)


def net_income(received: int, deductions: Sequence[int]) -> int:
    """净收入 = received - every deduction line (never below zero)."""
    return max(0, received - sum(deductions))


@dataclass
class Ledger:
    """Running totals of one contract's income distributions (the stored ledger, summed).

    Every received payment and every refund is applied in turn. The totals only depend on the
    cumulative amount received, never on the order or the chunking: net = received - deductions
    (deduction lines are charged against the first income until used up), team = ceil(rate x net),
    each inventor = largest_remainder(team, weights), institution = the rest.
    """

    rate_bp: int
    inventors: tuple[Inventor, ...]
    deductions: int = 0  # sum of the contract's deduction lines
    received: int = 0
    net: int = 0
    team: int = 0
    inventor_totals: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.inventor_totals:
            self.inventor_totals = [0] * len(self.inventors)

    @property
    def institution(self) -> int:
        return self.net - self.team

    def apply(self, amount: int) -> Split:
        """A payment (amount > 0) or a refund (amount < 0): the signed distribution it appends.

        Every running total is recomputed from the cumulative amount received, and the distribution
        is the difference: the inventors' totals are ``largest_remainder(team, weights)`` each time.
        """
        received = self.received + amount
        if received < 0:
            raise ValueError("refunds exceed what was received")
        net = net_income(received, [self.deductions])
        team = team_share(net, self.rate_bp)
        totals = largest_remainder(team, [i.weight for i in self.inventors])
        parts = [new - old for new, old in zip(totals, self.inventor_totals, strict=True)]
        delta_net, delta_team = net - self.net, team - self.team
        self.received, self.net, self.team, self.inventor_totals = received, net, team, totals
        return Split(
            gross=amount,
            deductions=amount - delta_net,
            net=delta_net,
            team=delta_team,
            institution=delta_net - delta_team,
            inventors=tuple(parts),
        )
