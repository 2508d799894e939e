"""Appending distributions to the ledger, and reading them (per contract, per inventor, per institution)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.reward.invitations import InvitationService
from contracts.reward.models import BeneficiaryKind, Distribution, DistributionLine, DistributionSource
from contracts.reward.repository import RewardRepository
from contracts.reward.rules import Ledger, format_bp, inventors_from, rule_name
from core.money import fen_to_yuan
from core.tabular import Column


class RewardedContract(Protocol):
    """What the ledger reads of a contract (the contract package's model has it)."""

    @property
    def id(self) -> int | None: ...
    @property
    def seller_org_id(self) -> int: ...
    @property
    def reward_rate_bp(self) -> int | None: ...
    @property
    def reward_rule(self) -> str | None: ...
    @property
    def inventors(self) -> Sequence[Mapping[str, Any]]: ...


def signed_yuan(fen: int) -> str:
    """Decimal yuan with the sign of a reversal (``-12.34``)."""
    return f"{'-' if fen < 0 else ''}{fen_to_yuan(abs(fen))}"


class RewardService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = RewardRepository(session)

    async def append(
        self, contract: RewardedContract, payment_id: int, amount: int, source: DistributionSource, source_ref: str
    ) -> Distribution | None:
        """Append the distribution of a payment (amount > 0) or refund (amount < 0); once per source_ref.

        The caller holds the contract's lock, so the running totals read here cannot move underneath.
        """
        if await self.repository.distribution_by_ref(source_ref) is not None:
            return None
        inventors = inventors_from(contract.inventors)
        received, net, team, _ = await self.repository.totals(contract.id or 0)
        held = await self.repository.inventor_totals(contract.id or 0)
        ledger = Ledger(
            rate_bp=contract.reward_rate_bp or 0,
            inventors=inventors,
            deductions=await self.repository.deductions_total(contract.id or 0),
            received=received,
            net=net,
            team=team,
            inventor_totals=[held.get(i, 0) for i in range(1, len(inventors) + 1)],
        )
        part = ledger.apply(amount)
        holders = await InvitationService(self.session).holders(contract.id or 0)
        distribution = Distribution(
            contract_id=contract.id or 0,
            payment_id=payment_id,
            source=source,
            source_ref=source_ref,
            gross_fen=part.gross,
            deductions_fen=part.deductions,
            net_fen=part.net,
            team_fen=part.team,
            institution_fen=part.institution,
            rate_bp=ledger.rate_bp,
            rule=contract.reward_rule or "",
        )
        await self.repository.add(distribution)
        lines = [
            DistributionLine(
                distribution_id=distribution.id or 0,
                contract_id=contract.id or 0,
                beneficiary=BeneficiaryKind.institution,
                position=0,
                name="单位",
                organization_id=contract.seller_org_id,
                amount_fen=part.institution,
            )
        ]
        for position, (inventor, share) in enumerate(zip(inventors, part.inventors, strict=True), start=1):
            lines.append(
                DistributionLine(
                    distribution_id=distribution.id or 0,
                    contract_id=contract.id or 0,
                    beneficiary=BeneficiaryKind.inventor,
                    position=position,
                    name=inventor.name,
                    organization_id=contract.seller_org_id,
                    user_id=holders.get(position, inventor.user_id),
                    amount_fen=share,
                )
            )
        await self.repository.add(*lines)
        return distribution


CHINA = ZoneInfo("Asia/Shanghai")

# The columns before 登记号 keep their places, for spreadsheets that read them by position.
EXPORT_COLUMNS = (
    Column("distribution_id", "分配编号", 10),
    Column("contract_id", "合同编号", 10),
    Column("source", "来源", 10),
    Column("beneficiary", "受益方", 12),
    Column("name", "姓名", 16),
    Column("amount", "金额(元)", 16, amount=True),
    Column("deductions", "扣除(元)", 16, amount=True),
    Column("net", "净收入(元)", 16, amount=True),
    Column("rate", "比例", 8),
    Column("rule", "依据", 40),
    Column("registration_number", "登记号", 18),
    Column("date", "日期", 12),
    Column("time", "时间(北京时间)", 10),
)


def china_time(moment: datetime) -> datetime:
    """A stored UTC moment as the clock on the wall in China (exports are read there)."""
    return moment.astimezone(CHINA)


def export_rows(rows: Sequence[tuple[DistributionLine, Distribution, str | None]]) -> list[list[Any]]:
    """Typed cells for core.tabular: amounts as Decimal yuan (a refund's reversal stays a negative number),
    the date as a date and the time as text, both in China time; an unregistered contract has no number."""
    cells = []
    for line, dist, registration_number in rows:
        local = china_time(dist.created_at)
        cells.append(
            [
                dist.id,
                dist.contract_id,
                "到账" if dist.source == DistributionSource.payment else "退款冲回",
                "单位" if line.beneficiary == BeneficiaryKind.institution else "成果完成人",
                line.name,
                fen_to_yuan(line.amount_fen),
                fen_to_yuan(dist.deductions_fen),
                fen_to_yuan(dist.net_fen),
                format_bp(dist.rate_bp),
                rule_name(dist.rule),
                registration_number,
                local.date(),
                local.strftime("%H:%M:%S"),
            ]
        )
    return cells
