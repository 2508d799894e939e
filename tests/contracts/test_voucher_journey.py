"""创新券 end to end on SQLite and PostgreSQL, with the provider stub on a real port: the 科技厅 lists a
provider and issues a voucher from its budget, the enterprise accepts it and pays half a milestone
with it (the rest through the provider), the provider redeems through a payout whose webhook settles
it, expiry returns the rest to the budget, and the report shows the leverage beside the target."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from contracts.payment.client import PaymentProvider
from contracts.subsidy import budget
from contracts.subsidy.budget_models import SubsidyBudget
from contracts.voucher.models import Voucher, VoucherEntry, VoucherRedemption
from contracts.voucher.repository import VoucherRepository
from contracts.voucher.service import today
from contracts.voucher.tasks import expire_once, settle_once
from core.db import Database
from tests.contracts.conftest import PaymentWorld, org_id, published_achievement, wait_for
from tests.contracts.helpers import ENERGY, ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract

API = "/api/v1/vouchers"
REPORT = "/api/v1/policy-reports/support"


async def _budget(database: Database, year: int) -> SubsidyBudget:
    async with database.unit_of_work() as session:
        row = await budget.get(session, "150000", year, "voucher")
        assert row is not None
        return row


async def _conserved(database: Database) -> None:
    """Every fen of every voucher is in exactly one state, and the ledger lines add up to the balances."""
    async with database.unit_of_work() as session:
        face, parts = await VoucherRepository(session).totals()
        assert face == parts
        for voucher in (await session.execute(select(Voucher))).scalars():
            balances = {s: 0 for s in ("issued", "held", "spent", "redeemed", "expired")}
            for entry in (
                await session.execute(select(VoucherEntry).where(VoucherEntry.voucher_id == voucher.id))
            ).scalars():
                if entry.from_state is not None:
                    balances[entry.from_state.value] -= entry.amount_fen
                balances[entry.to_state.value] += entry.amount_fen
            assert balances == {s: getattr(voucher, f"{s}_fen") for s in balances}


def _issue(organization_id: int, face: str, **more: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "face_value": face,
        "categories": ["technology_transfer"],
        "sme_number": "2026150100A0001",
        **more,
    }


async def test_voucher_issue_spend_redeem_expire_and_report(payment_world: PaymentWorld) -> None:
    world, api = payment_world, payment_world.api
    h = await headers_of(api)
    year = today().year
    enterprise, institute = await org_id(world.database, ENTERPRISE), await org_id(world.database, INSTITUTE)
    async with world.database.unit_of_work() as session:
        await budget.allocate(
            session, region_code="150000", year=year, instrument="voucher", amount_fen=30_000_000, reference="test"
        )

    # Only admins issue; an institute is not eligible; the budget is never exceeded.
    assert (await api.post(API, json=_issue(enterprise, "1000.00"), headers=h["buyer"])).status_code == 403
    refused = await api.post(API, json=_issue(institute, "1000.00"), headers=h["admin"])
    assert (refused.status_code, refused.json()["code"]) == (409, "voucher_not_eligible")
    assert "创新券只发放给企业" in refused.json()["detail"]
    too_much = await api.post(API, json=_issue(enterprise, "300000.01"), headers=h["admin"])
    assert too_much.json()["code"] in ("budget_exceeded", "voucher_limit_exceeded")
    issued = await api.post(API, json=_issue(enterprise, "200000.00"), headers=h["admin"])
    assert issued.status_code == 201, issued.text
    voucher = issued.json()
    vid = voucher["id"]
    assert voucher["balances"]["issued"] == "200000.00" and voucher["budget_region"] == "150000"
    assert (await _budget(world.database, year)).reserved_fen == 20_000_000

    # Another organization neither sees nor accepts it; the holder accepts it into its account.
    assert (await api.get(f"{API}/{vid}", headers=h["other"])).status_code == 404
    accepted = await api.post(f"{API}/{vid}/accept", headers=h["buyer"])
    assert accepted.json()["balances"]["held"] == "200000.00", accepted.text
    mine = (await api.get(API, headers=h["buyer"])).json()
    assert [v["id"] for v in mine["items"]] == [vid] and mine["total"] == 1

    # The seller must be a listed provider for the contract's category.
    achievement = await published_achievement(world.database, INSTITUTE)
    contract = await registered_contract(api, h, transfer_contract(achievement, enterprise))
    cid, (m1, _m2) = contract["id"], [m["id"] for m in contract["milestones"]]
    spend = {"contract_id": cid, "milestone_id": m1, "amount": "150000.00"}
    unlisted = await api.post(f"{API}/{vid}/spend", json=spend, headers=h["buyer"])
    assert unlisted.json()["code"] == "voucher_provider_not_listed", unlisted.text
    listed = await api.post(
        f"{API}/providers",
        json={"organization_id": institute, "categories": ["technology_transfer"]},
        headers=h["admin"],
    )
    assert listed.status_code == 201, listed.text
    directory = (
        await api.get(f"{API}/providers", params={"category": "technology_transfer"}, headers=h["buyer"])
    ).json()
    assert [p["organization_id"] for p in directory["items"]] == [institute]

    # At most half of a milestone (the placeholder share); the rest goes through the payment provider.
    over = await api.post(f"{API}/{vid}/spend", json=spend | {"amount": "150000.01"}, headers=h["buyer"])
    assert over.json()["code"] == "voucher_spend_not_allowed", over.text
    spent = await api.post(f"{API}/{vid}/spend", json=spend, headers=h["buyer"])
    assert spent.status_code == 201, spent.text
    assert (spent.json()["amount"], spent.json()["payment_amount"]) == ("150000.00", "150000.00")
    again = await api.post(f"{API}/{vid}/spend", json=spend | {"amount": "1.00"}, headers=h["buyer"])
    assert again.json()["code"] == "voucher_spend_not_allowed"
    intents = list(world.stub.state.intents.values())
    assert [i["amount"] for i in intents] == [15_000_000]

    async def milestone_paid() -> bool:
        c = (await api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
        return bool(c["milestones"][0]["status"] == "paid")

    await wait_for(milestone_paid)

    # The provider redeems through one payout; its webhook redeems the spend and disburses the budget.
    assert (await api.post(f"{API}/redemptions", headers=h["buyer"])).json()["code"] == "voucher_provider_only"
    redemption = await api.post(f"{API}/redemptions", headers=h["seller"])
    assert redemption.status_code == 201, redemption.text
    assert redemption.json()["amount"] == "150000.00"

    async def redeemed() -> bool:
        v = (await api.get(f"{API}/{vid}", headers=h["buyer"])).json()
        return bool(v["balances"]["redeemed"] == "150000.00")

    await wait_for(redeemed)
    nothing = await api.post(f"{API}/redemptions", headers=h["seller"])
    assert nothing.json()["code"] == "voucher_nothing_to_redeem"
    row = await _budget(world.database, year)
    assert (row.reserved_fen, row.disbursed_fen) == (5_000_000, 15_000_000)
    await _conserved(world.database)

    # Past its last day the worker expires it: the 50000 held go back to the budget, once.
    async with world.database.unit_of_work() as session:
        await session.execute(update(Voucher).where(Voucher.id == vid).values(valid_until=today() - timedelta(days=1)))
    assert await expire_once(world.database) == 1
    assert await expire_once(world.database) == 0
    final = (await api.get(f"{API}/{vid}", headers=h["buyer"])).json()
    assert final["balances"] == {
        "issued": "0.00",
        "held": "0.00",
        "spent": "0.00",
        "redeemed": "150000.00",
        "expired": "50000.00",
    }
    assert [e["move"] for e in final["entries"]] == ["issue", "accept", "spend", "redeem", "expire"]
    row = await _budget(world.database, year)
    assert (row.reserved_fen, row.disbursed_fen, row.available_fen) == (0, 15_000_000, 15_000_000)
    await _conserved(world.database)

    # The report: the 科技厅's voucher budget, leverage 900000 / 150000 = 6.00 beside the turnover target.
    report = (await api.get(REPORT, params={"year": year}, headers=h["admin"])).json()
    line = next(r for r in report["rows"] if r["instrument"] == "voucher" and r["region"] == "150000")
    assert (line["committed"], line["disbursed"], line["leverage"]) == ("0.00", "150000.00", "6.00")
    assert line["supported_contracts"] == 1 and line["target_turnover"] == "30000000000.00"
    assert line["region_name"] == "自治区本级" and line["target_year"] == 2028
    scoped = await api.get(REPORT, headers=h["region"])
    assert scoped.status_code == 200 and all(r["region"].startswith("1502") for r in scoped.json()["rows"])
    outside = await api.get(REPORT, params={"region": "150000"}, headers=h["region"])
    assert (outside.status_code, outside.json()["code"]) == (403, "policy_report_out_of_scope")
    assert (await api.get(REPORT, headers=h["buyer"])).json()["code"] == "policy_report_admins_only"
    exported = await api.get(f"{REPORT}/export", params={"format": "csv", "year": year}, headers=h["admin"])
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["年度", "地区代码", "地区", "政策工具"]
    voucher_row = next(r for r in rows[1:] if r[3] == "科技创新券")
    assert voucher_row[6] == "150000.00" and voucher_row[11] == "6.00"


async def test_region_admin_issues_from_its_own_budget_only_in_its_region(payment_world: PaymentWorld) -> None:
    api, h = payment_world.api, await headers_of(payment_world.api)
    year = today().year
    energy = await org_id(payment_world.database, ENERGY)  # 鄂尔多斯: outside 包头
    refused = await api.post(API, json=_issue(energy, "1000.00"), headers=h["region"])
    assert (refused.status_code, refused.json()["code"]) == (403, "voucher_issuer_only")
    async with payment_world.database.unit_of_work() as session:
        voucher_budget = await budget.get(session, "150200", year, "voucher")
    assert voucher_budget is None


async def test_a_failed_payout_frees_the_spends_and_a_lost_webhook_is_settled_by_the_worker(
    payment_world: PaymentWorld,
) -> None:
    world, api = payment_world, payment_world.api
    h = await headers_of(api)
    year = today().year
    enterprise, institute = await org_id(world.database, ENTERPRISE), await org_id(world.database, INSTITUTE)
    async with world.database.unit_of_work() as session:
        await budget.allocate(
            session, region_code="150000", year=year, instrument="voucher", amount_fen=30_000_000, reference="test"
        )
    listing = {"organization_id": institute, "categories": ["technology_transfer"]}
    assert (await api.post(f"{API}/providers", json=listing, headers=h["admin"])).status_code == 201
    vid = (await api.post(API, json=_issue(enterprise, "100000.00"), headers=h["admin"])).json()["id"]
    await api.post(f"{API}/{vid}/accept", headers=h["buyer"])
    achievement = await published_achievement(world.database, INSTITUTE)
    contract = await registered_contract(api, h, transfer_contract(achievement, enterprise))
    cid, m1 = contract["id"], contract["milestones"][0]["id"]
    spend = {"contract_id": cid, "milestone_id": m1, "amount": "60000.00"}
    assert (await api.post(f"{API}/{vid}/spend", json=spend, headers=h["buyer"])).status_code == 201

    async def milestone_paid() -> bool:
        c = (await api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
        return bool(c["milestones"][0]["status"] == "paid")

    await wait_for(milestone_paid)

    async def redemption_status(rid: int) -> str:
        async with world.database.unit_of_work() as session:
            row = await session.get(VoucherRedemption, rid)
            assert row is not None
            return str(row.status.value)

    # The provider's bank refuses the payout: the spends are free again, nothing redeemed or disbursed.
    await world.faults(fail_payouts=1)
    first = (await api.post(f"{API}/redemptions", headers=h["seller"])).json()

    async def failed() -> bool:
        return await redemption_status(first["id"]) == "failed"

    await wait_for(failed)
    assert (await _budget(world.database, year)).disbursed_fen == 0

    # Again, but the provider's webhooks are lost: the worker asks the provider and settles it.
    await world.faults(drop_webhooks=True)
    second = (await api.post(f"{API}/redemptions", headers=h["seller"])).json()
    assert second["id"] != first["id"] and second["amount"] == "60000.00"

    async def paid_at_provider() -> bool:
        return any(p["status"] == "paid" for p in world.stub.state.payouts.values())

    await wait_for(paid_at_provider)
    assert await redemption_status(second["id"]) == "pending"
    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        assert await settle_once(world.database, lambda: provider, older_than=timedelta(0)) == 1
        assert await settle_once(world.database, lambda: provider, older_than=timedelta(0)) == 0
    assert await redemption_status(second["id"]) == "paid"
    balances = (await api.get(f"{API}/{vid}", headers=h["buyer"])).json()["balances"]
    assert (balances["held"], balances["spent"], balances["redeemed"]) == ("40000.00", "0.00", "60000.00")
    row = await _budget(world.database, year)
    assert (row.reserved_fen, row.disbursed_fen) == (4_000_000, 6_000_000)
    await _conserved(world.database)
