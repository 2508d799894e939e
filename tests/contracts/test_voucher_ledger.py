"""Property tests of the voucher ledger: in any order of issue, accept, spend, redeem and expire, every
fen of every voucher is in exactly one state, and the vouchers never hold more than the budget allows.

Once on the pure arithmetic (``contracts.voucher.ledger``), once on a real SQLite database through the
voucher service, the repository's conditional moves and the shared budget ledger, where a refused
operation (budget short, balance short, expired) must leave nothing behind.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import Contract, ContractStatus, ContractSubtype, ContractType, Milestone
from contracts.subsidy import budget
from contracts.subsidy.budget_models import SubsidyBudget
from contracts.subsidy.errors import BudgetExceeded
from contracts.voucher import errors
from contracts.voucher.ledger import Balances as PureBalances
from contracts.voucher.ledger import BudgetModel, LedgerError, Move, VoucherState
from contracts.voucher.models import Voucher, VoucherEntry, VoucherSpend
from contracts.voucher.repository import VoucherRepository
from contracts.voucher.rules import ServiceCategory
from contracts.voucher.service import VoucherService, today
from core.db import Database, create_engine
from market.demo import PLATFORM_ADMIN_EMAIL
from market.identity.models import Organization, OrganizationKind, User
from market.identity.service import Principal
from tests.contracts.helpers import ENTERPRISE, INSTITUTE

ALLOCATED = 1_000_000  # fen of the budget in these runs: small, so issuing often runs into it

# What an operation may legitimately be refused with; anything else (budget_reservation_short...) fails.
REFUSALS = (
    errors.VoucherNotHeld,
    errors.VoucherExpired,
    errors.VoucherLimitExceeded,
    errors.NothingToRedeem,
    BudgetExceeded,
)

operation = st.one_of(
    st.tuples(st.just("issue"), st.integers(1, 400_000)),
    st.tuples(st.just("accept"), st.integers(0, 5)),
    st.tuples(st.just("spend"), st.integers(0, 5), st.integers(1, 300_000)),
    st.tuples(st.just("redeem"), st.integers(0, 5), st.integers(1, 300_000)),
    st.tuples(st.just("expire"), st.integers(0, 5)),
    st.tuples(st.just("void"), st.integers(0, 5), st.integers(1, 300_000)),
)


# --- the pure ledger ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(operation, max_size=40))
def test_pure_ledger_conserves_every_fen_and_stays_within_the_budget(ops: list[tuple[int | str, ...]]) -> None:
    money = BudgetModel(allocated=ALLOCATED)
    vouchers: list[PureBalances] = []
    expired: set[int] = set()
    for op in ops:
        kind = op[0]
        try:
            if kind == "issue":
                money.reserve(int(op[1]))
                vouchers.append(PureBalances.new(int(op[1])))
            elif vouchers:
                index = int(op[1]) % len(vouchers)
                v = vouchers[index]
                if kind == "accept":
                    v.move(Move.accept, VoucherState.issued, v.issued)
                elif kind == "spend":
                    v.move(Move.spend, VoucherState.held, int(op[2]))
                elif kind == "redeem":
                    v.move(Move.redeem, VoucherState.spent, int(op[2]))
                    money.disburse(int(op[2]))
                elif kind == "void":  # its milestone went unpaid: back to the holder, or lapsed and released
                    v.move(Move.void_lapsed if index in expired else Move.void, VoucherState.spent, int(op[2]))
                    if index in expired:
                        money.release(int(op[2]))
                else:
                    expired.add(index)
                    unspent = v.unspent()
                    for state in (VoucherState.issued, VoucherState.held):
                        if v.get(state):
                            v.move(Move.expire, state, v.get(state))
                    if unspent:
                        money.release(unspent)
        except LedgerError:
            pass
        assert all(v.conserved() for v in vouchers)
        assert money.reserved == sum(v.issued + v.held + v.spent for v in vouchers)
        assert money.disbursed == sum(v.redeemed for v in vouchers)
        assert money.reserved + money.disbursed <= money.allocated


def test_a_move_from_the_wrong_state_or_beyond_the_balance_is_refused() -> None:
    v = PureBalances.new(100)
    with pytest.raises(LedgerError):
        v.move(Move.spend, VoucherState.issued, 1)  # not accepted yet
    v.move(Move.accept, VoucherState.issued, 100)
    with pytest.raises(LedgerError):
        v.move(Move.spend, VoucherState.held, 101)
    with pytest.raises(LedgerError):
        v.move(Move.expire, VoucherState.spent, 1)  # spent value is the provider's, not the budget's
    assert v.conserved() and v.held == 100


# --- the database ---------------------------------------------------------------------------------


@dataclass
class Run:
    database: Database
    admin: Principal
    holder: Principal
    enterprise: int
    contract: int
    spends: dict[int, list[int]] = field(default_factory=dict)  # voucher → its spends not yet redeemed


async def _run(template: Path, ops: list[tuple[int | str, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory) / "vouchers.db"
        shutil.copyfile(template, copy)
        database = Database(create_engine(f"sqlite+aiosqlite:///{copy}"))
        try:
            run = await _world(database)
            ids: list[int] = []
            for number, op in enumerate(ops):
                try:
                    async with database.unit_of_work() as session:
                        await _apply(run, session, ids, number, op)
                except REFUSALS:
                    pass  # refused as a user would be: the unit of work rolled back
                await _check(database)
        finally:
            await database.dispose()


async def _world(database: Database) -> Run:
    async with database.unit_of_work() as session:
        admin = (await session.execute(select(User).where(User.email == PLATFORM_ADMIN_EMAIL))).scalar_one()
        holder_user = (await session.execute(select(User).where(User.email == ENTERPRISE))).scalar_one()
        organization = await session.get(Organization, holder_user.organization_id)
        assert organization is not None
        await budget.allocate(
            session,
            region_code="150000",
            year=today().year,
            instrument="voucher",
            amount_fen=ALLOCATED,
            reference="run",
        )
        seller = (await session.execute(select(User).where(User.email == INSTITUTE))).scalar_one()
        contract = Contract(
            title="创新券属性测试合同",
            type=ContractType.consulting,
            subtype=ContractSubtype.consulting,
            seller_org_id=seller.organization_id or 0,
            buyer_org_id=organization.id or 0,
            seller_region="150200",
            buyer_region=organization.region,
            seller_kind=OrganizationKind.institute,
            buyer_kind=OrganizationKind.enterprise,
            total_fen=10**9,
            technology_income_fen=10**9,
            status=ContractStatus.signed,
        )
        session.add(contract)
        await session.flush()
        holder = Principal(holder_user, organization)
        return Run(database, Principal(admin, None), holder, organization.id or 0, contract.id or 0)


async def _apply(run: Run, session: AsyncSession, ids: list[int], number: int, op: tuple[int | str, ...]) -> None:
    service = VoucherService(session)
    kind = op[0]
    if kind == "issue":
        voucher = await service.issue(
            run.admin,
            organization_id=run.enterprise,
            face_fen=int(op[1]),
            categories=[ServiceCategory.consulting],
            sme_number="2026150100A0001",
            valid_until=None,
        )
        ids.append(voucher.id or 0)
        return
    if not ids:
        return
    voucher_id = ids[int(op[1]) % len(ids)]
    if kind == "accept":
        await service.accept(run.holder, voucher_id)
    elif kind == "spend":  # what a milestone spend records (the milestone's payment is tested end to end)
        voucher = await service.get(run.holder, voucher_id)
        milestone = Milestone(contract_id=run.contract, seq=number + 1, title="节点", amount_fen=10**8)
        session.add(milestone)
        await session.flush()
        spend = VoucherSpend(
            voucher_id=voucher_id,
            contract_id=run.contract,
            milestone_id=milestone.id or 0,
            provider_org_id=run.enterprise,
            category="consulting",
            amount_fen=int(op[2]),
            technology_income_fen=10**9,
        )
        await service.record_spend(voucher, spend, None)
        run.spends.setdefault(voucher_id, []).append(spend.id or 0)
    elif kind == "redeem":  # what a paid payout does to one spend
        waiting = run.spends.get(voucher_id, [])
        if not waiting:
            raise errors.NothingToRedeem()
        spend_id = waiting[int(op[2]) % len(waiting)]
        found = await session.get(VoucherSpend, spend_id)
        assert found is not None
        await service.redeem_spend(found)
        waiting.remove(spend_id)
    else:
        past = today() - timedelta(days=1)
        await session.execute(update(Voucher).where(Voucher.id == voucher_id).values(valid_until=past))
        await service.expire(voucher_id)


async def _check(database: Database) -> None:
    async with database.unit_of_work() as session:
        vouchers = (await session.execute(select(Voucher))).scalars().all()
        for v in vouchers:
            parts = [v.issued_fen, v.held_fen, v.spent_fen, v.redeemed_fen, v.expired_fen]
            assert min(parts) >= 0 and sum(parts) == v.face_fen, v
            replay = dict.fromkeys(VoucherState, 0)
            entries = (await session.execute(select(VoucherEntry).where(VoucherEntry.voucher_id == v.id))).scalars()
            for e in entries:
                if e.from_state is not None:
                    replay[e.from_state] -= e.amount_fen
                replay[e.to_state] += e.amount_fen
            assert [replay[s] for s in VoucherState] == parts
        row = (await session.execute(select(SubsidyBudget))).scalars().one()
        assert row.reserved_fen == sum(v.issued_fen + v.held_fen + v.spent_fen for v in vouchers)
        assert row.disbursed_fen == sum(v.redeemed_fen for v in vouchers)
        assert row.reserved_fen + row.disbursed_fen <= row.total_fen == ALLOCATED
        assert await budget.unbalanced(session) == []
        face, total = await VoucherRepository(session).totals()
        assert face == total


@pytest.fixture(scope="module")
def template(migrated_urls: dict[str, str]) -> Path:
    return Path(migrated_urls["sqlite"].removeprefix("sqlite+aiosqlite:///"))


@settings(max_examples=20)
@given(ops=st.lists(operation, min_size=1, max_size=14))
@example(  # two spends from one voucher, one redeemed, then expiry: each budget reference moves only its own
    ops=[("issue", 100_000), ("accept", 0), ("spend", 0, 30_000), ("spend", 0, 20_000), ("redeem", 0, 1), ("expire", 0)]
)
def test_database_ledger_conserves_every_fen_and_stays_within_the_budget(
    template: Path, ops: list[tuple[int | str, ...]]
) -> None:
    asyncio.run(_run(template, ops))
