from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from contracts.reward.models import BeneficiaryKind, DistributionSource
from contracts.reward.rules import DeductionKind
from core.money import Yuan


class LineRead(BaseModel):
    beneficiary: BeneficiaryKind
    position: int
    name: str
    user_id: int | None
    amount: str  # signed yuan: reversals are negative


class DistributionRead(BaseModel):
    id: int
    contract_id: int
    payment_id: int
    source: DistributionSource
    gross: str
    deductions: str
    net: str
    team: str
    institution: str
    rate: str
    rule: str
    created_at: datetime
    lines: list[LineRead]


class DeductionRead(BaseModel):
    kind: DeductionKind
    description: str
    amount: Yuan


class LedgerRead(BaseModel):
    contract_id: int
    deductions: list[DeductionRead]
    items: list[DistributionRead]
    total: int
    totals: dict[str, str]


class MyLineRead(BaseModel):
    contract_id: int
    distribution_id: int
    name: str
    amount: str
    created_at: datetime


class MyLinePage(BaseModel):
    items: list[MyLineRead]
    total: int
    sum: str
