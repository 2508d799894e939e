"""Signed terms cannot change under a signature (issue examples), on SQLite and PostgreSQL, through the
API served on a real port with the payment stub.

Before registration any change of the terms voids both signatures and the contract is a draft again
(both sign the new terms); after registration only the registrar corrects, and the registration is
re-issued. Signatures and registrations are bound to a digest of the terms, so a change written
around the one amendment path is refused at registration and at payment.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update
from sqlmodel import col

from contracts.contract import terms
from contracts.contract.models import Contract, Milestone
from contracts.reward.models import Deduction
from tests.contracts.conftest import PaymentWorld, org_id, payment_world, published_achievement, wait_for  # noqa: F401
from tests.contracts.helpers import (
    ENTERPRISE,
    INSTITUTE,
    attach_materials,
    headers_of,
    noticed,
    registered_contract,
    transfer_contract,
)

API = "/api/v1/contracts"
MIGRATION = Path(__file__).resolve().parents[2] / "alembic" / "versions" / "0009_contract_hardening.py"


def hundred_thousand(achievement: int, buyer: int) -> dict[str, Any]:
    """The issue's contract: 100,000.00 in two milestones."""
    return transfer_contract(
        achievement,
        buyer,
        total="100000.00",
        technology_income="90000.00",
        milestones=[{"title": "首付款", "amount": "20000.00"}, {"title": "尾款", "amount": "80000.00"}],
        deductions=[{"kind": "maintenance", "description": "专利年费", "amount": "800.00"}],
    )


def amounts(total: str, first: str, second: str, reason: str = "调整价款") -> dict[str, Any]:
    return {
        "total": total,
        "technology_income": first,
        "reason": reason,
        "milestones": [{"title": "首付款", "amount": first}, {"title": "尾款", "amount": second}],
    }


async def _draft(world: PaymentWorld) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    h = await headers_of(world.api)
    body = hundred_thousand(
        await published_achievement(world.database, INSTITUTE), await org_id(world.database, ENTERPRISE)
    )
    reply = await world.api.post(API, json=body, headers=h["seller"])
    assert reply.status_code == 201, reply.text
    for total in ("100000.00", "900000.00"):  # the institute noticed each price these tests sign at (art. 18)
        await noticed(world.api, h["seller"], body | {"total": total})
    return reply.json(), h


