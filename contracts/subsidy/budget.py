"""The budget ledger shared by every policy instrument (后补助, 创新券).

A budget (region × year × instrument) has three accounts: available, reserved and disbursed, with
``total = available + reserved + disbursed``. Every move is one row of ``subsidy_budget_entries``
and one conditional UPDATE of the budget row whose WHERE clause is the limit (``available >= amount``
for a reservation), so concurrent approvals queue on the row lock and the loser sees the winner's
balance: the budget is never exceeded, on PostgreSQL or SQLite, and the CHECK constraints are the
last guard. ``(budget, kind, reference)`` is unique: the same call repeated moves nothing again.

Usage (each call joins the caller's transaction)::

    await budget.reserve(session, region_code="150200", year=2026, instrument="voucher",
                         amount_fen=5_000_00, reference="voucher:17")
    await budget.disburse(session, ..., reference="voucher:17")   # when the money has left
    await budget.release(session, ..., reference="voucher:17")    # when it never will

A budget missing from the database is made from ``data/budgets.csv`` when a move first needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.subsidy import errors, rules
from contracts.subsidy.budget_models import BudgetEntry, EntryKind, Instrument, SubsidyBudget
from core.money import fen_to_yuan
from core.pagination import paged
from core.types import utcnow

# Which accounts each kind of entry moves money between (None: outside the budget).
MOVES: dict[EntryKind, tuple[str | None, str]] = {
    EntryKind.allocate: (None, "available"),
    EntryKind.reserve: ("available", "reserved"),
    EntryKind.release: ("reserved", "available"),
    EntryKind.disburse: ("reserved", "disbursed"),
}


@dataclass(frozen=True)
class Balances:
    total_fen: int
    available_fen: int
    reserved_fen: int
    disbursed_fen: int


def balances_of(entries: Sequence[tuple[EntryKind, int]]) -> Balances:
    """The accounts as the ledger alone says they are (what the budget row must equal)."""
    accounts = {"available": 0, "reserved": 0, "disbursed": 0}
    total = 0
    for kind, amount in entries:
        source, target = MOVES[kind]
        if source is None:
            total += amount
        else:
            accounts[source] -= amount
        accounts[target] += amount
    return Balances(total, accounts["available"], accounts["reserved"], accounts["disbursed"])


async def get(session: AsyncSession, region_code: str, year: int, instrument: str) -> SubsidyBudget | None:
    statement = (
        select(SubsidyBudget)
        .where(
            col(SubsidyBudget.region_code) == region_code,
            col(SubsidyBudget.year) == year,
            col(SubsidyBudget.instrument) == Instrument(instrument),
        )
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalars().first()


async def allocate(
    session: AsyncSession,
    *,
    region_code: str,
    year: int,
    instrument: str,
    amount_fen: int,
    reference: str,
    source: str = "",
    actor_user_id: int | None = None,
) -> SubsidyBudget:
    """Add to (or, negative, cut) a year's budget, creating the budget row the first time."""
    budget = await get(session, region_code, year, instrument)
    if budget is None:
        try:
            async with session.begin_nested():
                session.add(
                    SubsidyBudget(region_code=region_code, year=year, instrument=Instrument(instrument), source=source)
                )
                await session.flush()
        except IntegrityError:
            pass  # made by a concurrent first allocation: use that row
        budget = await get(session, region_code, year, instrument)
        assert budget is not None
    if amount_fen == 0 or await _recorded(session, budget, EntryKind.allocate, reference, amount_fen):
        return budget
    total, committed = col(SubsidyBudget.total_fen), col(SubsidyBudget.reserved_fen) + col(SubsidyBudget.disbursed_fen)
    values: dict[str, object] = {"total_fen": total + amount_fen, "updated_at": utcnow()}
    if source:
        values["source"] = source
    if not await _move(session, budget, total + amount_fen >= committed, values):
        raise errors.BudgetCutTooDeep(detail=_where(budget))
    await _enter(session, budget, EntryKind.allocate, amount_fen, reference, actor_user_id)
    return await _fresh(session, budget)


