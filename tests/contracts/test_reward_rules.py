"""The reward rules and the split: floors by jurisdiction and date, exact fen, order-free totals."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.reward.rules import (
    BP,
    Inventor,
    Ledger,
    NoRuleInForce,
    RateBelowFloor,
    RewardKind,
    check_rate,
    floor_rule,
    inventors_from,
    largest_remainder,
    merge_inventors,
    rate_on_signing,
    reward_applies,
    split,
    split_equity,
)

amounts = st.integers(min_value=0, max_value=10**13)  # up to 1000 亿元 in fen
rates = st.integers(min_value=5000, max_value=BP)
inventor_lists = st.lists(
    st.builds(Inventor, name=st.text(min_size=1, max_size=4), weight=st.integers(min_value=0, max_value=1000)),
    min_size=1,
    max_size=8,
)


# --- rules -------------------------------------------------------------------------------------


def test_inner_mongolia_floor_is_seventy_percent_from_2017_and_national_fifty_elsewhere() -> None:
    assert floor_rule("150200", date(2024, 5, 1)).income_floor_bp == 7000
    assert floor_rule("150000", date(2017, 1, 1)).code == "nm-2017-plan"
    # Before the regional plan, the national default applied in the region too.
    assert floor_rule("150200", date(2016, 6, 1)).income_floor_bp == 5000
    assert floor_rule("110000", date(2024, 5, 1)).income_floor_bp == 5000
    assert floor_rule("110000", date(2024, 5, 1)).code == "cn-2015-art45"
    with pytest.raises(NoRuleInForce):
        floor_rule("110000", date(2015, 9, 30))


def test_institution_may_set_a_higher_rate_never_a_lower_one_and_is_told_which_rule() -> None:
    assert check_rate(None, "150100", date(2025, 3, 1))[0] == 7000
    assert check_rate(8000, "150100", date(2025, 3, 1))[0] == 8000
    with pytest.raises(RateBelowFloor) as refused:
        check_rate(6500, "150100", date(2025, 3, 1))
    message = str(refused.value)
    assert "65%" in message and "70%" in message and "2017" in message and "内蒙古" in message
    with pytest.raises(RateBelowFloor, match="第四十五条"):
        check_rate(4999, "110000", date(2025, 3, 1), RewardKind.equity)
    assert check_rate(6000, "110000", date(2025, 3, 1))[0] == 6000


def test_the_floor_in_force_on_the_signing_date_applies() -> None:
    drafted_2016 = check_rate(None, "150200", date(2016, 6, 1))  # before the regional plan: the national 50%
    assert (drafted_2016[0], drafted_2016[1].code) == (5000, "cn-2015-art45")
    # Drafted at the floor, signed after the regional plan took effect: it takes the new floor.
    rate, rule = rate_on_signing(5000, "150200", date(2017, 3, 1))
    assert (rate, rule.code) == (7000, "nm-2017-plan")
    # A higher rate agreed under the old floor stays if it clears the new one, else it is raised to it.
    assert rate_on_signing(8000, "150200", date(2017, 3, 1))[0] == 8000
    assert rate_on_signing(6000, "150200", date(2017, 3, 1))[0] == 7000
    # A lower floor on the signing day (here the national 50% outside the region) never lowers what the
    # parties agreed, even when they agreed exactly the drafting day's floor.
    assert rate_on_signing(7000, "110000", date(2025, 3, 1)) == (7000, floor_rule("110000", date(2025, 3, 1)))
    # Signed the same day it was drafted: nothing moves.
    assert rate_on_signing(5000, "150200", date(2016, 6, 2))[0] == 5000
    assert rate_on_signing(7500, "150100", date(2025, 3, 1)) == (
        7500,
        floor_rule("150100", date(2025, 3, 1)),
    )


def test_who_is_rewarded_service_inventions_transferred_or_licensed_by_universities_and_institutes() -> None:
    def contract(**overrides: object) -> SimpleNamespace:
        return SimpleNamespace(
            **({"service_invention": True, "type": "transfer", "seller_kind": "institute"} | overrides)
        )

    assert reward_applies(contract()) and reward_applies(contract(type="license", seller_kind="university"))
    assert not reward_applies(contract(service_invention=False))
    assert not reward_applies(contract(type="development"))  # paid for work, not for the achievement
    assert not reward_applies(contract(seller_kind="enterprise"))


def test_inventors_of_several_achievements_are_merged_by_name_with_their_shares_summed() -> None:
    merged = merge_inventors(
        [
            [{"name": "王教授", "share": 5}, {"name": "李博士", "share": "2.5"}, {"name": " "}],
            [{"name": "王教授 ", "share": 1}, {"name": "赵工"}],
            [],
        ]
    )
    assert merged == [
        {"name": "王教授", "weight": 600, "user_id": None},
        {"name": "李博士", "weight": 250, "user_id": None},
        {"name": "赵工", "weight": 100, "user_id": None},  # no share: one
    ]
    assert inventors_from(merged)[0] == Inventor(name="王教授", weight=600)


def test_the_reward_package_imports_nothing_from_the_contract_package() -> None:
    """contract -> reward, never back: the rules are asked, and know nothing of contracts."""
    reward = Path(__file__).resolve().parents[2] / "contracts" / "reward"
    offenders = []
    for path in sorted(reward.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("contracts.contract")]
    assert offenders == []


# --- largest remainder -------------------------------------------------------------------------


def test_largest_remainder_examples() -> None:
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(7, [0, 0]) == [4, 3]  # no weights: equal shares
    assert largest_remainder(10, [5, 3, 2]) == [5, 3, 2]
    assert largest_remainder(1, [1, 2]) == [0, 1]


@given(total=amounts, weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=10))
def test_largest_remainder_sums_exactly_and_stays_within_one_of_the_quota(total: int, weights: list[int]) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights) or len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        assert part * weight_sum - total * weight > -weight_sum  # part > quota - 1
        assert part * weight_sum - total * weight < weight_sum  # part < quota + 1


# --- the split ---------------------------------------------------------------------------------


@given(net=amounts, rate=rates, inventors=inventor_lists)
def test_split_sums_exactly_and_holds_the_floor_at_every_amount(net: int, rate: int, inventors: list[Inventor]) -> None:
    result = split(net, rate, inventors)
    assert result.institution + sum(result.inventors) == net
    assert all(part >= 0 for part in result.inventors) and result.institution >= 0
    assert result.team * BP >= net * rate  # never below the rate
    assert (result.team - 1) * BP < net * rate  # and not a fen more than needed


def test_split_example_seventy_percent_three_inventors() -> None:
    result = split(100_000_01, 7000, [Inventor("甲", 5), Inventor("乙", 3), Inventor("丙", 2)])
    assert result.team == 70_000_01  # 7000000.7 fen rounds up to the inventors
    assert result.inventors == (35_000_01, 21_000_00, 14_000_00)
    assert result.institution == 30_000_00


def test_equity_split_uses_whole_shares_and_the_same_floor() -> None:
    result = split_equity(1_000_001, 7000, [Inventor("甲"), Inventor("乙")])
    assert result.team == 700_001 and result.inventors == (350_001, 350_000) and result.institution == 300_000


@settings(max_examples=150)
@given(
    payments=st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=6),
    deductions=st.integers(min_value=0, max_value=10**10),
    rate=rates,
    inventors=inventor_lists,
    data=st.data(),
)
def test_ledger_totals_do_not_depend_on_payment_order_and_floor_holds_after_each(
    payments: list[int], deductions: int, rate: int, inventors: list[Inventor], data: st.DataObject
) -> None:
    def run(order: list[int]) -> Ledger:
        ledger = Ledger(rate, tuple(inventors), deductions=deductions)
        for amount in order:
            part = ledger.apply(amount)
            assert part.institution + sum(part.inventors) == part.net  # each distribution sums exactly
            assert part.net <= amount and part.team >= 0 and part.institution >= 0
            assert ledger.team * BP >= ledger.net * rate  # floor on the running total
        return ledger

    first = run(payments)
    second = run(data.draw(st.permutations(payments)))
    assert first.net == second.net == max(0, sum(payments) - deductions)
    assert first.team == second.team
    assert first.institution == second.institution
    assert sum(first.inventor_totals) == first.team


@settings(max_examples=150)
@given(
    payments=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=4),
    deductions=st.integers(min_value=0, max_value=10**9),
    rate=rates,
    inventors=inventor_lists,
    data=st.data(),
)
def test_refunds_append_reversals_that_keep_sums_and_floor_and_full_refund_cancels_all(
    payments: list[int], deductions: int, rate: int, inventors: list[Inventor], data: st.DataObject
) -> None:
    ledger = Ledger(rate, tuple(inventors), deductions=deductions)
    lines = [ledger.apply(amount) for amount in payments]
    # Refund each payment in one or two parts, in any order.
    refunds: list[int] = []
    for amount in payments:
        first = data.draw(st.integers(min_value=1, max_value=amount))
        refunds += [first] + ([amount - first] if amount > first else [])
    for refund in data.draw(st.permutations(refunds)):
        reversal = ledger.apply(-refund)
        lines.append(reversal)
        assert reversal.net <= 0 and reversal.team <= 0  # an inventor's line may gain a fen (test_reward_cumulative)
        assert reversal.institution + sum(reversal.inventors) == reversal.net
        assert all(total >= 0 for total in ledger.inventor_totals)
        assert ledger.team * BP >= ledger.net * rate
    assert ledger.received == ledger.net == ledger.team == 0
    assert ledger.inventor_totals == [0] * len(inventors)
    assert sum(line.net for line in lines) == 0


def test_deductions_are_explicit_and_charged_against_the_first_income() -> None:
    ledger = Ledger(7000, (Inventor("甲"),), deductions=3_000_00)
    first = ledger.apply(2_000_00)
    assert (first.net, first.deductions, first.team) == (0, 2_000_00, 0)
    second = ledger.apply(10_000_00)
    assert (second.net, second.deductions) == (9_000_00, 1_000_00)
    assert second.team == 6_300_00 and second.institution == 2_700_00
