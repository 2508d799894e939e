"""The policy support report from the shared budgets: committed and disbursed per budget, the leverage of
后补助 and 创新券 beside the turnover target, and a region's rows only for its own 盟市 (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from contracts.contract.models import Contract, ContractStatus, ContractSubtype, ContractType
from contracts.statistics.reference import PolicyTarget
from contracts.subsidy import budget
from contracts.subsidy.models import ClaimLine, ClaimStatus, SubsidyClaim
from contracts.voucher.reports import EXPORT_COLUMNS, export_rows, support_lines, target_for
from core.db import Database
from core.tabular import export_bytes
from market.identity.models import OrganizationKind
from tests.contracts.conftest import org_id
from tests.contracts.helpers import ENTERPRISE, INSTITUTE

YEAR = 2026


async def _approved_claim(database: Database, incomes: list[int], approved: int) -> None:
    seller, buyer = await org_id(database, INSTITUTE), await org_id(database, ENTERPRISE)
    async with database.unit_of_work() as session:
        await budget.allocate(
            session, region_code="150200", year=YEAR, instrument="post_subsidy", amount_fen=1_000_000, reference="r"
        )
        await budget.reserve(
            session, region_code="150200", year=YEAR, instrument="post_subsidy", amount_fen=approved, reference="c:1"
        )
        claim = SubsidyClaim(
            applicant_org_id=seller,
            side="seller",
            region_code="150200",
            year=YEAR,
            rule_code="placeholder",
            budget_region_code="150200",
            claimed_fen=approved,
            approved_fen=approved,
            status=ClaimStatus.approved,
            payee_name="演示稀土研究院",
            payee_account="6222",
        )
        session.add(claim)
        await session.flush()
        for n, income in enumerate(incomes):
            contract = Contract(
                title=f"报表测试合同 {n}",
                type=ContractType.transfer,
                subtype=ContractSubtype.patent_right,
                seller_org_id=seller,
                buyer_org_id=buyer,
                seller_region="150200",
                buyer_region="150100",
                seller_kind=OrganizationKind.institute,
                buyer_kind=OrganizationKind.enterprise,
                total_fen=income,
                technology_income_fen=income,
                status=ContractStatus.registered,
            )
            session.add(contract)
            await session.flush()
            session.add(
                ClaimLine(
                    claim_id=claim.id or 0,
                    contract_id=contract.id or 0,
                    registered_on=f"{YEAR}-03-01",
                    technology_income_fen=income,
                    rate_bp=100,
                    amount_fen=income // 100,
                )
            )
        await session.flush()


async def test_post_subsidy_leverage_and_the_regions_scope(database: Database) -> None:
    await _approved_claim(database, [3_000_000_00, 1_000_000_00], approved=100_000)
    async with database.unit_of_work() as session:
        await budget.allocate(
            session, region_code="150600", year=YEAR, instrument="voucher", amount_fen=500_000, reference="r"
        )
        baotou = await support_lines(session, region="150200", year=YEAR)
        everything = await support_lines(session, region=None, year=None)
    assert [(x.region, x.instrument) for x in baotou] == [("150200", "post_subsidy")]
    line = baotou[0]
    assert (line.allocated_fen, line.committed_fen, line.disbursed_fen, line.available_fen) == (
        1_000_000,
        100_000,
        0,
        900_000,
    )
    assert (line.supported_contracts, line.technology_income_fen) == (2, 4_000_000_00)
    assert line.leverage == Decimal("4000.00")  # 4,000,000 yuan of 技术交易额 per 1,000 yuan approved
    assert {(x.region, x.instrument) for x in everything} == {("150200", "post_subsidy"), ("150600", "voucher")}
    ordos = next(x for x in everything if x.region == "150600")
    assert ordos.leverage is None and ordos.available_fen == 500_000  # nothing spent: no ratio, not zero

    row = export_rows(baotou)[0]
    assert row[2:4] == ["包头市", "技术交易后补助"] and row[11] == "4000.00" and row[12] == 2028
    csv_text = (await export_bytes("csv", EXPORT_COLUMNS, export_rows(baotou), title="政策资金报表")).decode(
        "utf-8-sig"
    )
    assert "\n2026,150200,包头市,技术交易后补助,10000.00,1000.00,0.00,9000.00,2," in csv_text
    workbook = load_workbook(
        io.BytesIO(await export_bytes("xlsx", EXPORT_COLUMNS, export_rows(baotou), title="政策资金报表"))
    )
    sheet = workbook.worksheets[0]
    header, first = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header[:4] == ["年度", "地区代码", "地区", "政策工具"] and header[11] == "杠杆率 (技术交易额/支持金额)"
    assert not isinstance(first[4], str) and first[4] == 10000  # amounts stay numbers, not text


def test_the_target_beside_a_year_is_the_next_one_in_force() -> None:
    targets = (
        PolicyTarget("150000", "contract_turnover", 2020, 30_000_000_000_00, 2500, "2017 plan"),
        PolicyTarget("150000", "contract_turnover", 2025, 10_000_000_000_00, None, "plan to 2025"),
        PolicyTarget("150200", "contract_turnover", 2024, 1, None, "a 盟市's own"),
    )
    assert target_for(2019, targets) == targets[0]
    assert target_for(2021, targets) == targets[1]
    assert target_for(2026, targets) is None
    shipped = target_for(2026)  # from contracts/statistics/data/targets.csv
    assert shipped is not None and (shipped.target_year, shipped.target_value_fen) == (2028, 30_000_000_000_00)