async def reserve(
    session: AsyncSession,
    *,
    region_code: str,
    year: int,
    instrument: str,
    amount_fen: int,
    reference: str,
    actor_user_id: int | None = None,
) -> None:
    """Set money aside for ``reference``; 409 ``budget_exceeded`` when the available balance is short."""
    budget = await _require(session, region_code, year, instrument, amount_fen)
    if await _recorded(session, budget, EntryKind.reserve, reference, amount_fen):
        return
    reserved, disbursed = col(SubsidyBudget.reserved_fen), col(SubsidyBudget.disbursed_fen)
    available = col(SubsidyBudget.total_fen) - reserved - disbursed
    values = {"reserved_fen": reserved + amount_fen, "updated_at": utcnow()}
    if not await _move(session, budget, available >= amount_fen, values):
        fresh = await _fresh(session, budget)
        raise errors.BudgetExceeded(
            detail=f"{_where(budget)}可用 {fen_to_yuan(fresh.available_fen)} 元, 需要 {fen_to_yuan(amount_fen)} 元",
            available=str(fen_to_yuan(fresh.available_fen)),
        )
    await _enter(session, budget, EntryKind.reserve, amount_fen, reference, actor_user_id)


async def release(
    session: AsyncSession,
    *,
    region_code: str,
    year: int,
    instrument: str,
    amount_fen: int,
    reference: str,
    actor_user_id: int | None = None,
) -> None:
    """Give money reserved under ``reference`` back to the available balance (refused, withdrawn, expired)."""
    budget = await _require(session, region_code, year, instrument, amount_fen)
    if await _recorded(session, budget, EntryKind.release, reference, amount_fen):
        return
    await _require_outstanding(session, budget, reference, amount_fen)
    reserved = col(SubsidyBudget.reserved_fen)
    if not await _move(
        session, budget, reserved >= amount_fen, {"reserved_fen": reserved - amount_fen, "updated_at": utcnow()}
    ):
        raise errors.BudgetReservationShort(detail=f"{_where(budget)}: {reference}")
    await _enter(session, budget, EntryKind.release, amount_fen, reference, actor_user_id)


async def disburse(
    session: AsyncSession,
    *,
    region_code: str,
    year: int,
    instrument: str,
    amount_fen: int,
    reference: str,
    actor_user_id: int | None = None,
) -> None:
    """Money reserved under ``reference`` has been paid out: it moves to the disbursed account for good.

    A reference may release once and disburse once (e.g. 80 paid and the remaining 20 released), never
    more than it reserved."""
    budget = await _require(session, region_code, year, instrument, amount_fen)
    if await _recorded(session, budget, EntryKind.disburse, reference, amount_fen):
        return
    await _require_outstanding(session, budget, reference, amount_fen)
    reserved, disbursed = col(SubsidyBudget.reserved_fen), col(SubsidyBudget.disbursed_fen)
    values = {"reserved_fen": reserved - amount_fen, "disbursed_fen": disbursed + amount_fen, "updated_at": utcnow()}
    if not await _move(session, budget, reserved >= amount_fen, values):
        raise errors.BudgetReservationShort(detail=f"{_where(budget)}: {reference}")
    await _enter(session, budget, EntryKind.disburse, amount_fen, reference, actor_user_id)


async def ledger_balances(session: AsyncSession, budget_id: int) -> Balances:
    statement = (
        select(col(BudgetEntry.kind), func.sum(col(BudgetEntry.amount_fen)))
        .where(col(BudgetEntry.budget_id) == budget_id)
        .group_by(col(BudgetEntry.kind))
    )
    rows = (await session.execute(statement)).all()
    return balances_of([(EntryKind(kind), int(amount)) for kind, amount in rows])


async def unbalanced(session: AsyncSession) -> list[SubsidyBudget]:
    """Budgets whose row differs from the sum of their ledger (should always be empty)."""
    budgets = (await session.execute(select(SubsidyBudget).order_by(col(SubsidyBudget.id)))).scalars().all()
    wrong = []
    for budget in budgets:
        sums = await ledger_balances(session, budget.id or 0)
        if sums != Balances(budget.total_fen, budget.available_fen, budget.reserved_fen, budget.disbursed_fen):
            wrong.append(budget)
    return wrong


async def list_budgets(
    session: AsyncSession, *, region_prefix: str | None, year: int | None, offset: int, limit: int
) -> tuple[list[SubsidyBudget], int]:
    statement = select(SubsidyBudget)
    if region_prefix:
        statement = statement.where(col(SubsidyBudget.region_code).startswith(region_prefix))
    if year is not None:
        statement = statement.where(col(SubsidyBudget.year) == year)
    statement = statement.order_by(
        col(SubsidyBudget.year).desc(), col(SubsidyBudget.region_code), col(SubsidyBudget.id)
    )
    return await paged(session, statement, offset, limit)


