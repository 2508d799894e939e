"""Property tests (hypothesis) of the budget ledger and of 后补助 claims on a real SQLite database.

1. Any sequence of allocations, reservations, releases and disbursements: the budget row equals its
   ledger to the fen, reserved + disbursed never exceed the total, and each move is refused (409,
   nothing changed) exactly when the model says it would overdraw.
2. Any interleaving of building claims over a pool of registered, paid contracts, submitting,
   recommending, approving (perhaps for less), refusing (releasing the reservation: the "refund" of
   a commitment), withdrawing and paying out through the real provider stub: no contract is ever held
   by two live claims or paid twice, the budget is never exceeded, and reserved / disbursed equal the
   claims' approved amounts exactly.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import col

from contracts.contract.models import (
    Contract,
    ContractStatus,
    ContractSubtype,
    ContractType,
    Milestone,
    MilestoneStatus,
)
from contracts.payment.client import PaymentProvider
from contracts.payment.stub import StubProvider
from contracts.settings import PaymentSettings
from contracts.subsidy import budget
from contracts.subsidy.budget import Balances
from contracts.subsidy.models import ClaimLine, ClaimStatus, SubsidyClaim
from contracts.subsidy.service import ClaimService
from core.db import Database, create_engine
from core.errors import DomainError
from market.demo import DEMO_ORGANIZATIONS, PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from market.identity.models import Organization, OrganizationKind, User
from market.identity.service import Principal
from tests.contracts.helpers import ENTERPRISE, INSTITUTE

PLACE = {"region_code": "150200", "instrument": "post_subsidy"}


async def _copy(template_url: str, directory: str) -> Database:
    copy = Path(directory) / "techmarket.db"
    shutil.copyfile(template_url.removeprefix("sqlite+aiosqlite:///"), copy)
    return Database(create_engine(f"sqlite+aiosqlite:///{copy}"))


# --- 1. the ledger -------------------------------------------------------------------------------

moves = st.lists(
    st.tuples(
        st.sampled_from(["allocate", "reserve", "release", "disburse"]),
        st.integers(min_value=0, max_value=5),  # which reference
        st.integers(min_value=-50_000, max_value=100_000),
    ),
    max_size=30,
)


@settings(max_examples=30)
@given(steps=moves)
def test_any_sequence_of_moves_keeps_the_ledger_balanced(migrated_urls: dict[str, str], steps: list) -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as directory:
            database = await _copy(migrated_urls["sqlite"], directory)
            try:
                await _run_moves(database, steps)
            finally:
                await database.dispose()

    asyncio.run(scenario())


async def _run_moves(database: Database, steps: list[tuple[str, int, int]]) -> None:
    total = reserved = disbursed = 0
    held: dict[int, tuple[str, int]] = {}  # slot → (reference, amount) still reserved
    async with database.unit_of_work() as session:
        await budget.allocate(session, **PLACE, year=2030, amount_fen=0, reference="open")
    for n, (kind, slot, raw) in enumerate(steps):
        if kind == "reserve" and slot in held:
            continue
        async with database.unit_of_work() as session:
            try:
                if kind == "allocate":
                    raw = raw or 1
                    ok = total + raw >= reserved + disbursed
                    await budget.allocate(session, **PLACE, year=2030, amount_fen=raw, reference=f"doc:{n}")
                    total += raw
                elif kind == "reserve":
                    amount, reference = abs(raw) or 1, f"claim:{slot}:{n}"
                    ok = amount <= total - reserved - disbursed
                    await budget.reserve(session, **PLACE, year=2030, amount_fen=amount, reference=reference)
                    held[slot], reserved = (reference, amount), reserved + amount
                elif slot in held:
                    reference, amount = held[slot]
                    ok = True
                    move = budget.release if kind == "release" else budget.disburse
                    await move(session, **PLACE, year=2030, amount_fen=amount, reference=reference)
                    del held[slot]
                    reserved -= amount
                    disbursed += amount if kind == "disburse" else 0
                else:
                    ok = False  # nothing reserved under this reference, however much others hold
                    move = budget.release if kind == "release" else budget.disburse
                    await move(session, **PLACE, year=2030, amount_fen=abs(raw) + 1, reference=f"none:{slot}")
                assert ok, f"step {n} {kind} should have been refused"
            except DomainError as error:
                assert not ok, (n, kind, error.code)
                assert error.status_code == 409
        async with database.unit_of_work() as session:
            row = await budget.get(session, "150200", 2030, "post_subsidy")
            assert row is not None
            assert (row.total_fen, row.reserved_fen, row.disbursed_fen) == (total, reserved, disbursed)
            assert 0 <= row.reserved_fen + row.disbursed_fen <= row.total_fen
            assert await budget.ledger_balances(session, row.id or 0) == Balances(
                total, total - reserved - disbursed, reserved, disbursed
            )


# --- 2. claims -----------------------------------------------------------------------------------

CONTRACTS = 4
actions = st.lists(
    st.tuples(
        st.sampled_from(["claim", "claim", "advance", "advance", "advance", "advance", "refuse", "withdraw"]),
        st.integers(min_value=0, max_value=CONTRACTS - 1),  # a contract, or a claim by position
        st.integers(min_value=1, max_value=100),  # percent of the amount asked, for reviews and approvals
        st.booleans(),  # a second contract in the claim; a payout that fails
    ),
    min_size=8,
    max_size=30,
)


@settings(max_examples=30)
@given(
    steps=actions,
    incomes=st.lists(st.integers(min_value=1, max_value=5_000_000_00), min_size=CONTRACTS, max_size=CONTRACTS),
    budget_fen=st.integers(min_value=1, max_value=20_000_000),
)
def test_no_contract_is_subsidised_twice_and_the_budget_holds(
    migrated_urls: dict[str, str], steps: list, incomes: list[int], budget_fen: int
) -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as directory:
            database = await _copy(migrated_urls["sqlite"], directory)
            stub = StubProvider(webhook_url=None, webhook_secret="s" * 40, api_key="sk")
            stub.faults.settle_delay = 0
            transport = httpx.ASGITransport(app=stub.app)
            try:
                async with httpx.AsyncClient(transport=transport) as http:
                    provider = PaymentProvider(
                        http,
                        PaymentSettings(
                            env="test", provider_url="http://stub", provider_api_key="sk", webhook_secret="s" * 40
                        ),
                    )
                    await _run_claims(database, provider, stub, steps, incomes, budget_fen)
            finally:
                await stub.aclose()
                await database.dispose()

    asyncio.run(scenario())


async def _people(database: Database) -> tuple[Principal, Principal, Principal, Organization, Organization]:
    async with database.unit_of_work() as session:

        async def org(email: str) -> Organization:
            name = next(o.name for o in DEMO_ORGANIZATIONS if o.admin_email == email)
            return (await session.execute(select(Organization).where(col(Organization.name) == name))).scalar_one()

        async def user(email: str) -> User:
            return (await session.execute(select(User).where(col(User.email) == email))).scalar_one()

        seller, buyer = await org(INSTITUTE), await org(ENTERPRISE)
        applicant = Principal(await user(INSTITUTE), seller)
        region = Principal(await user(REGION_ADMIN[0]), None)
        admin = Principal(await user(PLATFORM_ADMIN_EMAIL), None)
        return applicant, region, admin, seller, buyer


async def _seed_contracts(
    database: Database, seller: Organization, buyer: Organization, incomes: list[int]
) -> list[int]:
    ids = []
    async with database.unit_of_work() as session:
        for n, income in enumerate(incomes):
            contract = Contract(
                title=f"专利权转让合同 {n}",
                type=ContractType.transfer,
                subtype=ContractSubtype.patent_right,
                seller_org_id=seller.id or 0,
                buyer_org_id=buyer.id or 0,
                seller_region=seller.region,
                buyer_region=buyer.region,
                seller_kind=OrganizationKind(seller.kind),
                buyer_kind=OrganizationKind(buyer.kind),
                total_fen=income + 100,
                technology_income_fen=income,
                status=ContractStatus.performing,
                registration_number=f"2026150299{n:06d}",
                registered_at=datetime(2026, 6, 1, 2, 0, tzinfo=UTC),
            )
            session.add(contract)
            await session.flush()
            session.add(
                Milestone(
                    contract_id=contract.id or 0,
                    seq=1,
                    title="全款",
                    amount_fen=income + 100,
                    status=MilestoneStatus.paid,
                    paid_at=datetime(2026, 6, 2, tzinfo=UTC),
                )
            )
            ids.append(contract.id or 0)
    return ids


async def _run_claims(
    database: Database,
    provider: PaymentProvider,
    stub: StubProvider,
    steps: list[tuple[str, int, int, bool]],
    incomes: list[int],
    budget_fen: int,
) -> None:
    applicant, region, admin, seller, buyer = await _people(database)
    contracts = await _seed_contracts(database, seller, buyer, incomes)
    async with database.unit_of_work() as session:
        await budget.allocate(session, **PLACE, year=2026, amount_fen=budget_fen, reference="test")
    claims: list[int] = []
    for action, which, percent, flag in steps:
        claim_id = claims[-1 - which % min(2, len(claims))] if claims else None  # the latest two, mostly
        try:
            async with database.unit_of_work() as session:
                service = ClaimService(session, provider)
                if action == "claim":
                    chosen = [contracts[which]] + ([contracts[(which + 1) % CONTRACTS]] if flag else [])
                    claims.append((await service.create(applicant, chosen, "演示稀土研究院", "62220001")).id or 0)
                elif claim_id is None:
                    continue
                elif action == "withdraw":
                    await service.withdraw(applicant, claim_id, None)
                else:
                    claim = await service.get(admin, claim_id)
                    action = _next_step(claim.status, action)
                    if action == "submit":
                        await service.submit(applicant, claim_id)
                    elif action in ("review", "refuse_region"):
                        amount = max(1, claim.claimed_fen * percent // 100)
                        approve = action == "review"
                        await service.region_review(region, claim_id, approve=approve, amount_fen=amount, reason="审核")
                    elif action == "approve":
                        amount = max(1, (claim.recommended_fen or claim.claimed_fen) * percent // 100)
                        await service.approve(admin, claim_id, amount, None)
                    elif action == "refuse":
                        await service.refuse(admin, claim_id, "驳回")
                    elif action == "pay":
                        stub.faults.fail_payouts = 1 if flag else 0
                        await service.disburse(admin, claim_id)
            if action == "pay":  # the provider settles, then tells us (as its webhook would)
                await asyncio.sleep(0)
                for task in list(stub._tasks):
                    await task
                async with database.unit_of_work() as session:
                    service = ClaimService(session)
                    claim = await service.get(admin, claim_id or 0)
                    await service.apply_payout(await provider.get_payout(claim.payout_id or ""))
        except DomainError as error:
            assert 400 <= error.status_code < 500, error
        await _check(database, contracts)


def _next_step(status: ClaimStatus, action: str) -> str:
    """What "advance" or "refuse" means for a claim in ``status`` (an illegal move where none is legal)."""
    if action == "refuse":
        return "refuse_region" if status == ClaimStatus.submitted else "refuse"
    return {
        ClaimStatus.draft: "submit",
        ClaimStatus.submitted: "review",
        ClaimStatus.region_approved: "approve",
        ClaimStatus.approved: "pay",
        ClaimStatus.payout_failed: "pay",
    }.get(status, "submit")


async def _check(database: Database, contracts: list[int]) -> None:
    async with database.unit_of_work() as session:
        claims = (await session.execute(select(SubsidyClaim))).scalars().all()
        lines = (await session.execute(select(ClaimLine))).scalars().all()
        row = await budget.get(session, "150200", 2026, "post_subsidy")
        assert row is not None
        assert await budget.unbalanced(session) == []
    for claim in claims:
        event(f"a claim reached {claim.status.value}")
    by_id = {c.id: c for c in claims}
    live = {ClaimStatus.refused, ClaimStatus.withdrawn}
    money = {ClaimStatus.approved, ClaimStatus.disbursing, ClaimStatus.payout_failed, ClaimStatus.paid}
    for contract in contracts:
        holders = [line for line in lines if line.contract_id == contract and by_id[line.claim_id].status not in live]
        assert len(holders) <= 1, f"contract {contract} held by claims {[h.claim_id for h in holders]}"
        assert [h.active_contract_id for h in holders] == [contract] * len(holders)
        paid = [line for line in lines if line.contract_id == contract and by_id[line.claim_id].status in money]
        assert len(paid) <= 1, f"contract {contract} subsidised twice"
    reserved = sum(
        c.approved_fen or 0
        for c in claims
        if c.status in (ClaimStatus.approved, ClaimStatus.disbursing, ClaimStatus.payout_failed)
    )
    disbursed = sum(c.approved_fen or 0 for c in claims if c.status == ClaimStatus.paid)
    assert (row.reserved_fen, row.disbursed_fen) == (reserved, disbursed)
    assert row.reserved_fen + row.disbursed_fen <= row.total_fen
    for claim in claims:
        assert claim.approved_fen is None or 0 < claim.approved_fen <= claim.claimed_fen
