"""Pure scoring: how well an achievement answers a demand, and why, in words a person can check.

Text relevance finds what solves the problem; the constraints (maturity, price, transaction mode)
then order the solutions by how well they fit. A constraint that is off lowers the score and says
so; it never hides the listing. Region only breaks ties towards local partners.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from search.weights import MatchWeights, active_match

MATURITY_RANK = {"research": 1, "lab": 2, "pilot": 3, "industrialized": 4}
MATURITY_ZH = {"research": "研发阶段", "lab": "小试", "pilot": "中试", "industrialized": "产业化"}
NEAR_REASON = 0.8  # a candidate's rescaled sentence-vector nearness from which the reasons say so
MODE_ZH = {"transfer": "转让", "license": "许可", "equity": "作价入股", "joint_development": "合作开发"}


@dataclass(frozen=True)
class Side:
    """What scoring needs of either listing kind (achievement, or demand with its wishes)."""

    field: str | None
    region: str
    transaction_modes: tuple[str, ...]
    maturity: str | None  # achievement's maturity, or demand's minimum
    price_fen: int | None  # achievement's price, or demand's budget ceiling


@dataclass
class Match:
    score: float
    components: dict[str, float] = field(default_factory=dict)
    explain: Callable[[], list[str]] = field(default=list, repr=False, compare=False)

    @cached_property
    def reasons(self) -> list[str]:
        """Why, in words; built on first use: a whole candidate set is scored, only a page is shown."""
        return self.explain()


def maturity_fit(achievement: str | None, minimum: str | None) -> tuple[float, str | None]:
    if not minimum or not achievement:
        return 1.0, None
    gap = MATURITY_RANK[minimum] - MATURITY_RANK[achievement]
    if gap <= 0:
        return 1.0, f"成熟度{MATURITY_ZH[achievement]}, 满足需求 (不低于{MATURITY_ZH[minimum]})"
    return max(0.0, 1.0 - 0.5 * gap), f"成熟度{MATURITY_ZH[achievement]}, 低于需求的{MATURITY_ZH[minimum]}"


def price_fit(price_fen: int | None, budget_fen: int | None) -> tuple[float, str | None]:
    if budget_fen is None:
        return 1.0, None
    if price_fen is None:
        return 0.9, "价格面议, 需与预算核对"
    if price_fen <= budget_fen:
        return 1.0, f"报价 {price_fen / 1_000_000:.1f} 万元在预算 {budget_fen / 1_000_000:.1f} 万元以内"
    over = (price_fen - budget_fen) / budget_fen if budget_fen else 1.0
    return max(0.0, 1.0 - over), f"报价 {price_fen / 1_000_000:.1f} 万元超出预算 {budget_fen / 1_000_000:.1f} 万元"


def mode_fit(offered: tuple[str, ...], accepted: tuple[str, ...]) -> tuple[float, str | None]:
    if not accepted or not offered:
        return 1.0, None
    common = [MODE_ZH.get(m, m) for m in offered if m in accepted]
    if common:
        return 1.0, "交易方式可行: " + "、".join(common)
    wanted = "、".join(MODE_ZH.get(m, m) for m in accepted)
    return 0.0, f"交易方式不一致 (需求接受{wanted})"


def region_reason(achievement_region: str, demand_region: str) -> tuple[float, str | None]:
    if achievement_region[:4] == demand_region[:4]:
        return 1.0, "同一盟市, 便于对接"
    if achievement_region[:2] == demand_region[:2]:
        return 0.5, "区内成果"
    return 0.0, None


def combine(
    text: float,
    matched_terms: Sequence[str] | Callable[[], Sequence[str]],
    achievement: Side,
    demand: Side,
    field_names: Mapping[str, str],
    weights: MatchWeights | None = None,
    nearness: float | None = None,
) -> Match:
    """Final score in [0, 1] with its reasons; ``text`` is already normalised to [0, 1]. The weights
    of its parts: ``search.weights.MatchWeights``. ``matched_terms`` may be a function: reasons are
    only worked out when read. ``nearness``: the sentence-vector part already blended into ``text``
    (rescaled over the candidates), kept as a component and said when high."""
    weights = weights or active_match()
    same_field = 1.0 if achievement.field and achievement.field == demand.field else 0.0
    maturity, why_maturity = maturity_fit(achievement.maturity, demand.maturity)
    price, why_price = price_fit(achievement.price_fen, demand.price_fen)
    mode, why_mode = mode_fit(achievement.transaction_modes, demand.transaction_modes)
    local, why_local = region_reason(achievement.region, demand.region)
    fit = (maturity + price + mode) / 3
    parts = weights.text * text + weights.field * same_field + weights.fit * fit + weights.local * local
    score = parts / (weights.text + weights.field + weights.fit + weights.local)  # shares of 1, whatever their sum

    def explain() -> list[str]:
        terms = matched_terms() if callable(matched_terms) else matched_terms
        reasons = ["匹配: " + "、".join(terms[:8])] if terms else []
        if nearness is not None and nearness >= NEAR_REASON:
            reasons.append("全文语义相近 (语义模型)")
        if same_field:
            reasons.append(f"同属{field_names.get(achievement.field or '', achievement.field)}领域")
        return reasons + [r for r in (why_maturity, why_price, why_mode, why_local) if r]

    components = {"text": text, "field": same_field, "maturity": maturity, "price": price, "mode": mode, "local": local}
    if nearness is not None:
        components["semantic"] = nearness
    return Match(score=round(min(1.0, max(0.0, score)), 4), explain=explain, components=components)