async def entries(session: AsyncSession, budget_id: int, offset: int, limit: int) -> tuple[list[BudgetEntry], int]:
    statement = select(BudgetEntry).where(col(BudgetEntry.budget_id) == budget_id).order_by(col(BudgetEntry.id))
    return await paged(session, statement, offset, limit)


# --- internals ---------------------------------------------------------------------------------


INSTRUMENT_ZH = {Instrument.post_subsidy: "技术交易后补助", Instrument.voucher: "科技创新券"}


def _where(budget: SubsidyBudget) -> str:
    return f"{budget.region_code} {budget.year} 年{INSTRUMENT_ZH[budget.instrument]}预算"


async def _require(
    session: AsyncSession, region_code: str, year: int, instrument: str, amount_fen: int
) -> SubsidyBudget:
    if amount_fen <= 0:
        raise ValueError(f"a budget move needs a positive amount, not {amount_fen}")
    budget = await get(session, region_code, year, instrument) or await from_data(
        session, region_code, year, instrument
    )
    if budget is None:
        raise errors.BudgetNotConfigured(region_code=region_code, year=year, instrument=instrument)
    return budget


async def from_data(session: AsyncSession, region_code: str, year: int, instrument: str) -> SubsidyBudget | None:
    """The budget as ``data/budgets.csv`` appropriates it, made the first time it is needed."""
    row = rules.budget_row(region_code, year, instrument)
    if row is None:
        return None
    return await allocate(
        session,
        region_code=region_code,
        year=year,
        instrument=instrument,
        amount_fen=row.amount_fen,
        reference=rules.BUDGETS_FILE,
        source=row.source_note[:500],
    )


async def _recorded(
    session: AsyncSession, budget: SubsidyBudget, kind: EntryKind, reference: str, amount_fen: int
) -> bool:
    """True when this very move is already in the ledger (a retry); a different amount is refused."""
    statement = select(col(BudgetEntry.amount_fen)).where(
        col(BudgetEntry.budget_id) == budget.id, col(BudgetEntry.kind) == kind, col(BudgetEntry.reference) == reference
    )
    recorded = (await session.execute(statement)).scalar_one_or_none()
    if recorded is None:
        return False
    if recorded != amount_fen:
        raise errors.BudgetReferenceReused(detail=f"{_where(budget)}: {reference}", reference=reference)
    return True


async def _require_outstanding(session: AsyncSession, budget: SubsidyBudget, reference: str, amount_fen: int) -> None:
    """Only money reserved under ``reference`` and not yet released or disbursed may leave the reservation.

    The budget row is locked first (PostgreSQL), so a concurrent release and disbursement of the same
    reservation cannot both pass this check.
    """
    await session.execute(select(col(SubsidyBudget.id)).where(col(SubsidyBudget.id) == budget.id).with_for_update())
    statement = select(col(BudgetEntry.kind), col(BudgetEntry.amount_fen)).where(
        col(BudgetEntry.budget_id) == budget.id, col(BudgetEntry.reference) == reference
    )
    outstanding = 0
    for kind, amount in (await session.execute(statement)).all():
        if kind == EntryKind.reserve:
            outstanding += amount
        elif kind in (EntryKind.release, EntryKind.disburse):
            outstanding -= amount
    if amount_fen > outstanding:
        raise errors.BudgetReservationShort(
            detail=f"{_where(budget)}: {reference} 尚有预留 {fen_to_yuan(max(outstanding, 0))} 元"
        )


async def _move(
    session: AsyncSession, budget: SubsidyBudget, condition: ColumnElement[bool], values: dict[str, object]
) -> bool:
    """The conditional UPDATE: True when the row met ``condition`` (under its row lock) and was changed."""
    statement = (
        update(SubsidyBudget)
        .where(col(SubsidyBudget.id) == budget.id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return bool(result.rowcount == 1)


async def _enter(
    session: AsyncSession,
    budget: SubsidyBudget,
    kind: EntryKind,
    amount_fen: int,
    reference: str,
    actor_user_id: int | None,
) -> None:
    session.add(
        BudgetEntry(
            budget_id=budget.id or 0,
            kind=kind,
            amount_fen=amount_fen,
            reference=reference[:64],
            actor_user_id=actor_user_id,
        )
    )
    await session.flush()


async def _fresh(session: AsyncSession, budget: SubsidyBudget) -> SubsidyBudget:
    await session.refresh(budget)
    return budget
