"""后补助 rules as data: the rule in force on the registration day, the amount to the fen (rounded
down, capped), and the data files' own checks."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from contracts.subsidy import rules
from contracts.subsidy.rules import Side


def test_a_claim_is_judged_by_the_rule_of_its_registration_day() -> None:
    last_day = rules.rule_for(Side.buyer, date(2025, 12, 31), "150100")
    first_day = rules.rule_for(Side.buyer, date(2026, 1, 1), "150100")
    assert last_day is not None and first_day is not None
    assert (last_day.code, last_day.rate_bp) == ("nmg-2024-buyer", 1000)
    assert (first_day.code, first_day.rate_bp) == ("nmg-2026-buyer", 800)
    assert rules.rule_for(Side.buyer, date(2023, 12, 31), "150100") is None  # before any rule
    assert rules.rule_for(Side.seller, date(2025, 6, 1), "150200") is None  # no seller rule before 2026
    assert rules.rule_for(Side.buyer, date(2026, 6, 1), "110000") is None  # Beijing is outside the region


def test_eligibility_says_why_in_chinese() -> None:
    rule = rules.by_code("nmg-2026-seller")
    assert rule is not None
    assert (
        rules.ineligibility(rule, entity_kind="institute", applicant_region="150200", contract_type="transfer") is None
    )
    assert "单位类型" in (
        rules.ineligibility(rule, entity_kind="enterprise", applicant_region="150200", contract_type="transfer") or ""
    )
    assert "合同类型" in (
        rules.ineligibility(rule, entity_kind="university", applicant_region="150100", contract_type="service") or ""
    )
    buyer = rules.by_code("nmg-2026-buyer")
    assert buyer is not None
    assert (rule.budget_region("150203"), buyer.budget_region("150203")) == ("150200", "150000")


def test_every_figure_is_a_marked_placeholder_with_a_source() -> None:
    assert all(r.placeholder and "未公开" in r.source_note for r in rules.rules())
    assert all(b.placeholder and "未公开" in b.source_note for b in rules.budget_rows())
    assert rules.percent(800) == "8.00" and rules.percent(1234) == "12.34" and rules.percent(5) == "0.05"


@given(income=st.integers(min_value=0, max_value=10**13), code=st.sampled_from([r.code for r in rules.rules()]))
def test_a_line_is_the_rate_rounded_down_to_the_fen_and_capped(income: int, code: str) -> None:
    rule = rules.by_code(code)
    assert rule is not None
    amount = rules.line_amount(income, rule)
    assert amount * rules.BP <= income * rule.rate_bp  # never above the rate
    assert amount == rule.per_contract_cap_fen or (amount + 1) * rules.BP > income * rule.rate_bp  # not a fen less
    assert 0 <= amount <= rule.per_contract_cap_fen


@given(lines=st.lists(st.integers(min_value=0, max_value=10**9), max_size=10), already=st.integers(0, 2 * 10**8))
def test_a_claim_never_passes_the_applicants_yearly_cap(lines: list[int], already: int) -> None:
    rule = rules.by_code("nmg-2026-buyer")
    assert rule is not None
    amount = rules.claim_amount(lines, rule, already)
    assert 0 <= amount <= sum(lines)
    assert amount + already <= max(rule.per_applicant_year_cap_fen, already)
