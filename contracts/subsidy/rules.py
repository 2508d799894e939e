"""技术交易后补助 rules as data (``data/post_subsidy_rules.csv``, ``data/budgets.csv``) and the
arithmetic of a claim: pure functions on integer fen.

The rule in force on a contract's registration date (Asia/Shanghai) for the applicant's side judges
it; a later rule never reaches back. Every figure in the files is a configurable placeholder until
the offices replace it (``data/README.md``): the reference material has no published 后补助 rule.

Rounding: a line is ``floor(技术交易额 × rate_bp / 10000)`` fen, so never above the rate, then capped
per contract; a claim is capped by what is left of the applicant's yearly cap.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path

from core.reference import is_known_region

DATA = Path(__file__).with_name("data")
RULES_FILE = "post_subsidy_rules.csv"
BUDGETS_FILE = "budgets.csv"
BP = 10_000
PROVINCE = "150000"
KINDS = frozenset({"enterprise", "university", "institute", "agency", "government"})
TYPES = frozenset({"development", "transfer", "license", "consulting", "service"})
_INTEGER = re.compile(r"^\d+$")


class Side(StrEnum):
    buyer = "buyer"
    seller = "seller"


class BudgetLevel(StrEnum):
    province = "province"  # 科技厅 (自治区级) budget
    city = "city"  # the applicant's 盟市 budget


class RulesDataError(ValueError):
    """A data file that does not say what the loader needs, with the file and line."""


@dataclass(frozen=True)
class SubsidyRule:
    code: str
    issuer_region: str
    effective_from: date
    effective_to: date | None
    side: Side
    entity_kinds: frozenset[str]
    applicant_region: str  # a GB/T 2260 prefix
    contract_types: frozenset[str]
    rate_bp: int
    per_contract_cap_fen: int
    per_applicant_year_cap_fen: int
    budget_level: BudgetLevel
    placeholder: bool
    source_note: str

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def budget_region(self, applicant_region: str) -> str:
        """Which budget pays: the 科技厅's, or the 盟市 the applicant lies in."""
        return PROVINCE if self.budget_level == BudgetLevel.province else applicant_region[:4] + "00"


@dataclass(frozen=True)
class BudgetRow:
    region_code: str
    year: int
    instrument: str
    amount_fen: int
    placeholder: bool
    source_note: str


