"""Every voucher query. Balances change only by ``move``: one conditional UPDATE whose WHERE clause is
the source balance, so concurrent spends or an expiry racing a spend queue on the row and the loser
sees the winner's balance (the CHECK constraints are the last guard)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import Milestone, MilestoneStatus
from contracts.voucher.ledger import Move, VoucherState
from contracts.voucher.models import (
    RedemptionStatus,
    Voucher,
    VoucherEntry,
    VoucherProvider,
    VoucherRedemption,
    VoucherSpend,
)
from core.pagination import paged
from core.reference import region_prefix
from core.types import utcnow
from market.identity.models import Organization


class VoucherRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def get(self, voucher_id: int) -> Voucher | None:
        statement = select(Voucher).where(col(Voucher.id) == voucher_id).execution_options(populate_existing=True)
        return (await self.session.execute(statement)).scalars().first()

    async def move(
        self,
        voucher: Voucher,
        move: Move,
        source: VoucherState | None,
        target: VoucherState,
        amount: int,
        ref: str,
        actor_user_id: int | None,
        *,
        unexpired: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Move ``amount`` from ``source`` to ``target`` and write its ledger line; False (nothing
        written) when the source balance is short or, with ``unexpired``, the voucher has expired."""
        values: dict[str, Any] = dict(extra or {})
        condition: list[ColumnElement[bool]] = [col(Voucher.id) == voucher.id]
        if source is not None:
            balance = getattr(Voucher, f"{source.value}_fen")
            condition.append(balance >= amount)
            values[f"{source.value}_fen"] = balance - amount
        if unexpired:
            condition.append(col(Voucher.expired_at).is_(None))
        values[f"{target.value}_fen"] = getattr(Voucher, f"{target.value}_fen") + amount
        statement = update(Voucher).where(*condition).values(**values).execution_options(synchronize_session=False)
        result = await self.session.execute(statement)
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return False
        await self.add(
            VoucherEntry(
                voucher_id=voucher.id or 0,
                move=move,
                from_state=source,
                to_state=target,
                amount_fen=amount,
                ref=ref,
                actor_user_id=actor_user_id,
            )
        )
        await self.session.refresh(voucher)
        return True

    async def issued_to(self, organization_id: int, year: int) -> int:
        """Face value issued to an organization for a budget year (less what expired unused)."""
        statement = select(func.coalesce(func.sum(col(Voucher.face_fen) - col(Voucher.expired_fen)), 0)).where(
            col(Voucher.organization_id) == organization_id, col(Voucher.year) == year
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def page(
        self,
        *,
        organization_id: int | None,
        region: str | None,
        year: int | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Voucher], int]:
        statement = select(Voucher)
        if organization_id is not None:
            statement = statement.where(col(Voucher.organization_id) == organization_id)
        if region is not None:
            statement = statement.where(col(Voucher.region).startswith(region_prefix(region)))
        if year is not None:
            statement = statement.where(col(Voucher.year) == year)
        return await paged(self.session, statement.order_by(col(Voucher.id).desc()), offset, limit)

    async def entries(self, voucher_id: int) -> Sequence[VoucherEntry]:
        statement = (
            select(VoucherEntry).where(col(VoucherEntry.voucher_id) == voucher_id).order_by(col(VoucherEntry.id))
        )
        return (await self.session.execute(statement)).scalars().all()

    async def due_for_expiry(self, today: date) -> int | None:
        """One voucher past its last day and not yet expired, locked (on PostgreSQL; SQLite has one
        writer at a time), skipping any another worker holds."""
        statement = (
            select(col(Voucher.id))
            .where(col(Voucher.expired_at).is_(None), col(Voucher.valid_until) < today)
            .order_by(col(Voucher.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        found = (await self.session.execute(statement)).scalars().first()
        return None if found is None else int(found)

    async def mark_expired(self, voucher_id: int) -> bool:
        """Claim a voucher's expiry (only one worker wins it)."""
        statement = (
            update(Voucher)
            .where(col(Voucher.id) == voucher_id, col(Voucher.expired_at).is_(None))
            .values(expired_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        assert isinstance(result, CursorResult)
        return bool(result.rowcount == 1)

    # --- providers ------------------------------------------------------------------------------

    async def provider(self, organization_id: int, *, lock: bool = False) -> VoucherProvider | None:
        statement = select(VoucherProvider).where(col(VoucherProvider.organization_id) == organization_id)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def providers(
        self, *, category: str | None, region: str | None, offset: int, limit: int
    ) -> tuple[list[tuple[VoucherProvider, str]], int]:
        """A window of the listed providers with their organizations' names, and their count."""
        condition: list[ColumnElement[bool]] = [col(VoucherProvider.delisted_at).is_(None)]
        if region is not None:
            condition.append(col(VoucherProvider.region).startswith(region_prefix(region)))
        if category is not None:
            condition.append(col(VoucherProvider.categories).contains(f",{category},", autoescape=True))
        total = (await self.session.execute(select(func.count(col(VoucherProvider.id))).where(*condition))).scalar_one()
        statement = (
            select(VoucherProvider, col(Organization.name))
            .join(Organization, col(Organization.id) == col(VoucherProvider.organization_id))
            .where(*condition)
            .order_by(col(VoucherProvider.id))
            .offset(offset)
            .limit(limit)
        )
        rows = (await self.session.execute(statement)).all()
        return [(provider, str(name)) for provider, name in rows], int(total)

    # --- spends and redemptions -----------------------------------------------------------------

    async def generation(self, voucher_id: int) -> int:
        """How many moves so far re-split the voucher's budget reservation (spends and voids of spends)."""
        statement = select(func.count(col(VoucherEntry.id))).where(
            col(VoucherEntry.voucher_id) == voucher_id, col(VoucherEntry.move).in_([Move.spend, Move.void])
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def covered(self, milestone_id: int) -> int:
        """Fen of a milestone paid with a voucher (0 when none, or the spend is void)."""
        statement = select(col(VoucherSpend.amount_fen)).where(
            col(VoucherSpend.milestone_id) == milestone_id, col(VoucherSpend.voided_at).is_(None)
        )
        return int((await self.session.execute(statement)).scalar_one_or_none() or 0)

    async def unpaid_spends(self, contract_id: int) -> list[VoucherSpend]:
        """A contract's live spends whose milestone is waiting for payment (none is on its way)."""
        statement = (
            select(VoucherSpend)
            .join(Milestone, col(Milestone.id) == col(VoucherSpend.milestone_id))
            .where(
                col(VoucherSpend.contract_id) == contract_id,
                col(VoucherSpend.voided_at).is_(None),
                col(VoucherSpend.redemption_id).is_(None),
                col(Milestone.status) == MilestoneStatus.pending,
            )
            .order_by(col(VoucherSpend.id))
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def spend_of_milestone(self, milestone_id: int) -> VoucherSpend | None:
        statement = select(VoucherSpend).where(col(VoucherSpend.milestone_id) == milestone_id)
        return (await self.session.execute(statement)).scalars().first()

    async def received(self, provider_org_id: int, offset: int, limit: int) -> tuple[list[VoucherSpend], int]:
        statement = (
            select(VoucherSpend)
            .where(col(VoucherSpend.provider_org_id) == provider_org_id)
            .order_by(col(VoucherSpend.id).desc())
        )
        return await paged(self.session, statement, offset, limit)

    async def redeemable(self, provider_org_id: int, *, lock: bool) -> list[VoucherSpend]:
        """The provider's spends not yet redeemed whose milestone is paid (the deal went through)."""
        statement = (
            select(VoucherSpend)
            .join(Milestone, col(Milestone.id) == col(VoucherSpend.milestone_id))
            .where(
                col(VoucherSpend.provider_org_id) == provider_org_id,
                col(VoucherSpend.redemption_id).is_(None),
                col(VoucherSpend.voided_at).is_(None),
                col(Milestone.status) == MilestoneStatus.paid,
            )
            .order_by(col(VoucherSpend.id))
        )
        if lock:
            statement = statement.with_for_update(of=VoucherSpend)
        return list((await self.session.execute(statement)).scalars().all())

    async def redemption_by_key(self, key: str, *, lock: bool = False) -> VoucherRedemption | None:
        statement = select(VoucherRedemption).where(col(VoucherRedemption.idempotency_key) == key)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement.execution_options(populate_existing=True))).scalars().first()

    async def failed_redemptions(self, provider_org_id: int) -> int:
        statement = select(func.count(col(VoucherRedemption.id))).where(
            col(VoucherRedemption.provider_org_id) == provider_org_id,
            col(VoucherRedemption.status) == RedemptionStatus.failed,
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def spends_of(self, redemption_id: int) -> list[VoucherSpend]:
        statement = (
            select(VoucherSpend).where(col(VoucherSpend.redemption_id) == redemption_id).order_by(col(VoucherSpend.id))
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def pending_redemptions(self, created_before: datetime, limit: int) -> list[VoucherRedemption]:
        """Redemptions still waiting for their payout's outcome, sent before ``created_before``."""
        statement = (
            select(VoucherRedemption)
            .where(
                col(VoucherRedemption.status) == RedemptionStatus.pending,
                col(VoucherRedemption.payout_id).is_not(None),
                col(VoucherRedemption.created_at) < created_before,
            )
            .order_by(col(VoucherRedemption.id))
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def totals(self) -> tuple[int, int]:
        """(face value of every voucher, sum of every balance): equal while the ledger conserves."""
        statement = select(
            func.coalesce(func.sum(col(Voucher.face_fen)), 0),
            func.coalesce(
                func.sum(
                    col(Voucher.issued_fen)
                    + col(Voucher.held_fen)
                    + col(Voucher.spent_fen)
                    + col(Voucher.redeemed_fen)
                    + col(Voucher.expired_fen)
                ),
                0,
            ),
        )
        face, parts = (await self.session.execute(statement)).one()
        return int(face), int(parts)

    async def support_by_contract(
        self, *, region: str | None, year: int | None
    ) -> list[tuple[int, str, int, int, int]]:
        """(year, budget region, contract id, technology income, voucher value spent or redeemed) per contract."""
        statement = (
            select(
                col(Voucher.year),
                col(Voucher.budget_region),
                col(VoucherSpend.contract_id),
                func.max(col(VoucherSpend.technology_income_fen)),
                func.sum(col(VoucherSpend.amount_fen)),
            )
            .join(Voucher, col(Voucher.id) == col(VoucherSpend.voucher_id))
            .where(col(VoucherSpend.voided_at).is_(None))
            .group_by(col(Voucher.year), col(Voucher.budget_region), col(VoucherSpend.contract_id))
        )
        if region is not None:
            statement = statement.where(col(Voucher.budget_region).startswith(region_prefix(region)))
        if year is not None:
            statement = statement.where(col(Voucher.year) == year)
        rows = (await self.session.execute(statement)).all()
        return [(int(y), str(r), int(c), int(t), int(a)) for y, r, c, t, a in rows]
