"""The reward floor in force on the signing date applies, not the one of the day the contract was drafted."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from contracts.contract import service as contract_service
from core.db import Database
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, noticed, transfer_contract

BEFORE_REGIONAL_PLAN = date(2016, 6, 1)  # the national 50% (art. 45); Inner Mongolia's 70% from 2017-01-01


async def test_drafted_before_a_floor_change_and_signed_after_it_gets_the_floor_in_force_at_signing(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    buyer = await org_id(database, ENTERPRISE)
    h = await headers_of(client)
    monkeypatch.setattr(contract_service, "today", lambda: BEFORE_REGIONAL_PLAN)
    body = transfer_contract(achievement, buyer)
    await noticed(client, h["seller"], body)
    drafted = await client.post("/api/v1/contracts", json=body, headers=h["seller"])
    assert drafted.status_code == 201, drafted.text
    assert (drafted.json()["reward_rate"], drafted.json()["reward_rule"]) == ("50", "cn-2015-art45")
    cid = drafted.json()["id"]
    seller_signed = await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["seller"])
    assert seller_signed.json()["seller_signed_at"] is not None
    monkeypatch.undo()  # the buyer signs today, under the regional plan

    reply = await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["buyer"])
    assert reply.status_code == 200, reply.text
    contract = (await client.get(f"/api/v1/contracts/{cid}", headers=h["seller"])).json()  # the rate is the seller's
    assert (contract["reward_rate"], contract["reward_rule"]) == ("70", "nm-2017-plan")
    # The seller signed 50%: that signature does not cover the new terms, so the seller signs again.
    assert contract["status"] == "draft" and contract["seller_signed_at"] is None
    assert contract["buyer_signed_at"] is not None
    signed = (await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["seller"])).json()
    assert (signed["status"], signed["reward_rate"], signed["reward_rule"]) == ("signed", "70", "nm-2017-plan")
    assert signed["signed_on"] == contract_service.today().isoformat()

    audit = (await client.get(f"/api/v1/contracts/{cid}/audit", headers=h["seller"])).json()["items"]
    applied = [entry for entry in audit if entry["action"] == "reward_floor_applied"]
    assert len(applied) == 1 and applied[0]["changes"]["reward_rate_bp"] == [5000, 7000]


async def test_drafted_and_signed_under_the_same_floor_nothing_moves(
    client: httpx.AsyncClient, database: Database
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    h = await headers_of(client)
    body = transfer_contract(achievement, await org_id(database, ENTERPRISE), reward_rate="80")
    cid = (await client.post("/api/v1/contracts", json=body, headers=h["seller"])).json()["id"]
    await noticed(client, h["seller"], body)
    for side in ("buyer", "seller"):
        reply = await client.post(f"/api/v1/contracts/{cid}/sign", headers=h[side])
    assert (reply.json()["status"], reply.json()["reward_rate"]) == ("signed", "80")
