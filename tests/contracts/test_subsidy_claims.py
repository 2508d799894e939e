"""后补助 claims end to end over real HTTP: the backend and the provider stub on loopback ports, real
signed webhooks, SQLite and PostgreSQL. A seller institute (包头) claims on a registered, paid transfer;
the 盟市 recommends less, the 科技厅 approves (the 盟市 budget is reserved), the first payout fails at
the provider, the second is paid, and the budget's ledger balances to the fen throughout."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from contracts.payment.client import PaymentProvider
from contracts.payment.reconcile import reconcile
from contracts.subsidy import budget
from contracts.subsidy.models import ClaimLine
from tests.contracts.conftest import PaymentWorld, org_id, published_achievement, wait_for
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract

API = "/api/v1"


async def _paid_contract(world: PaymentWorld, h: dict[str, dict[str, str]]) -> dict[str, Any]:
    achievement = await published_achievement(world.database, INSTITUTE)
    contract = await registered_contract(
        world.api, h, transfer_contract(achievement, await org_id(world.database, ENTERPRISE))
    )
    for milestone in contract["milestones"]:
        url = f"{API}/contracts/{contract['id']}/milestones/{milestone['id']}/pay"
        assert (await world.api.post(url, headers=h["buyer"])).status_code == 200

    async def paid() -> bool:
        reply = await world.api.get(f"{API}/contracts/{contract['id']}", headers=h["buyer"])
        return all(m["status"] == "paid" for m in reply.json()["milestones"])

    await wait_for(paid)
    return contract


def _claim_body(*contract_ids: int, account: str = "6222020600001234") -> dict[str, Any]:
    return {"contract_ids": list(contract_ids), "payee_name": "演示稀土研究院", "payee_account": account}


async def _budget_row(world: PaymentWorld, h: dict[str, dict[str, str]]) -> dict[str, Any]:
    reply = await world.api.get(f"{API}/subsidy-budgets", params={"year": 2026}, headers=h["region"])
    assert reply.status_code == 200, reply.text
    rows = [r for r in reply.json()["items"] if r["region_code"] == "150200" and r["instrument"] == "post_subsidy"]
    return rows[0]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"], indirect=False)
async def test_claim_review_approve_payout_failure_and_retry(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement = await published_achievement(world.database, INSTITUTE)
    unpaid = await registered_contract(
        world.api, h, transfer_contract(achievement, await org_id(world.database, ENTERPRISE))
    )
    refused = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(unpaid["id"]), headers=h["seller"])
    assert refused.status_code == 409 and refused.json()["code"] == "contract_not_claimable"
    assert "尚未全部支付" in refused.json()["detail"]

    contract = await _paid_contract(world, h)
    created = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["seller"])
    assert created.status_code == 201, created.text
    claim = created.json()
    # 技术交易额 900000.00 × 5.00% (nmg-2026-seller, placeholder) = 45000.00, paid from the 包头 budget.
    assert (claim["claimed"], claim["rule_code"], claim["budget_region_code"]) == (
        "45000.00",
        "nmg-2026-seller",
        "150200",
    )
    assert [(line["rate_percent"], line["amount"]) for line in claim["lines"]] == [("5.00", "45000.00")]
    cid = claim["id"]

    twice = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["seller"])
    assert twice.status_code == 409 and twice.json()["code"] == "contract_already_claimed"
    async with world.database.unit_of_work() as session:  # the database refuses it too, not only the service
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                session.add(
                    ClaimLine(
                        claim_id=cid,
                        contract_id=contract["id"],
                        active_contract_id=contract["id"],
                        registered_on="2026-01-01",
                        technology_income_fen=1,
                        rate_bp=1,
                        amount_fen=1,
                    )
                )
                await session.flush()
    assert (await world.api.get(f"{API}/subsidy-claims/{cid}", headers=h["other"])).status_code == 404

    assert (await world.api.post(f"{API}/subsidy-claims/{cid}/submit", headers=h["seller"])).status_code == 200
    early = await world.api.post(f"{API}/subsidy-claims/{cid}/approve", json={}, headers=h["admin"])
    assert early.status_code == 409 and early.json()["code"] == "subsidy_claim_state"
    review = await world.api.post(
        f"{API}/subsidy-claims/{cid}/region-review",
        json={"decision": "approve", "amount": "40000.00", "reason": "一份发票不合规, 核减"},
        headers=h["region"],
    )
    assert review.status_code == 200 and review.json()["recommended"] == "40000.00", review.text
    not_region = await world.api.post(f"{API}/subsidy-claims/{cid}/approve", json={}, headers=h["region"])
    assert not_region.status_code == 403 and not_region.json()["code"] == "platform_admin_only"
    approved = await world.api.post(f"{API}/subsidy-claims/{cid}/approve", json={}, headers=h["admin"])
    assert approved.status_code == 200 and approved.json()["approved"] == "40000.00", approved.text
    row = await _budget_row(world, h)
    assert (row["total"], row["reserved"], row["available"]) == ("5000000.00", "40000.00", "4960000.00")

    await world.faults(fail_payouts=1)
    sent = await world.api.post(f"{API}/subsidy-claims/{cid}/disburse", headers=h["admin"])
    assert sent.status_code == 200 and sent.json()["status"] == "disbursing", sent.text

    async def status_is(expected: str) -> bool:
        reply = await world.api.get(f"{API}/subsidy-claims/{cid}", headers=h["seller"])
        return bool(reply.json()["status"] == expected)

    await wait_for(lambda: status_is("payout_failed"))
    assert (await _budget_row(world, h))["reserved"] == "40000.00"  # still set aside for the retry
    again = await world.api.post(f"{API}/subsidy-claims/{cid}/disburse", headers=h["admin"])
    assert again.status_code == 200, again.text
    await wait_for(lambda: status_is("paid"))
    assert len(world.stub.state.payouts) == 2

    row = await _budget_row(world, h)
    assert (row["reserved"], row["disbursed"], row["available"]) == ("0.00", "40000.00", "4960000.00")
    history = (await world.api.get(f"{API}/subsidy-claims/{cid}/history", headers=h["seller"])).json()
    assert [e["to_status"] for e in history["items"]] == [
        "draft",
        "submitted",
        "region_approved",
        "approved",
        "disbursing",
        "payout_failed",
        "disbursing",
        "paid",
    ]
    assert "account_closed" in history["items"][5]["reason"]
    entries = (await world.api.get(f"{API}/subsidy-budgets/{row['id']}/entries", headers=h["admin"])).json()
    assert [(e["kind"], e["amount"]) for e in entries["items"]] == [
        ("allocate", "5000000.00"),
        ("reserve", "40000.00"),
        ("disburse", "40000.00"),
    ]
    async with world.database.unit_of_work() as session:
        assert await budget.unbalanced(session) == []


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=False)
async def test_a_refused_claim_keeps_its_history_and_frees_its_contract(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    contract = await _paid_contract(world, h)
    cid = (await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["seller"])).json()[
        "id"
    ]
    await world.api.post(f"{API}/subsidy-claims/{cid}/submit", headers=h["seller"])
    no_reason = await world.api.post(
        f"{API}/subsidy-claims/{cid}/region-review", json={"decision": "refuse"}, headers=h["region"]
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["code"] == "reason_required"
    refused = await world.api.post(
        f"{API}/subsidy-claims/{cid}/region-review",
        json={"decision": "refuse", "reason": "合同金额与发票不符"},
        headers=h["region"],
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert refused.json()["lines"][0]["holds_contract"] is False
    history = (await world.api.get(f"{API}/subsidy-claims/{cid}/history", headers=h["seller"])).json()
    assert history["items"][-1]["reason"] == "合同金额与发票不符"
    anew = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["seller"])
    assert anew.status_code == 201, anew.text
    energy = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["other"])
    assert energy.status_code == 404  # not a party: a contract it cannot see
    listed = (await world.api.get(f"{API}/subsidy-claims", headers=h["other"])).json()
    assert listed["total"] == 0


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=False)
async def test_a_lost_payout_webhook_is_found_and_repaired_by_reconcile(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    contract = await _paid_contract(world, h)
    created = await world.api.post(f"{API}/subsidy-claims", json=_claim_body(contract["id"]), headers=h["seller"])
    cid = created.json()["id"]
    await world.api.post(f"{API}/subsidy-claims/{cid}/submit", headers=h["seller"])
    await world.api.post(f"{API}/subsidy-claims/{cid}/region-review", json={"decision": "approve"}, headers=h["region"])
    await world.api.post(f"{API}/subsidy-claims/{cid}/approve", json={}, headers=h["admin"])
    await world.faults(drop_webhooks=True)
    assert (await world.api.post(f"{API}/subsidy-claims/{cid}/disburse", headers=h["admin"])).status_code == 200
    await wait_for(lambda: _payout_is(world, "paid"))

    async with httpx.AsyncClient() as http:
        provider = PaymentProvider(http, world.settings)
        found = await reconcile(world.database, provider)
        assert [(d.kind, d.repaired) for d in found] == [("payout_not_applied", False)]
        assert (await world.api.get(f"{API}/subsidy-claims/{cid}", headers=h["seller"])).json()[
            "status"
        ] == "disbursing"
        repaired = await reconcile(world.database, provider, repair=True)
        assert [(d.kind, d.repaired) for d in repaired] == [("payout_not_applied", True)]
        assert await reconcile(world.database, provider) == []
    claim = (await world.api.get(f"{API}/subsidy-claims/{cid}", headers=h["seller"])).json()
    assert claim["status"] == "paid"
    assert (await _budget_row(world, h))["disbursed"] == "45000.00"


async def _payout_is(world: PaymentWorld, status: str) -> bool:
    return [p["status"] for p in world.stub.state.payouts.values()] == [status]
