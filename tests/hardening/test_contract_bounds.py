"""Contract bounds and causes (issue examples), on SQLite and PostgreSQL, through the API served on a
real port: each refusal names its own cause (``code``) and field, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from contracts.contract.models import Contract
from market.demo import DEMO_ORGANIZATIONS
from market.identity.models import OrganizationStatus
from tests.contracts.conftest import PaymentWorld, org_id, payment_world, published_achievement  # noqa: F401
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, transfer_contract

API = "/api/v1/contracts"
PENDING = next(o.admin_email for o in DEMO_ORGANIZATIONS if o.status == OrganizationStatus.pending)


async def _contracts(world: PaymentWorld) -> int:
    async with world.database.unit_of_work() as session:
        return int((await session.execute(select(func.count()).select_from(Contract))).scalar_one())


def _refused(reply: httpx.Response, code: str, field: str) -> None:
    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["code"] == code, problem
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)], problem
    assert problem["errors"][0]["message"]


async def test_each_bound_and_party_error_is_refused_with_its_own_code(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement = await published_achievement(world.database, INSTITUTE)
    buyer, seller = await org_id(world.database, ENTERPRISE), await org_id(world.database, INSTITUTE)
    pending = await org_id(world.database, PENDING)
    before = await _contracts(world)

    def post(**overrides: Any):
        return world.api.post(API, json=transfer_contract(achievement, buyer) | overrides, headers=h["seller"])

    inventors = [{"name": "王教授", "weight": 5}, {"name": "李博士", "weight": 0}]
    cases = [
        # Deductions above the payment: net income 0, the inventors would get nothing.
        (
            dict(deductions=[{"kind": "fee", "description": "服务费", "amount": "1000000.00"}]),
            "deductions_exceed_income",
            "body.deductions",
        ),
        (
            dict(deductions=[{"kind": "fee", "description": "服务费", "amount": "2000000.00"}]),
            "deductions_exceed_income",
            "body.deductions",
        ),
        (
            dict(deductions=[{"kind": "fee", "description": "服务费", "amount": "0.00"}]),
            "deduction_not_positive",
            "body.deductions[0].amount",
        ),
        (dict(inventors=inventors), "inventor_weight_not_positive", "body.inventors[1].weight"),
        (dict(term_start="2026-06-01", term_end="2026-05-31"), "term_end_before_start", "body.term_end"),
        (dict(buyer_org_id=seller), "same_organization", "body.buyer_org_id"),
        (dict(buyer_org_id=pending), "party_not_verified", "body.buyer_org_id"),
        (dict(buyer_org_id=987654), "party_not_found", "body.buyer_org_id"),
        (dict(subtype="exclusive_license"), "subtype_mismatch", "body.subtype"),
    ]
    for overrides, code, field in cases:
        _refused(await post(**overrides), code, field)
    assert await _contracts(world) == before

    # Bounds that still hold: a term of one day, deductions just under the total.
    fine = await post(
        term_start="2026-06-01",
        term_end="2026-06-01",
        deductions=[{"kind": "fee", "description": "服务费", "amount": "999999.99"}],
    )
    assert fine.status_code == 201, fine.text


async def test_a_correction_cannot_bring_the_total_under_the_deductions(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    body = transfer_contract(
        await published_achievement(world.database, INSTITUTE), await org_id(world.database, ENTERPRISE)
    )
    created = await world.api.post(API, json=body, headers=h["seller"])
    cid = created.json()["id"]  # deductions 20,000.00
    low = {
        "total": "20000.00",
        "technology_income": "20000.00",
        "reason": "降价",
        "milestones": [{"title": "一次付清", "amount": "20000.00"}],
    }
    _refused(
        await world.api.patch(f"{API}/{cid}/amounts", json=low, headers=h["seller"]),
        "deductions_exceed_income",
        "body.total",
    )
    assert (await world.api.get(f"{API}/{cid}", headers=h["seller"])).json()["total"] == "1000000.00"
