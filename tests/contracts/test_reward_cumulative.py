"""Each inventor's share is cumulative, like the team's: the payment schedule never changes what anyone gets.

After every payment and refund each inventor's running total is the largest-remainder apportionment
of the team's running total by weight, so it is within one fen of the exact share and the final
totals do not depend on how the money was cut into payments or in which order they arrived.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.reward.rules import BP, Inventor, Ledger, largest_remainder

rates = st.integers(min_value=5000, max_value=BP)
weight_lists = st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=7)
# (is a refund, amount in fen); a refund takes back at most what was received so far.
operations = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=10**9)), min_size=1, max_size=12)


def team_of(weights: list[int], rate: int, deductions: int = 0) -> Ledger:
    return Ledger(rate, tuple(Inventor(f"完成人{i}", w) for i, w in enumerate(weights)), deductions=deductions)


def check_running_totals(ledger: Ledger, weights: list[int]) -> None:
    totals, team, whole = ledger.inventor_totals, ledger.team, sum(weights)
    assert sum(totals) == team, "the inventors' totals add up to the team's, exactly"
    assert totals == largest_remainder(team, weights), "each total is the apportionment of the team's total"
    for total, weight in zip(totals, weights, strict=True):
        # |total - team x weight / whole| < 1 fen, in integers
        assert abs(total * whole - team * weight) < whole, (total, team, weight, whole)


@settings(max_examples=300)
@given(
    weights=weight_lists,
    rate=rates,
    deductions=st.integers(min_value=0, max_value=10**9),
    steps=operations,
    data=st.data(),
)
def test_running_totals_after_every_payment_and_refund_do_not_depend_on_the_schedule(
    weights: list[int], rate: int, deductions: int, steps: list[tuple[bool, int]], data: st.DataObject
) -> None:
    ledger = team_of(weights, rate, deductions)
    for is_refund, amount in steps:
        amount = -min(amount, ledger.received) if is_refund else amount
        if amount == 0:
            continue
        before = list(ledger.inventor_totals)
        part = ledger.apply(amount)
        assert part.institution + sum(part.inventors) == part.net, "each distribution sums exactly"
        assert [b + p for b, p in zip(before, part.inventors, strict=True)] == ledger.inventor_totals
        assert ledger.team * BP >= ledger.net * rate, "the floor holds on the running total"
        check_running_totals(ledger, weights)

    # The same money received in other chunks, in another order (and in one payment): the same totals.
    received = ledger.received
    if received == 0:
        assert ledger.inventor_totals == [0] * len(weights)
        return
    cuts = sorted(
        data.draw(st.sets(st.integers(min_value=1, max_value=received - 1), max_size=6)) if received > 1 else []
    )
    chunks = [b - a for a, b in zip([0, *cuts], [*cuts, received], strict=True)]
    for schedule in (data.draw(st.permutations(chunks)), [received]):
        other = team_of(weights, rate, deductions)
        for chunk in schedule:
            other.apply(chunk)
        assert (other.net, other.team, other.inventor_totals) == (ledger.net, ledger.team, ledger.inventor_totals)


def test_two_equal_inventors_get_the_same_from_a_hundred_fen_however_it_is_paid() -> None:
    one_by_one, at_once = team_of([1, 1], BP), team_of([1, 1], BP)
    for _ in range(100):
        one_by_one.apply(1)
    at_once.apply(100)
    assert one_by_one.inventor_totals == at_once.inventor_totals == [50, 50]
    seventy = team_of([1, 1], 7000)
    for _ in range(100):
        seventy.apply(1)
    assert seventy.inventor_totals == [35, 35]  # 70 fen: not [70, 0], whatever each 1-fen payment rounds to


def test_three_equal_inventors_share_65250_yuan_exactly_in_two_payments() -> None:
    ledger = team_of([1, 1, 1], 7500)
    ledger.apply(3_000_001)  # 30,000.01 yuan
    ledger.apply(5_699_999)  # 56,999.99 yuan: 87,000.00 received, 75% = 65,250.00 to the team
    assert ledger.team == 6_525_000
    assert ledger.inventor_totals == [2_175_000] * 3  # 21,750.00 each, not 21,750.01 / 21,750.00 / 21,749.99


def test_ties_go_to_the_inventor_listed_first_and_a_line_may_move_a_fen_back() -> None:
    ledger = team_of([1, 3, 3], BP)
    ledger.apply(3)
    assert ledger.inventor_totals == [1, 1, 1]  # quotas 3/7, 9/7, 9/7: the leftover fen by largest remainder
    part = ledger.apply(1)
    # 4 fen: quotas 4/7, 12/7, 12/7 -> 0, 2, 2. The first inventor's line is -0.01 on a payment, so the
    # totals stay the apportionment of the team's total (largest remainder's Alabama paradox).
    assert ledger.inventor_totals == [0, 2, 2] and part.inventors == (-1, 1, 1)
    tie = team_of([1, 1, 1], BP)
    tie.apply(2)
    assert tie.inventor_totals == [1, 1, 0]