async def _audit(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> list[dict[str, Any]]:
    return list((await world.api.get(f"{API}/{cid}/audit", headers=h["buyer"])).json()["items"])


async def test_a_change_after_the_buyer_signed_voids_the_buyers_signature(payment_world: PaymentWorld) -> None:
    world = payment_world
    contract, h = await _draft(world)
    cid = contract["id"]
    assert (await world.api.post(f"{API}/{cid}/sign", headers=h["buyer"])).json()["buyer_signed_at"]

    raised = await world.api.patch(
        f"{API}/{cid}/amounts", json=amounts("900000.00", "180000.00", "720000.00"), headers=h["seller"]
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["buyer_signed_at"] is None and raised.json()["status"] == "draft"

    # The seller signs its own new terms: the contract is not signed, the buyer never agreed to 900,000.
    signed = await world.api.post(f"{API}/{cid}/sign", headers=h["seller"])
    assert signed.status_code == 200
    assert signed.json()["status"] == "draft" and signed.json()["buyer_signed_at"] is None
    asked = await world.api.post(f"{API}/{cid}/registration-request", headers=h["seller"])
    assert asked.status_code == 409

    entry = next(a for a in await _audit(world, h, cid) if a["action"] == "amounts_corrected")
    assert entry["changes"]["total_fen"] == [10_000_000, 90_000_000]
    assert entry["changes"]["signatures_voided"] == ["buyer"] and entry["reason"] == "调整价款"

    # The buyer agrees to the new terms: now it is signed, at 900,000.
    both = await world.api.post(f"{API}/{cid}/sign", headers=h["buyer"])
    assert both.json()["status"] == "signed" and both.json()["total"] == "900000.00"


async def test_a_change_after_both_signed_reopens_signing_and_nothing_registers_or_pays_unsigned_terms(
    payment_world: PaymentWorld,
) -> None:
    world = payment_world
    contract, h = await _draft(world)
    cid = contract["id"]
    for side in ("seller", "buyer"):
        assert (await world.api.post(f"{API}/{cid}/sign", headers=h[side])).status_code == 200
    await attach_materials(world.api, cid, h["seller"])
    assert (await world.api.post(f"{API}/{cid}/registration-request", headers=h["seller"])).status_code == 200

    changed = await world.api.patch(
        f"{API}/{cid}/amounts", json=amounts("5000000.00", "1000000.00", "4000000.00"), headers=h["seller"]
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["status"] == "draft"
    assert after["seller_signed_at"] is None and after["buyer_signed_at"] is None
    assert after["signed_on"] is None and after["registration_requested_at"] is None

    registered = await world.api.post(f"{API}/{cid}/register", json={}, headers=h["region"])
    assert registered.status_code == 409, registered.text
    milestone = after["milestones"][0]["id"]
    paid = await world.api.post(f"{API}/{cid}/milestones/{milestone}/pay", headers=h["buyer"])
    assert paid.status_code == 409 and paid.json()["code"] == "payment_not_allowed"
    assert world.stub.state.intents == {}

    entry = [a for a in await _audit(world, h, cid) if a["action"] == "amounts_corrected"][-1]
    assert (entry["from_status"], entry["to_status"]) == ("signed", "draft")
    assert entry["changes"]["signatures_voided"] == ["seller", "buyer"]
    assert entry["changes"]["total_fen"] == [10_000_000, 500_000_000]


async def test_a_signer_signs_the_terms_they_read_or_nothing(payment_world: PaymentWorld) -> None:
    world = payment_world
    contract, h = await _draft(world)
    cid, seen = contract["id"], contract["terms_digest"]
    assert (
        await world.api.patch(
            f"{API}/{cid}/amounts", json=amounts("900000.00", "180000.00", "720000.00"), headers=h["seller"]
        )
    ).status_code == 200
    stale = await world.api.post(f"{API}/{cid}/sign", json={"terms_digest": seen}, headers=h["buyer"])
    assert stale.status_code == 409 and stale.json()["code"] == "terms_changed"
    current = (await world.api.get(f"{API}/{cid}", headers=h["buyer"])).json()
    assert current["buyer_signed_at"] is None and current["terms_digest"] != seen
    fresh = await world.api.post(
        f"{API}/{cid}/sign", json={"terms_digest": current["terms_digest"]}, headers=h["buyer"]
    )
    assert fresh.status_code == 200 and fresh.json()["buyer_signed_at"]


async def test_after_registration_only_the_registrar_corrects_and_the_registration_is_reissued(
    payment_world: PaymentWorld,
) -> None:
    world = payment_world
    h = await headers_of(world.api)
    body = hundred_thousand(
        await published_achievement(world.database, INSTITUTE), await org_id(world.database, ENTERPRISE)
    )
    contract = await registered_contract(world.api, h, body)
    cid, (m1, _) = contract["id"], [m["id"] for m in contract["milestones"]]
    assert contract["registration_revision"] == 0

    for side in ("seller", "buyer"):
        refused = await world.api.patch(
            f"{API}/{cid}/amounts", json=amounts("5000000.00", "1000000.00", "4000000.00"), headers=h[side]
        )
        assert refused.status_code == 409 and refused.json()["code"] == "amounts_locked"
    assert (
        await world.api.patch(
            f"{API}/{cid}/amounts", json=amounts("5000000.00", "1000000.00", "4000000.00"), headers=h["other"]
        )
    ).status_code == 404
    unchanged = (await world.api.get(f"{API}/{cid}", headers=h["buyer"])).json()
    assert unchanged["total"] == "100000.00" and unchanged["registration_revision"] == 0

    corrected = await world.api.patch(
        f"{API}/{cid}/amounts",
        json=amounts("100000.00", "20000.00", "80000.00", "核定技术交易额") | {"technology_income": "85000.00"},
        headers=h["region"],
    )
    assert corrected.status_code == 200, corrected.text
    reissued = corrected.json()
    assert reissued["status"] == "registered" and reissued["registration_number"] == contract["registration_number"]
    assert reissued["registration_revision"] == 1 and reissued["technology_income"] == "85000.00"
    entry = [a for a in await _audit(world, h, cid) if a["action"] == "amounts_corrected"][-1]
    assert entry["changes"]["technology_income_fen"] == [9_000_000, 8_500_000]
    assert entry["changes"]["registration_revision"] == [0, 1]

    # The corrected registration is what gets paid; a paid milestone's amount is then fixed.
    paid = await world.api.post(f"{API}/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text
    await wait_for(lambda: _milestone_paid(world, h, cid))
    moved = await world.api.patch(
        f"{API}/{cid}/amounts", json=amounts("100000.00", "30000.00", "70000.00"), headers=h["region"]
    )
    assert moved.status_code == 409 and moved.json()["code"] == "milestone_payment_started"


async def _milestone_paid(world: PaymentWorld, h: dict[str, dict[str, str]], cid: int) -> bool:
    return (await world.api.get(f"{API}/{cid}", headers=h["buyer"])).json()["milestones"][0]["status"] == "paid"


async def test_terms_written_around_the_amendment_path_are_refused_at_registration_and_payment(
    payment_world: PaymentWorld,
) -> None:
    """A future writer that forgets ``_amend``: the signatures' and the registration's digests catch it."""
    world = payment_world
    contract, h = await _draft(world)
    cid = contract["id"]
    for side in ("seller", "buyer"):
        assert (await world.api.post(f"{API}/{cid}/sign", headers=h[side])).status_code == 200
    await _write_around(world, cid, 500_000_000)
    asked = await world.api.post(f"{API}/{cid}/registration-request", headers=h["seller"])
    assert asked.status_code == 409 and asked.json()["code"] == "terms_changed"

    h2 = h
    body = hundred_thousand(
        await published_achievement(world.database, INSTITUTE), await org_id(world.database, ENTERPRISE)
    )
    registered = await registered_contract(world.api, h2, body)
    rid = registered["id"]
    await _write_around(world, rid, 500_000_000)
    paid = await world.api.post(f"{API}/{rid}/milestones/{registered['milestones'][0]['id']}/pay", headers=h2["buyer"])
    assert paid.status_code == 409 and paid.json()["code"] == "terms_changed"
    assert world.stub.state.intents == {}


async def _write_around(world: PaymentWorld, cid: int, total_fen: int) -> None:
    async with world.database.unit_of_work() as session:
        await session.execute(update(Contract).where(col(Contract.id) == cid).values(total_fen=total_fen))
        last = (
            (
                await session.execute(
                    select(Milestone).where(col(Milestone.contract_id) == cid).order_by(col(Milestone.seq).desc())
                )
            )
            .scalars()
            .first()
        )  # type: ignore[union-attr]
        assert last is not None
        rest = (
            (
                await session.execute(
                    select(col(Milestone.amount_fen)).where(
                        col(Milestone.contract_id) == cid, col(Milestone.id) != last.id
                    )
                )
            )
            .scalars()
            .all()
        )
        last.amount_fen = total_fen - sum(rest)


def test_every_column_is_either_a_term_or_a_record_of_the_contracts_life() -> None:
    """A new column fails here until someone decides whether a signature covers it."""
    for model, covered, record in (
        (Contract, terms.CONTRACT_TERMS, terms.CONTRACT_RECORD),
        (Milestone, terms.MILESTONE_TERMS, terms.MILESTONE_RECORD),
        (Deduction, terms.DEDUCTION_TERMS, terms.DEDUCTION_RECORD),
    ):
        columns = {c.key for c in sa_inspect(model).columns}
        assert not set(covered) & set(record), model
        assert set(covered) | set(record) == columns, (
            f"{model.__name__}: classify {columns ^ (set(covered) | set(record))}"
        )


def test_the_migration_binds_existing_contracts_with_the_same_digest_as_the_service() -> None:
    spec = importlib.util.spec_from_file_location("migration_0009", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.CONTRACT_TERMS == terms.CONTRACT_TERMS
    assert migration.MILESTONE_TERMS == terms.MILESTONE_TERMS and migration.DEDUCTION_TERMS == terms.DEDUCTION_TERMS
    from datetime import date

    from contracts.contract.models import ContractSubtype, ContractType
    from market.identity.models import OrganizationKind

    row = {
        "title": "合同",
        "type": ContractType.transfer,
        "subtype": ContractSubtype.patent_right,
        "field": None,
        "seller_org_id": 1,
        "buyer_org_id": 2,
        "seller_region": "150200",
        "buyer_region": "150100",
        "seller_kind": OrganizationKind.institute,
        "buyer_kind": OrganizationKind.enterprise,
        "total_fen": 100,
        "technology_income_fen": 90,
        "term_start": date(2026, 1, 1),
        "term_end": None,
        "service_invention": True,
        "reward_rate_bp": 7000,
        "reward_rule": "nm-2017-plan",
        "inventors": [{"name": "王", "weight": 5, "user_id": None}],
    }
    plain = {k: getattr(v, "value", v) for k, v in row.items()}  # what the migration reads: strings for enums
    milestones = [{"seq": 1, "title": "a", "amount_fen": 100, "due_on": date(2026, 2, 1)}]
    deductions = [{"kind": "tax", "description": "税", "amount_fen": 5}]
    ours = terms.digest_of(terms.document(row, milestones, deductions, [3, 1]))
    assert migration.digest(plain, milestones, deductions, [1, 3]) == ours
