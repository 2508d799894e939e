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
payment is ``ceil(rate x cumulative net income)``, so the floor holds at every amount, the totals do
not depend on the order in which payments arrive, and each payment's parts sum exactly to its net
income. Inside the team, shares are apportioned by weight with the largest-remainder method.
A refund is a negative payment: it appends reversals, proportional to the inventors' weights and
never taking an inventor below zero; refunding everything brings every total back to zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

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
    ),
    FloorRule(
        code="nm-2017-plan",
        jurisdiction="150000",
        # The plan is dated 2017; the day it took effect is taken as 2017-01-01 until checked.
        effective_from=date(2017, 1, 1),
        income_floor_bp=7000,
        equity_floor_bp=7000,
        citation="内蒙古自治区促进科技成果转移转化方案 (2017年): 职务发明成果转让收益用于奖励重要贡献人员和团队的比例",
    ),
)


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


# --- apportionment ----------------------------------------------------------------------------


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` (>= 0) in proportion to ``weights`` so the parts sum exactly to ``total``.

    Each part is its exact quota rounded down, and the units left over go to the largest
    remainders (ties: earlier first). Zero weights everywhere means equal shares.
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


def _capped_apportion(total: int, weights: Sequence[int], caps: Sequence[int]) -> list[int]:
    """Largest remainder, then move any excess over a cap to lines with room left (largest room first)."""
    if total > sum(caps):
        raise ValueError("total exceeds what is left")
    parts = largest_remainder(total, weights) if any(weights) else largest_remainder(total, caps)
    excess = 0
    for i, cap in enumerate(caps):
        if parts[i] > cap:
            excess += parts[i] - cap
            parts[i] = cap
    while excess:
        room = sorted(range(len(caps)), key=lambda i: (-(caps[i] - parts[i]), i))
        i = room[0]
        give = min(excess, caps[i] - parts[i])
        parts[i] += give
        excess -= give
    return parts


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --- the split --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventor:
    name: str
    weight: int = 1  # share weight; equal by default
    user_id: int | None = None


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
    cumulative amount received, never on the order: net = received - deductions (deduction lines are
    charged against the first income until used up), team = ceil(rate x net), institution = the rest.
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
        """A payment (amount > 0) or a refund (amount < 0): the signed distribution it appends."""
        received = self.received + amount
        if received < 0:
            raise ValueError("refunds exceed what was received")
        net = net_income(received, [self.deductions])
        team = team_share(net, self.rate_bp)
        delta_net, delta_team = net - self.net, team - self.team
        weights = [i.weight for i in self.inventors]
        if delta_team >= 0:
            parts = largest_remainder(delta_team, weights)
        else:  # reversal: proportional to the weights, never below what an inventor holds
            parts = [-p for p in _capped_apportion(-delta_team, weights, self.inventor_totals)]
        self.received, self.net, self.team = received, net, team
        self.inventor_totals = [a + b for a, b in zip(self.inventor_totals, parts, strict=True)]
        return Split(
            gross=amount,
            deductions=amount - delta_net,
            net=delta_net,
            team=delta_team,
            institution=delta_net - delta_team,
            inventors=tuple(parts),
        )
