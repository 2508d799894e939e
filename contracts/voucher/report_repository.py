"""Every query of the policy support report: the shared budgets, and the contracts each instrument
supported with the support they got (vouchers: value spent on them; 后补助: the approved amount)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.subsidy.budget_models import SubsidyBudget
from contracts.subsidy.models import ClaimLine, ClaimStatus, SubsidyClaim
from contracts.voucher.repository import VoucherRepository
from core.reference import region_prefix

# A claim supports its contracts from the 科技厅's approval on (reserved, being paid, or paid).
SUPPORTING = (ClaimStatus.approved, ClaimStatus.disbursing, ClaimStatus.paid, ClaimStatus.payout_failed)

# (year, budget region) → (supported contracts, their technology income, the support they got)
Supported = dict[tuple[int, str], tuple[int, int, int]]


def _add(found: Supported, key: tuple[int, str], contracts: int, income: int, support: int) -> None:
    before = found.get(key, (0, 0, 0))
    found[key] = (before[0] + contracts, before[1] + income, before[2] + support)


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def budgets(self, *, region: str | None, year: int | None) -> Sequence[SubsidyBudget]:
        statement = select(SubsidyBudget)
        if region is not None:
            statement = statement.where(col(SubsidyBudget.region_code).startswith(region_prefix(region)))
        if year is not None:
            statement = statement.where(col(SubsidyBudget.year) == year)
        statement = statement.order_by(
            col(SubsidyBudget.year),
            col(SubsidyBudget.region_code),
            col(SubsidyBudget.instrument),
            col(SubsidyBudget.id),
        )
        return (await self.session.execute(statement)).scalars().all()

    async def voucher_support(self, *, region: str | None, year: int | None) -> Supported:
        found: Supported = {}
        for y, budget_region, _contract, income, spent in await VoucherRepository(self.session).support_by_contract(
            region=region, year=year
        ):
            _add(found, (y, budget_region), 1, income, spent)
        return found

    async def post_subsidy_support(self, *, region: str | None, year: int | None) -> Supported:
        """Per approved claim: its contracts' technology income and its approved amount."""
        statement = (
            select(
                col(SubsidyClaim.year),
                col(SubsidyClaim.budget_region_code),
                col(SubsidyClaim.id),
                func.coalesce(func.sum(col(ClaimLine.technology_income_fen)), 0),
                func.count(col(ClaimLine.id)),
                func.max(col(SubsidyClaim.approved_fen)),
            )
            .join(ClaimLine, col(ClaimLine.claim_id) == col(SubsidyClaim.id))
            .where(col(SubsidyClaim.status).in_(SUPPORTING))
            .group_by(col(SubsidyClaim.year), col(SubsidyClaim.budget_region_code), col(SubsidyClaim.id))
        )
        if region is not None:
            statement = statement.where(col(SubsidyClaim.budget_region_code).startswith(region_prefix(region)))
        if year is not None:
            statement = statement.where(col(SubsidyClaim.year) == year)
        found: Supported = {}
        for y, budget_region, _claim, income, contracts, approved in (await self.session.execute(statement)).all():
            _add(found, (int(y), str(budget_region)), int(contracts), int(income), int(approved or 0))
        return found
