"""Completion of a deal at each pricing mode, through the API on a real port with the payment stub, on
SQLite and PostgreSQL: one public 成交公示 per deal, and a 交易鉴证 whose number anyone can check (and a
digest against it) without learning the contract's terms."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import pytest

from contracts.contract import service as contract_service
from contracts.pricing.deal_notices import publish_deal_notice
from market.listings.models import Achievement, PricingMode
from tests.contracts.conftest import PaymentWorld, org_id, payment_world, published_achievement, wait_for  # noqa: F401
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, noticed, transfer_contract

API = "/api/v1"
TOTAL = "600000.00"


async def _complete(world: PaymentWorld, h: dict[str, dict[str, str]], achievement: int, buyer: int) -> dict[str, Any]:
    """A contract at TOTAL with the buyer, signed, paid through the stub, claimed and confirmed."""
    one = [{"title": "全款", "amount": TOTAL}]
    body = transfer_contract(achievement, buyer, total=TOTAL, technology_income=TOTAL, milestones=one)
    created = await world.api.post(f"{API}/contracts", json=body, headers=h["seller"])
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    for side in ("seller", "buyer"):
        signed = await world.api.post(f"{API}/contracts/{cid}/sign", headers=h[side])
        assert signed.status_code == 200, signed.text
    milestone = signed.json()["milestones"][0]["id"]
    paid = await world.api.post(f"{API}/contracts/{cid}/milestones/{milestone}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text

    async def settled() -> bool:
        reply = await world.api.get(f"{API}/contracts/{cid}", headers=h["buyer"])
        return bool(reply.json()["milestones"][0]["status"] == "paid")

    await wait_for(settled)
    assert (await world.api.post(f"{API}/contracts/{cid}/completion/claim", headers=h["seller"])).status_code == 200
    done = await world.api.post(f"{API}/contracts/{cid}/completion/confirm", headers=h["buyer"])
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    return dict(done.json())


async def _agreed(world: PaymentWorld, h: dict[str, dict[str, str]], achievement: int, buyer: int) -> None:
    notice = {"achievement_id": achievement, "transferee_org_id": buyer, "price": TOTAL}
    assert (await world.api.post(f"{API}/price-notices", json=notice, headers=h["seller"])).status_code == 201


async def _listed(world: PaymentWorld, h: dict[str, dict[str, str]], achievement: int, buyer: int) -> None:
    body = {"achievement_id": achievement, "price": TOTAL}
    listing = (await world.api.post(f"{API}/price-listings", json=body, headers=h["seller"])).json()
    accepted = await world.api.post(f"{API}/price-listings/{listing['id']}/accept", headers=h["buyer"])
    assert accepted.json()["status"] == "awarded", accepted.text


async def _auctioned(world: PaymentWorld, h: dict[str, dict[str, str]], achievement: int, buyer: int) -> None:
    """What the auction package does when a lot is awarded: the mode, and the deal notice."""
    async with world.database.unit_of_work() as session:
        row = await session.get(Achievement, achievement)
        assert row is not None
        row.pricing_mode = PricingMode.auction
        await publish_deal_notice(
            session,
            achievement_id=achievement,
            mode="auction",
            price_fen=60_000_000,
            seller_organization_id=row.owner_id,
            buyer_organization_id=buyer,
            contract_id=None,
            deal_date=contract_service.today(),
        )


@pytest.mark.parametrize("mode", ["agreed", "listed", "auction"])
async def test_each_completed_deal_is_noticed_once_and_certified(
    payment_world: PaymentWorld, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement, buyer = (
        await published_achievement(world.database, INSTITUTE),
        await org_id(world.database, ENTERPRISE),
    )
    await {"agreed": _agreed, "listed": _listed, "auction": _auctioned}[mode](world, h, achievement, buyer)
    if mode == "agreed":  # signed once the 15-day notice is over
        later = contract_service.today() + timedelta(days=15)
        monkeypatch.setattr(contract_service, "today", lambda: later)
    contract = await _complete(world, h, achievement, buyer)

    notices = (await world.api.get(f"{API}/deal-notices", params={"achievement_id": achievement})).json()["items"]
    assert len(notices) == 1, notices  # an award's notice is the deal's, not a second one
    (notice,) = notices
    assert (notice["mode"], notice["price"], notice["buyer_organization_id"]) == (mode, TOTAL, buyer)
    assert notice["buyer_name"] and notice["seller_name"] and notice["title"] == "稀土永磁材料低重稀土制备技术"
    assert "contract_id" not in notice

    cert = await world.api.get(f"{API}/contracts/{contract['id']}/certificate", headers=h["seller"])
    assert cert.status_code == 200, cert.text
    certificate = cert.json()
    assert certificate["terms_digest"] == contract["terms_digest"] and certificate["mode"] == mode
    if mode == "agreed":  # published on completion: the same day as the certificate
        assert certificate["issued_on"] == notice["deal_date"]
    outsider = await world.api.get(f"{API}/contracts/{contract['id']}/certificate", headers=h["other"])
    assert outsider.status_code == 404

    # Anyone checks the number, and a digest against it; the answer holds nothing of the terms.
    check = f"{API}/certificates/{certificate['number']}"
    genuine = (await world.api.get(check)).json()
    assert genuine == {
        "number": certificate["number"],
        "genuine": True,
        "issued_on": certificate["issued_on"],
        "mode": mode,
        "digest_matches": None,
    }
    assert (await world.api.get(check, params={"digest": contract["terms_digest"]})).json()["digest_matches"] is True
    tampered = hashlib.sha256(b"total=1").hexdigest()
    assert (await world.api.get(check, params={"digest": tampered})).json()["digest_matches"] is False
    forged = (await world.api.get(f"{check[:-1]}0" if check[-1] != "0" else f"{check[:-1]}1")).json()
    assert (forged["genuine"], forged["issued_on"]) == (False, None)


async def test_certificate_numbers_differ_and_a_day_is_never_reused(payment_world: PaymentWorld) -> None:
    """Two deals on one day get two numbers (random part), each dated that day."""
    world = payment_world
    h = await headers_of(world.api)
    buyer = await org_id(world.database, ENTERPRISE)
    numbers = []
    for _ in range(2):
        achievement = await published_achievement(world.database, INSTITUTE)
        await noticed(world.api, h["seller"], transfer_contract(achievement, buyer, total=TOTAL))
        contract = await _complete(world, h, achievement, buyer)
        cert = (await world.api.get(f"{API}/contracts/{contract['id']}/certificate", headers=h["buyer"])).json()
        numbers.append(cert["number"])
    today = date.today()
    assert len(set(numbers)) == 2
    assert all(n.startswith("JZ") and len(n) == 20 for n in numbers), numbers
    assert all(n[2:10] in {today.strftime("%Y%m%d"), contract_service.today().strftime("%Y%m%d")} for n in numbers)
