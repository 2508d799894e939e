"""Price discovery under art. 18 (促进科技成果转化法) on SQLite and PostgreSQL: an institute's service
invention is sold at a price found by a public notice of at least 15 days whose objections are all
answered, by a listing, or by an auction; signing refuses a contract without it, naming the rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from contracts.contract import service as contract_service
from contracts.pricing.models import PriceListing
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from market.notifications.service import fan_out_once
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import ENERGY, ENTERPRISE, INSTITUTE, headers_of, noticed, transfer_contract
from tests.fixtures.app import login

API = "/api/v1"
RULE = "cn-2016-agreed-notice"


async def _contract(client: httpx.AsyncClient, h: dict[str, dict[str, str]], body: dict[str, Any]) -> int:
    reply = await client.post(f"{API}/contracts", json=body, headers=h["seller"])
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


async def _sign(client: httpx.AsyncClient, h: dict[str, dict[str, str]], cid: int, side: str) -> httpx.Response:
    return await client.post(f"{API}/contracts/{cid}/sign", headers=h[side])


def _priced(achievement: int, buyer: int, total: str) -> dict[str, Any]:
    """The helpers' transfer contract at ``total``, paid in one milestone."""
    one = [{"title": "全款", "amount": total}]
    return transfer_contract(achievement, buyer, total=total, technology_income=total, milestones=one)


