from __future__ import annotations

from datetime import datetime

from pydantic import Field

from contracts.reward.models import BeneficiaryKind, DistributionSource
from contracts.reward.rules import DeductionKind
from core.money import Yuan
from core.pagination import Page
from core.visibility import Classified, Org, Parties, Public


class LineRead(Classified):
    """One inventor's (or the institution's) share: personal, for the seller and the admins only."""

    beneficiary: Org[BeneficiaryKind]
    position: Org[int]
    name: Org[str]
    user_id: Org[int | None]
    amount: Org[str]  # signed yuan: reversals are negative


class DistributionRead(Classified):
    """One payment's split: the parties see what was paid, the seller how it was shared."""

    id: Parties[int]
    contract_id: Parties[int]
    payment_id: Parties[int]
    source: Parties[DistributionSource]
    gross: Parties[str]
    deductions: Parties[str]
    net: Parties[str]
    team: Org[str]
    institution: Org[str]
    rate: Org[str]
    rule: Org[str]
    created_at: Parties[datetime]
    lines: Org[list[LineRead]]


class DeductionRead(Classified):
    kind: Parties[DeductionKind]
    description: Parties[str]
    amount: Parties[Yuan]


class LedgerRead(Classified):
    """A contract's ledger (the endpoint names the contract as its subject)."""

    contract_id: Public[int]
    deductions: Parties[list[DeductionRead]]
    items: Public[list[DistributionRead]]
    total: Public[int]
    totals: Org[dict[str, str]]


class MyLineRead(Classified):
    contract_id: Org[int]
    distribution_id: Org[int]
    name: Org[str]
    amount: Org[str]
    created_at: Org[datetime]


class MyLinePage(Page[MyLineRead]):
    """An inventor's own lines (the endpoint names the inventor as the subject)."""

    sum: Org[str] = Field(description="全部分配之和 (不止本页)")
