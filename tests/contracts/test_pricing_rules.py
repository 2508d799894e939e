"""The pricing rules as data: who is bound by art. 18, and the notice period counted in calendar days."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.pricing import rules

DAYS = st.integers(min_value=rules.AGREED.notice_days, max_value=90)
STARTS = st.dates(min_value=date(2016, 2, 26), max_value=date(2040, 12, 31))


@given(start=STARTS, days=DAYS)
def test_a_notice_runs_exactly_its_days_and_signing_opens_the_day_after(start: date, days: int) -> None:
    end = rules.notice_end(start, days)
    assert (end - start).days + 1 == days  # first and last day both count
    assert not any(rules.notice_period_over(end, start + timedelta(days=n)) for n in range(days))
    assert rules.notice_period_over(end, end + timedelta(days=1))


@given(
    contract_type=st.sampled_from(["development", "transfer", "license", "consulting", "service"]),
    seller_kind=st.sampled_from(["university", "institute", "enterprise", "agency", "government"]),
    service_invention=st.booleans(),
)
def test_only_state_funded_units_selling_a_service_invention_are_bound(
    contract_type: str, seller_kind: str, service_invention: bool
) -> None:
    expected = (
        service_invention and contract_type in ("transfer", "license") and seller_kind in ("university", "institute")
    )
    assert rules.bound(contract_type, seller_kind, service_invention) is expected


def test_every_mode_has_one_rule_citing_article_18() -> None:
    assert sorted(rules.RULES_BY_MODE) == ["agreed", "auction", "listed"]
    assert all("第十八条" in rule.citation for rule in rules.RULES)
    assert rules.AGREED.notice_days == 15 and "国发〔2016〕16号" in rules.AGREED.citation
    assert all(rule.notice_days == 0 for rule in rules.RULES if rule.mode != "agreed")
