"""Who sees and changes budgets: the platform admin (科技厅) every budget, a region admin its 盟市's."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.subsidy import budget, errors
from contracts.subsidy.budget_models import BudgetEntry, SubsidyBudget
from core.errors import ValidationFailed
from core.reference import is_known_region, region_prefix
from market.identity.service import Principal


class BudgetDesk:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, principal: Principal, year: int | None, offset: int, limit: int
    ) -> tuple[list[SubsidyBudget], int]:
        if principal.is_platform_admin:
            prefix = None
        elif principal.region_scope is not None:
            prefix = region_prefix(principal.region_scope)
        else:
            raise errors.BudgetAdminsOnly()
        return await budget.list_budgets(self.session, region_prefix=prefix, year=year, offset=offset, limit=limit)

    async def get(self, principal: Principal, budget_id: int) -> SubsidyBudget:
        if not (principal.is_platform_admin or principal.region_scope is not None):
            raise errors.BudgetAdminsOnly()
        row = await self.session.get(SubsidyBudget, budget_id)
        if row is None or not principal.governs_region(row.region_code):
            raise errors.BudgetNotFound()
        return row

    async def entries(
        self, principal: Principal, budget_id: int, offset: int, limit: int
    ) -> tuple[list[BudgetEntry], int]:
        row = await self.get(principal, budget_id)
        return await budget.entries(self.session, row.id or 0, offset, limit)

    async def allocate(
        self,
        principal: Principal,
        *,
        region_code: str,
        year: int,
        instrument: str,
        amount_fen: int,
        reference: str,
        source: str | None,
    ) -> SubsidyBudget:
        """科技厅 appropriates (or cuts) a year's budget; the data file's appropriation comes first."""
        if not principal.is_platform_admin:
            raise errors.PlatformAdminOnly()
        if not is_known_region(region_code):
            raise ValidationFailed.on_field("body.region_code", "unknown_region", "未知的行政区划代码")
        if amount_fen == 0:
            raise ValidationFailed.on_field("body.amount", "amount_positive", "金额须大于 0")
        if await budget.get(self.session, region_code, year, instrument) is None:
            await budget.from_data(self.session, region_code, year, instrument)
        return await budget.allocate(
            self.session,
            region_code=region_code,
            year=year,
            instrument=instrument,
            amount_fen=amount_fen,
            reference=reference,
            source=source or "",
            actor_user_id=principal.user.id,
        )
