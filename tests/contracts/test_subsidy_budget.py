"""The budget ledger: reservations never exceed the budget, retries move nothing twice, and the
budget row always equals the sum of its ledger (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from contracts.subsidy import budget
from contracts.subsidy.budget import Balances
from contracts.subsidy.errors import (
    BudgetCutTooDeep,
    BudgetExceeded,
    BudgetNotConfigured,
    BudgetReferenceReused,
    BudgetReservationShort,
)
from core.db import Database

PLACE = {"region_code": "150200", "year": 2026, "instrument": "voucher"}


async def test_reserve_release_disburse_and_the_ledger_balances(database: Database) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(BudgetNotConfigured):
            await budget.reserve(session, **PLACE, amount_fen=1, reference="voucher:0")
        await budget.allocate(session, **PLACE, amount_fen=100_000, reference="2026 下达", source="占位")
        await budget.reserve(session, **PLACE, amount_fen=60_000, reference="voucher:1")
        await budget.reserve(session, **PLACE, amount_fen=60_000, reference="voucher:1")  # a retry: nothing moves
        with pytest.raises(BudgetExceeded) as exceeded:
            await budget.reserve(session, **PLACE, amount_fen=40_001, reference="voucher:2")
        assert exceeded.value.status_code == 409 and exceeded.value.extra["available"] == "400.00"
        with pytest.raises(BudgetReferenceReused):
            await budget.reserve(session, **PLACE, amount_fen=50_000, reference="voucher:1")
        await budget.reserve(session, **PLACE, amount_fen=40_000, reference="voucher:2")
        await budget.disburse(session, **PLACE, amount_fen=60_000, reference="voucher:1")
        await budget.release(session, **PLACE, amount_fen=40_000, reference="voucher:2")
        with pytest.raises(BudgetReservationShort):
            await budget.release(session, **PLACE, amount_fen=1, reference="voucher:3")
        with pytest.raises(BudgetCutTooDeep):
            await budget.allocate(session, **PLACE, amount_fen=-40_001, reference="2026 调减")
        row = await budget.get(session, "150200", 2026, "voucher")
        assert row is not None
        assert (row.total_fen, row.available_fen, row.reserved_fen, row.disbursed_fen) == (100_000, 40_000, 0, 60_000)
        assert await budget.ledger_balances(session, row.id or 0) == Balances(100_000, 40_000, 0, 60_000)
        assert await budget.unbalanced(session) == []