def _on(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    monkeypatch.setattr(contract_service, "today", lambda: day)


async def test_agreed_price_journey_notice_objection_answer_then_signing(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await headers_of(client)
    achievement, buyer = await published_achievement(database, INSTITUTE), await org_id(database, ENTERPRISE)
    declared = await client.put(
        f"{API}/achievements/{achievement}/pricing-mode", json={"mode": "agreed"}, headers=h["seller"]
    )
    assert declared.status_code == 200, declared.text
    public = await client.get(f"{API}/achievements/{achievement}")
    assert public.json()["pricing_mode"] == "agreed"
    cid = await _contract(client, h, transfer_contract(achievement, buyer))

    # No notice: refused, naming the rule; nothing was signed.
    refused = await _sign(client, h, cid, "seller")
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["rule"]) == ("agreed_price_notice_required", RULE)
    assert (await client.get(f"{API}/contracts/{cid}", headers=h["seller"])).json()["seller_signed_at"] is None

    start = date(2026, 3, 2)
    _on(monkeypatch, start)
    notice_body = {"achievement_id": achievement, "transferee_org_id": buyer, "price": "1000000.00"}
    short = await client.post(f"{API}/price-notices", json={**notice_body, "days": 14}, headers=h["seller"])
    assert short.status_code == 422 and short.json()["code"] == "notice_period_too_short", short.text
    by_buyer = await client.post(f"{API}/price-notices", json=notice_body, headers=h["buyer"])
    assert by_buyer.status_code == 403 and by_buyer.json()["code"] == "pricing_owner_only"
    published = await client.post(f"{API}/price-notices", json=notice_body, headers=h["seller"])
    assert published.status_code == 201, published.text
    notice = published.json()
    assert (notice["starts_on"], notice["ends_on"], notice["price"]) == ("2026-03-02", "2026-03-16", "1000000.00")
    assert notice["transferee_name"] == "演示乳业科技" or notice["transferee_name"]

    # The notice is public: no login needed.
    listed = (await client.get(f"{API}/price-notices", params={"achievement_id": achievement})).json()
    assert [n["id"] for n in listed["items"]] == [notice["id"]] and listed["items"][0]["period_over"] is False

    running = await _sign(client, h, cid, "seller")
    assert running.status_code == 409 and running.json()["code"] == "agreed_price_notice_running"
    assert running.json()["notice_ends_on"] == "2026-03-16"

    # Anyone logged in objects, with reasons; not anonymously.
    objections = f"{API}/price-notices/{notice['id']}/objections"
    anonymous = await client.post(objections, json={"reasons": "价格明显偏低"})
    assert anonymous.status_code == 401
    _on(monkeypatch, date(2026, 3, 16))  # the last day still belongs to the notice
    other = await login(client, ENERGY)
    filed = await client.post(objections, json={"reasons": "评估价为 180 万元, 拟交易价格明显偏低"}, headers=other)
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert objection["status"] == "open"

    # The institute is told; the platform admin's queue has it, with its reasons.
    await fan_out_once(database, email=False)
    mine = (await client.get(f"{API}/notifications/mine", headers=h["seller"])).json()["items"]
    assert any("协议定价公示收到异议" in n["title"] for n in mine), mine
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    queue = (await client.get(f"{API}/admin/price-objections", headers=admin)).json()
    assert objection["id"] in [o["id"] for o in queue["items"]]
    assert next(o for o in queue["items"] if o["id"] == objection["id"])["reasons"].startswith("评估价")
    # Someone else logged in sees that there is an objection, not its reasons.
    seen = (await client.get(objections, headers=h["buyer"])).json()["items"]
    assert [o["id"] for o in seen] == [objection["id"]] and "reasons" not in seen[0]
    assert (await client.get(objections)).status_code == 401

    # The period is over, the objection unanswered: still refused.
    _on(monkeypatch, date(2026, 3, 17))
    late = await client.post(objections, json={"reasons": "补充异议"}, headers=other)
    assert late.status_code == 409 and late.json()["code"] == "objection_window_closed"
    contested = await _sign(client, h, cid, "seller")
    assert contested.status_code == 409 and contested.json()["code"] == "agreed_price_objection_open"

    # Only the institute answers, once.
    answer_url = f"{objections}/{objection['id']}/answer"
    stranger = await client.post(answer_url, json={"answer": "不同意"}, headers=other)
    assert stranger.status_code == 403
    answered = await client.post(
        answer_url, json={"answer": "评估报告载明价值 95 万元, 拟交易价格不低于评估值"}, headers=h["seller"]
    )
    assert answered.status_code == 200 and answered.json()["status"] == "answered", answered.text
    again = await client.post(answer_url, json={"answer": "重复"}, headers=h["seller"])
    assert again.status_code == 409 and again.json()["code"] == "objection_already_answered"
    queue = (await client.get(f"{API}/admin/price-objections", headers=admin)).json()
    assert objection["id"] not in [o["id"] for o in queue["items"]]

    # Now both sign.
    assert (await _sign(client, h, cid, "seller")).status_code == 200
    signed = await _sign(client, h, cid, "buyer")
    assert signed.status_code == 200 and signed.json()["status"] == "signed", signed.text

    # A contract at another price, or with someone else, is not covered by that notice.
    energy = await org_id(database, ENERGY)
    for body in (
        _priced(achievement, buyer, "1200000.00"),
        transfer_contract(achievement, energy),
    ):
        cid = await _contract(client, h, body)
        refused = await _sign(client, h, cid, "seller")
        assert refused.status_code == 409 and refused.json()["code"] == "agreed_price_notice_required", refused.text

    # With a notice running the mode cannot be switched away.
    switch = await client.put(
        f"{API}/achievements/{achievement}/pricing-mode", json={"mode": "listed"}, headers=h["seller"]
    )
    assert switch.status_code == 409 and switch.json()["code"] == "pricing_mode_locked"


async def test_an_undeclared_mode_is_agreed_pricing_and_needs_its_notice(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Never declaring a mode does not let an institute skip the notice: no mode is 协议定价."""
    h = await headers_of(client)
    achievement, buyer = await published_achievement(database, INSTITUTE), await org_id(database, ENTERPRISE)
    assert (await client.get(f"{API}/achievements/{achievement}")).json()["pricing_mode"] is None
    cid = await _contract(client, h, transfer_contract(achievement, buyer))
    refused = await _sign(client, h, cid, "seller")
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["rule"]) == ("agreed_price_notice_required", RULE)
    assert refused.json()["achievement_id"] == achievement
    assert (await client.get(f"{API}/contracts/{cid}", headers=h["seller"])).json()["seller_signed_at"] is None
    # The lawful path still works: a notice whose period is over lets the same contract be signed.
    await noticed(client, h["seller"], transfer_contract(achievement, buyer))
    assert (await _sign(client, h, cid, "seller")).status_code == 200
    assert (await _sign(client, h, cid, "buyer")).json()["status"] == "signed"


async def test_a_withdrawn_notice_covers_no_contract_and_leaves_the_queue(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await headers_of(client)
    achievement, buyer = await published_achievement(database, INSTITUTE), await org_id(database, ENTERPRISE)
    body = {"achievement_id": achievement, "transferee_org_id": buyer, "price": "1000000.00"}
    notice = (await client.post(f"{API}/price-notices", json=body, headers=h["seller"])).json()
    filed = await client.post(
        f"{API}/price-notices/{notice['id']}/objections",
        json={"reasons": "受让方与本单位存在关联关系"},
        headers=h["other"],
    )
    assert filed.status_code == 201
    url = f"{API}/price-notices/{notice['id']}/withdraw"
    assert (await client.post(url, json={"reason": "采纳异议"}, headers=h["buyer"])).status_code == 403
    withdrawn = await client.post(url, json={"reason": "采纳异议, 重新确定受让方"}, headers=h["seller"])
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn", withdrawn.text

    assert (await client.get(f"{API}/price-notices/{notice['id']}")).status_code == 404
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    queue = (await client.get(f"{API}/admin/price-objections", headers=admin)).json()["items"]
    assert filed.json()["id"] not in [o["id"] for o in queue]
    _on(monkeypatch, date.fromisoformat(notice["ends_on"]) + timedelta(days=1))
    cid = await _contract(client, h, transfer_contract(achievement, buyer))
    refused = await _sign(client, h, cid, "seller")
    assert refused.status_code == 409 and refused.json()["code"] == "agreed_price_notice_required", refused.text


async def test_listed_price_goes_to_the_first_verified_buyer_who_accepts(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    achievement = await published_achievement(database, INSTITUTE)
    buyer, energy = await org_id(database, ENTERPRISE), await org_id(database, ENERGY)
    opened = await client.post(
        f"{API}/price-listings", json={"achievement_id": achievement, "price": "800000.00"}, headers=h["seller"]
    )
    assert opened.status_code == 201, opened.text
    listing = opened.json()
    assert (listing["rule"], listing["status"]) == ("first_accept", "open")
    assert (await client.get(f"{API}/achievements/{achievement}")).json()["pricing_mode"] == "listed"

    url = f"{API}/price-listings/{listing['id']}/accept"
    own = await client.post(url, headers=h["seller"])
    assert own.status_code == 403 and own.json()["code"] == "own_price_listing"
    above = await client.post(url, json={"bid": "900000.00"}, headers=h["buyer"])
    assert above.status_code == 422 and above.json()["code"] == "bid_below_listed_price"
    first = await client.post(url, headers=h["buyer"])
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["winner_organization_id"], first.json()["final_price"]) == (
        "awarded",
        buyer,
        "800000.00",
    )
    second = await client.post(url, headers=h["other"])
    assert second.status_code == 409 and second.json()["code"] == "price_listing_closed"

    # The award is a public deal notice.
    deals = (await client.get(f"{API}/deal-notices", params={"achievement_id": achievement})).json()["items"]
    assert [(d["mode"], d["price"], d["buyer_organization_id"]) for d in deals] == [("listed", "800000.00", buyer)]

    loser = await _contract(client, h, _priced(achievement, energy, "800000.00"))
    refused = await _sign(client, h, loser, "seller")
    assert refused.status_code == 409 and refused.json()["code"] == "price_not_discovered", refused.text
    assert refused.json()["rule"] == "cn-2015-art18-listed"
    winner = await _contract(client, h, _priced(achievement, buyer, "800000.00"))
    assert (await _sign(client, h, winner, "seller")).status_code == 200
    assert (await _sign(client, h, winner, "buyer")).json()["status"] == "signed"


async def test_bidding_listing_goes_to_the_highest_bid_once_the_window_closes(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    achievement = await published_achievement(database, INSTITUTE)
    energy = await org_id(database, ENERGY)
    body = {"achievement_id": achievement, "price": "500000.00", "rule": "bidding", "days": 10}
    listing = (await client.post(f"{API}/price-listings", json=body, headers=h["seller"])).json()
    url = f"{API}/price-listings/{listing['id']}"
    low = await client.post(f"{url}/accept", json={"bid": "400000.00"}, headers=h["buyer"])
    assert low.status_code == 422 and low.json()["code"] == "bid_below_listed_price"
    assert (await client.post(f"{url}/accept", json={"bid": "520000.00"}, headers=h["buyer"])).status_code == 200
    taken = await client.post(f"{url}/accept", json={"bid": "560000.00"}, headers=h["other"])
    assert taken.status_code == 200 and taken.json()["status"] == "open" and taken.json()["acceptances"] == 2
    early = await client.post(f"{url}/award", headers=h["seller"])
    assert early.status_code == 409 and early.json()["code"] == "price_listing_still_open"
    async with database.unit_of_work() as session:  # the window closes
        closed = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(PriceListing).where(PriceListing.id == listing["id"]).values(closes_at=closed))
    late = await client.post(f"{url}/accept", headers=h["buyer"])
    assert late.status_code == 409 and late.json()["code"] == "price_listing_closed"
    awarded = await client.post(f"{url}/award", headers=h["seller"])
    assert awarded.status_code == 200, awarded.text
    assert (awarded.json()["winner_organization_id"], awarded.json()["final_price"]) == (energy, "560000.00")


async def test_public_pages_answer_without_login_and_rules_cite_their_source(client: httpx.AsyncClient) -> None:
    rules = (await client.get(f"{API}/pricing/rules")).json()["items"]
    assert {r["mode"] for r in rules} == {"agreed", "listed", "auction"}
    agreed = next(r for r in rules if r["mode"] == "agreed")
    assert agreed["notice_days"] == 15 and "国发〔2016〕16号" in agreed["citation"] and "第十八条" in agreed["citation"]
    for path in ("/price-notices", "/deal-notices"):
        assert (await client.get(f"{API}{path}")).status_code == 200
    forged = (await client.get(f"{API}/certificates/JZ20260101FFFFFFFFFF")).json()
    assert forged == {
        "number": "JZ20260101FFFFFFFFFF",
        "genuine": False,
        "issued_on": None,
        "mode": None,
        "digest_matches": None,
    }
