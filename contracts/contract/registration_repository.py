"""Every query of 认定登记 requests: a contract's history, the registrars' queue, the serial counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from contracts.contract.models import Contract, ContractAchievement
from contracts.contract.registration_models import (
    RegistrationCounter,
    RegistrationRequest,
    RegistrationRound,
    RegistrationStatus,
)
from market.attachments.models import Attachment, OwnerKind
from market.identity.models import Organization

COUNTERS = SQLModel.metadata.tables[RegistrationCounter.__tablename__]


class RegistrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: object) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def latest(self, contract_id: int) -> RegistrationRequest | None:
        """The contract's newest request (the caller holds the contract's row lock)."""
        statement = (
            select(RegistrationRequest)
            .where(col(RegistrationRequest.contract_id) == contract_id)
            .order_by(col(RegistrationRequest.id).desc())
            .limit(1)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def round(self, request: RegistrationRequest) -> RegistrationRound | None:
        """The request's current round."""
        statement = select(RegistrationRound).where(
            col(RegistrationRound.request_id) == request.id, col(RegistrationRound.round) == request.round
        )
        return (await self.session.execute(statement)).scalars().first()

    async def history(self, contract_id: int) -> list[tuple[RegistrationRequest, list[RegistrationRound]]]:
        """Every request of the contract, oldest first, each with its rounds in order."""
        requests = (
            await self.session.execute(
                select(RegistrationRequest)
                .where(col(RegistrationRequest.contract_id) == contract_id)
                .order_by(col(RegistrationRequest.id))
            )
        ).scalars()
        requests_list = list(requests)
        if not requests_list:
            return []
        rounds = (
            await self.session.execute(
                select(RegistrationRound)
                .where(col(RegistrationRound.request_id).in_([r.id for r in requests_list]))
                .order_by(col(RegistrationRound.request_id), col(RegistrationRound.round))
            )
        ).scalars()
        by_request: dict[int, list[RegistrationRound]] = {}
        for row in rounds:
            by_request.setdefault(row.request_id, []).append(row)
        return [(r, by_request.get(r.id or 0, [])) for r in requests_list]

    async def next_serial(self, region: str, year: int) -> int:
        """Increment the (region, year) counter and return its new value, in one statement: the row
        stays locked until the transaction ends (PostgreSQL), or the writer holds the file (SQLite)."""
        dialect = self.session.bind.dialect.name if self.session.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(COUNTERS)
            .values(region=region, year=year, last_serial=1)
            .on_conflict_do_update(
                index_elements=[COUNTERS.c.region, COUNTERS.c.year],
                set_={"last_serial": COUNTERS.c.last_serial + 1},
            )
            .returning(COUNTERS.c.last_serial)
        )
        return int((await self.session.execute(statement)).scalar_one())

    def _filtered(
        self, region_prefix: str | None, submitted_before: datetime | None, submitted_after: datetime | None
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if region_prefix is not None:
            conditions.append(col(Contract.seller_region).startswith(region_prefix))
        if submitted_before is not None:
            conditions.append(col(RegistrationRequest.submitted_at) <= submitted_before)
        if submitted_after is not None:
            conditions.append(col(RegistrationRequest.submitted_at) > submitted_after)
        return conditions

    async def queue(
        self,
        *,
        region_prefix: str | None,
        status: RegistrationStatus | None,
        submitted_before: datetime | None,
        submitted_after: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[tuple[RegistrationRequest, Contract]], int, dict[str, int]]:
        """The page of requests (oldest submission first), their total, and the count per status
        under the same region and age filters."""
        joined = col(Contract.id) == col(RegistrationRequest.contract_id)
        conditions = self._filtered(region_prefix, submitted_before, submitted_after)
        counted = (
            select(col(RegistrationRequest.status), func.count())
            .join(Contract, joined)
            .where(*conditions)
            .group_by(col(RegistrationRequest.status))
        )
        counts = {s.value: 0 for s in RegistrationStatus}
        for value, n in (await self.session.execute(counted)).all():
            counts[str(getattr(value, "value", value))] = int(n)
        if status is not None:
            conditions.append(col(RegistrationRequest.status) == status)
        total = counts[status.value] if status is not None else sum(counts.values())
        page = (
            select(RegistrationRequest, Contract)
            .join(Contract, joined)
            .where(*conditions)
            .order_by(col(RegistrationRequest.submitted_at), col(RegistrationRequest.id))
            .offset(offset)
            .limit(limit)
        )
        rows = [(request, contract) for request, contract in (await self.session.execute(page)).all()]
        return rows, total, counts

    async def registered(self, number: str) -> Contract | None:
        """The contract a registration number was given to (numbers are unique), if any."""
        statement = select(Contract).where(col(Contract.registration_number) == number)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def organization_names(self, *ids: int) -> dict[int, str]:
        statement = select(col(Organization.id), col(Organization.name)).where(col(Organization.id).in_(ids))
        return {int(i or 0): str(name) for i, name in (await self.session.execute(statement)).all()}

    async def material_files(
        self, contract_ids: Sequence[int]
    ) -> tuple[dict[int, dict[str, list[int]]], dict[int, dict[str, list[int]]]]:
        """Attachment ids by category, per contract: those on the contract, and those on its achievements."""
        on_contract: dict[int, dict[str, list[int]]] = {cid: {} for cid in contract_ids}
        on_achievements: dict[int, dict[str, list[int]]] = {cid: {} for cid in contract_ids}
        if not contract_ids:
            return on_contract, on_achievements
        own = select(col(Attachment.owner_id), col(Attachment.category), col(Attachment.id)).where(
            col(Attachment.owner_kind) == OwnerKind.contract, col(Attachment.owner_id).in_(contract_ids)
        )
        linked = (
            select(col(ContractAchievement.contract_id), col(Attachment.category), col(Attachment.id))
            .join(Attachment, col(Attachment.owner_id) == col(ContractAchievement.achievement_id))
            .where(
                col(Attachment.owner_kind) == OwnerKind.achievement,
                col(ContractAchievement.contract_id).in_(contract_ids),
            )
        )
        for target, statement in ((on_contract, own), (on_achievements, linked)):
            for cid, category, attachment_id in (
                await self.session.execute(statement.order_by(col(Attachment.id)))
            ).all():
                target[int(cid)].setdefault(str(getattr(category, "value", category)), []).append(
                    int(attachment_id or 0)
                )
        return on_contract, on_achievements
