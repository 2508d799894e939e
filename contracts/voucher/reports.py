"""Policy support reports: what each budget (year × 盟市 or 自治区本级 × instrument) committed and disbursed,
and the leverage of the support, beside the turnover target.

Committed is the budget's reserved account (approved 后补助 not yet paid; vouchers issued, held or
spent and not yet redeemed); disbursed is what left through payouts. Both come from the shared budget
ledger (``contracts.subsidy.budget``), so the two instruments are counted the same way.

Leverage (杠杆率) = 技术交易额 of the supported contracts ÷ the support they got: yuan of registered
technology income per yuan of support. Vouchers: the contracts a voucher paid part of and the value
spent on them (a contract counts once however many milestones it paid). 后补助: the contracts of
claims the 科技厅 approved (reserved, being paid or paid) and the approved amounts. The target shown is
the region's next contract-turnover target, as ``contracts.statistics.reference`` reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.statistics.dimensions import region_name
from contracts.statistics.reference import PolicyTarget, policy_targets
from contracts.subsidy.budget_models import Instrument
from contracts.voucher.report_repository import ReportRepository
from core.money import fen_to_yuan
from core.tabular import Column

INSTRUMENT_ZH = {Instrument.post_subsidy.value: "技术交易后补助", Instrument.voucher.value: "科技创新券"}
TURNOVER = "contract_turnover"
PROVINCE = "150000"


@dataclass(frozen=True)
class SupportLine:
    year: int
    region: str
    instrument: str
    allocated_fen: int
    committed_fen: int
    disbursed_fen: int
    supported_contracts: int | None
    technology_income_fen: int | None
    support_on_contracts_fen: int | None

    @property
    def available_fen(self) -> int:
        return self.allocated_fen - self.committed_fen - self.disbursed_fen

    @property
    def leverage(self) -> Decimal | None:
        """技术交易额 per yuan of support (two decimals), None when nothing was spent on contracts."""
        if not self.support_on_contracts_fen or self.technology_income_fen is None:
            return None
        ratio = Decimal(self.technology_income_fen) / Decimal(self.support_on_contracts_fen)
        return ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def target_for(year: int, targets: Sequence[PolicyTarget] | None = None) -> PolicyTarget | None:
    """The region's contract-turnover target in force for ``year``: the first whose year is not before it."""
    candidates = [
        t
        for t in (targets or policy_targets())
        if t.region == PROVINCE and t.metric == TURNOVER and t.target_year >= year
    ]
    return min(candidates, key=lambda t: t.target_year) if candidates else None


async def support_lines(session: AsyncSession, *, region: str | None, year: int | None) -> list[SupportLine]:
    """One line per budget in scope (``region``: a 盟市 or the whole region; None: every budget)."""
    repository = ReportRepository(session)
    supported = {
        Instrument.voucher.value: await repository.voucher_support(region=region, year=year),
        Instrument.post_subsidy.value: await repository.post_subsidy_support(region=region, year=year),
    }
    lines = []
    for b in await repository.budgets(region=region, year=year):
        instrument = b.instrument.value
        contracts, income, support = supported.get(instrument, {}).get((b.year, b.region_code), (0, 0, 0))
        lines.append(
            SupportLine(
                year=b.year,
                region=b.region_code,
                instrument=instrument,
                allocated_fen=b.total_fen,
                committed_fen=b.reserved_fen,
                disbursed_fen=b.disbursed_fen,
                supported_contracts=contracts,
                technology_income_fen=income,
                support_on_contracts_fen=support,
            )
        )
    return lines


EXPORT_COLUMNS = (
    Column("year", "年度", 8),
    Column("region", "地区代码", 10),
    Column("region_name", "地区", 14),
    Column("instrument", "政策工具", 16),
    Column("allocated", "预算总额 (元)", 16, amount=True),
    Column("committed", "已承诺 (元)", 16, amount=True),
    Column("disbursed", "已拨付 (元)", 16, amount=True),
    Column("available", "可用余额 (元)", 16, amount=True),
    Column("supported_contracts", "支持的合同数", 12),
    Column("technology_income", "支持合同技术交易额 (元)", 20, amount=True),
    Column("support_on_contracts", "用于合同的支持金额 (元)", 20, amount=True),
    Column("leverage", "杠杆率 (技术交易额/支持金额)", 18),
    Column("target_year", "成交额目标年度", 12),
    Column("target_turnover", "技术合同成交额目标 (元)", 20, amount=True),
    Column("target_source", "目标来源", 40),
)


def region_label(code: str) -> str:
    return "自治区本级" if code == PROVINCE else region_name(code)


def export_rows(lines: Sequence[SupportLine]) -> list[list[object]]:
    rows: list[list[object]] = []
    for line in lines:
        target = target_for(line.year)
        rows.append(
            [
                line.year,
                line.region,
                region_label(line.region),
                INSTRUMENT_ZH.get(line.instrument, line.instrument),
                fen_to_yuan(line.allocated_fen),
                fen_to_yuan(line.committed_fen),
                fen_to_yuan(line.disbursed_fen),
                fen_to_yuan(line.available_fen),
                line.supported_contracts,
                None if line.technology_income_fen is None else fen_to_yuan(line.technology_income_fen),
                None if line.support_on_contracts_fen is None else fen_to_yuan(line.support_on_contracts_fen),
                None if line.leverage is None else f"{line.leverage:.2f}",
                None if target is None else target.target_year,
                None if target is None else fen_to_yuan(target.target_value_fen),
                None if target is None else target.source_note,
            ]
        )
    return rows