def _rows(name: str) -> list[tuple[int, dict[str, str]]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return [(line, row) for line, row in enumerate(csv.DictReader(handle), start=2)]


def _int(name: str, line: int, value: str) -> int:
    if not _INTEGER.match(value):
        raise RulesDataError(f"{name}:{line}: {value!r} is not a whole number")
    return int(value)


def _set(name: str, line: int, value: str, allowed: frozenset[str]) -> frozenset[str]:
    items = frozenset(v for v in value.split("|") if v)
    if not items or not items <= allowed:
        raise RulesDataError(f"{name}:{line}: {value!r} has unknown values (allowed: {sorted(allowed)})")
    return items


@cache
def rules() -> tuple[SubsidyRule, ...]:
    loaded = []
    for line, row in _rows(RULES_FILE):
        if not row["source_note"].strip():
            raise RulesDataError(f"{RULES_FILE}:{line}: every rule needs its source_note")
        if not is_known_region(row["issuer_region"]) or row["status"] not in ("placeholder", "published"):
            raise RulesDataError(f"{RULES_FILE}:{line}: unknown issuer_region or status")
        rule = SubsidyRule(
            code=row["code"],
            issuer_region=row["issuer_region"],
            effective_from=date.fromisoformat(row["effective_from"]),
            effective_to=date.fromisoformat(row["effective_to"]) if row["effective_to"] else None,
            side=Side(row["applicant_side"]),
            entity_kinds=_set(RULES_FILE, line, row["entity_kinds"], KINDS),
            applicant_region=row["applicant_region"],
            contract_types=_set(RULES_FILE, line, row["contract_types"], TYPES),
            rate_bp=_int(RULES_FILE, line, row["rate_bp"]),
            per_contract_cap_fen=_int(RULES_FILE, line, row["per_contract_cap_fen"]),
            per_applicant_year_cap_fen=_int(RULES_FILE, line, row["per_applicant_year_cap_fen"]),
            budget_level=BudgetLevel(row["budget_level"]),
            placeholder=row["status"] == "placeholder",
            source_note=row["source_note"].strip(),
        )
        if not 0 < rule.rate_bp <= BP:
            raise RulesDataError(f"{RULES_FILE}:{line}: rate_bp must be in 1..10000")
        loaded.append(rule)
    _no_overlaps(loaded)
    return tuple(loaded)


def _no_overlaps(loaded: Iterable[SubsidyRule]) -> None:
    """Two rules of one issuer and side in force on the same day would make a claim ambiguous."""
    by_key: dict[tuple[str, Side], list[SubsidyRule]] = {}
    for rule in loaded:
        by_key.setdefault((rule.issuer_region, rule.side), []).append(rule)
    for group in by_key.values():
        group.sort(key=lambda r: r.effective_from)
        for earlier, later in zip(group, group[1:], strict=False):
            if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
                raise RulesDataError(f"{RULES_FILE}: {earlier.code} and {later.code} overlap")


@cache
def budget_rows() -> tuple[BudgetRow, ...]:
    loaded = []
    for line, row in _rows(BUDGETS_FILE):
        if not row["source_note"].strip() or not is_known_region(row["region_code"]):
            raise RulesDataError(f"{BUDGETS_FILE}:{line}: needs a known region_code and a source_note")
        loaded.append(
            BudgetRow(
                region_code=row["region_code"],
                year=_int(BUDGETS_FILE, line, row["year"]),
                instrument=row["instrument"],
                amount_fen=_int(BUDGETS_FILE, line, row["amount_fen"]),
                placeholder=row["status"] == "placeholder",
                source_note=row["source_note"].strip(),
            )
        )
    return tuple(loaded)


def budget_row(region_code: str, year: int, instrument: str) -> BudgetRow | None:
    return next(
        (b for b in budget_rows() if (b.region_code, b.year, b.instrument) == (region_code, year, instrument)), None
    )


def by_code(code: str) -> SubsidyRule | None:
    return next((r for r in rules() if r.code == code), None)


def rule_for(side: Side, registered_on: date, applicant_region: str) -> SubsidyRule | None:
    """The rule in force on the registration day for this side; a 盟市's own rule before the 科技厅's."""
    candidates = [
        r
        for r in rules()
        if r.side == side and r.in_force(registered_on) and applicant_region.startswith(r.applicant_region)
    ]
    candidates.sort(key=lambda r: r.issuer_region == PROVINCE)  # the more specific issuer first
    return candidates[0] if candidates else None


def ineligibility(rule: SubsidyRule, *, entity_kind: str, applicant_region: str, contract_type: str) -> str | None:
    """Why a contract is not covered by ``rule`` (Chinese), or None when it is."""
    if entity_kind not in rule.entity_kinds:
        return f"申请单位类型不在政策范围内 ({rule.code}: {'、'.join(sorted(rule.entity_kinds))})"
    if not applicant_region.startswith(rule.applicant_region):
        return f"申请单位所在地区不在政策范围内 ({rule.code})"
    if contract_type not in rule.contract_types:
        return f"合同类型不在政策范围内 ({rule.code}: {'、'.join(sorted(rule.contract_types))})"
    return None


def percent(rate_bp: int) -> str:
    """Basis points as a two-place percent string (800 → "8.00"), without a float."""
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"


def line_amount(technology_income_fen: int, rule: SubsidyRule) -> int:
    """One contract's subsidy: floor(income × rate), then at most the per-contract cap."""
    if technology_income_fen < 0:
        raise ValueError("技术交易额不能为负")
    return min(technology_income_fen * rule.rate_bp // BP, rule.per_contract_cap_fen)


def claim_amount(lines: Iterable[int], rule: SubsidyRule, already_this_year_fen: int) -> int:
    """A claim's total: its lines, at most what is left of the applicant's yearly cap."""
    left = max(0, rule.per_applicant_year_cap_fen - already_this_year_fen)
    return min(sum(lines), left)
