"""Deals and contracts through the API, on SQLite and PostgreSQL: amounts, lifecycle, 认定登记, who may do what."""

from __future__ import annotations

import httpx

from core.db import Database
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import (
    ENTERPRISE,
    INSTITUTE,
    UNIVERSITY,
    attach_materials,
    headers_of,
    noticed,
    transfer_contract,
)
from tests.fixtures.app import login


async def test_deal_from_interest_to_contract_with_messages_and_drop(
    client: httpx.AsyncClient, database: Database
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    h = await headers_of(client)
    reply = await client.post(
        "/api/v1/deals", json={"achievement_id": achievement, "message": "我们有意购买该专利"}, headers=h["buyer"]
    )
    assert reply.status_code == 201, reply.text
    deal = reply.json()
    assert deal["seller_org_id"] == await org_id(database, INSTITUTE) and deal["origin"] == "achievement_interest"
    own = await client.post("/api/v1/deals", json={"achievement_id": achievement, "message": "x"}, headers=h["seller"])
    assert own.status_code == 409 and own.json()["code"] == "own_listing"
    assert (
        await client.post(f"/api/v1/deals/{deal['id']}/messages", json={"body": "报价 100 万元"}, headers=h["seller"])
    ).status_code == 201
    assert (await client.get(f"/api/v1/deals/{deal['id']}/messages", headers=h["other"])).status_code == 404
    messages = (await client.get(f"/api/v1/deals/{deal['id']}/messages", headers=h["buyer"])).json()
    assert [m["body"] for m in messages["items"]] == ["我们有意购买该专利", "报价 100 万元"]

    body = transfer_contract(achievement, deal["buyer_org_id"], deal_id=deal["id"])
    del body["buyer_org_id"]
    contract = await client.post("/api/v1/contracts", json=body, headers=h["seller"])
    assert contract.status_code == 201, contract.text
    assert contract.json()["deal_id"] == deal["id"]
    assert (await client.get(f"/api/v1/deals/{deal['id']}", headers=h["buyer"])).json()["status"] == "converted"
    dropped = await client.post(f"/api/v1/deals/{deal['id']}/drop", json={"reason": "已签约"}, headers=h["buyer"])
    assert dropped.status_code == 409 and dropped.json()["code"] == "deal_closed"


async def test_contract_amounts_are_exact_and_the_floor_is_cited(client: httpx.AsyncClient, database: Database) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    buyer = await org_id(database, ENTERPRISE)
    h = await headers_of(client)

    def post(**overrides: object):
        return client.post(
            "/api/v1/contracts", json=transfer_contract(achievement, buyer, **overrides), headers=h["seller"]
        )

    uneven = await post(milestones=[{"title": "a", "amount": "300000.00"}, {"title": "b", "amount": "699999.99"}])
    assert uneven.status_code == 422 and uneven.json()["errors"][0]["code"] == "milestones_sum"
    assert "999999.99" in uneven.json()["errors"][0]["message"]
    over = await post(technology_income="1000000.01")
    assert over.status_code == 422 and over.json()["errors"][0]["code"] == "income_exceeds_total"
    wrong_subtype = await post(subtype="exclusive_license")
    assert wrong_subtype.status_code == 422 and wrong_subtype.json()["errors"][0]["code"] == "subtype_mismatch"
    low = await post(reward_rate="65")
    assert low.status_code == 422 and low.json()["code"] == "reward_rate_below_floor"
    assert "70%" in low.json()["title"] and "2017" in low.json()["title"]
    floats = await post(total="1000000.001")
    assert floats.status_code == 422

    higher = await post(reward_rate="80")
    assert higher.status_code == 201 and higher.json()["reward_rate"] == "80"
    default = await post()
    assert default.status_code == 201
    body = default.json()
    assert body["reward_rate"] == "70" and body["reward_rule"] == "nm-2017-plan"
    assert [i["name"] for i in body["inventors"]] == ["王教授", "李博士", "赵工"]
    assert body["total"] == "1000000.00" and [m["amount"] for m in body["milestones"]] == ["300000.00", "700000.00"]


async def test_lifecycle_registration_corrections_and_authorization(
    client: httpx.AsyncClient, database: Database
) -> None:
    achievement = await published_achievement(database, INSTITUTE)
    h = await headers_of(client)
    body = transfer_contract(achievement, await org_id(database, ENTERPRISE))
    created = await client.post("/api/v1/contracts", json=body, headers=h["seller"])
    cid = created.json()["id"]
    await noticed(client, h["seller"], body)

    # Only parties and competent admins see it.
    assert (await client.get(f"/api/v1/contracts/{cid}", headers=h["other"])).status_code == 404
    assert (await client.get(f"/api/v1/contracts/{cid}", headers=h["region"])).status_code == 200
    assert cid not in [c["id"] for c in (await client.get("/api/v1/contracts", headers=h["other"])).json()["items"]]

    # Illegal transition names the allowed ones.
    early = await client.post(f"/api/v1/contracts/{cid}/transitions", json={"to": "completed"}, headers=h["seller"])
    assert early.status_code == 409
    assert early.json()["allowed"] == ["terminated"]  # signing goes through /sign

    # Signing needs both sides.
    assert (await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["seller"])).json()["status"] == "draft"
    assert (await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["other"])).status_code == 404
    signed = await client.post(f"/api/v1/contracts/{cid}/sign", headers=h["buyer"])
    assert signed.json()["status"] == "signed" and signed.json()["signed_on"]

    # A correction before registration keeps amounts exact and leaves an audit record.
    corrected = await client.patch(
        f"/api/v1/contracts/{cid}/amounts",
        json={
            "total": "980000.00",
            "technology_income": "880000.00",
            "reason": "核减设备费",
            "milestones": [{"title": "首付款", "amount": "280000.00"}, {"title": "尾款", "amount": "700000.00"}],
        },
        headers=h["seller"],
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["total"] == "980000.00"
    # Both had signed the old terms: the correction voids both signatures and both sign the new terms.
    assert corrected.json()["status"] == "draft" and corrected.json()["seller_signed_at"] is None
    await noticed(client, h["seller"], body | {"total": "980000.00"})  # a new price is noticed anew
    for side in ("seller", "buyer"):
        resigned = await client.post(f"/api/v1/contracts/{cid}/sign", headers=h[side])
    assert resigned.json()["status"] == "signed"

    # Only the seller asks for registration; only the seller region's admin (or platform) registers.
    assert (await client.post(f"/api/v1/contracts/{cid}/registration-request", headers=h["buyer"])).json()[
        "code"
    ] == "seller_side_only"
    not_asked = await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["region"])
    assert not_asked.status_code == 409 and not_asked.json()["code"] == "registration_not_requested"
    await attach_materials(client, cid, h["seller"])
    assert (await client.post(f"/api/v1/contracts/{cid}/registration-request", headers=h["seller"])).status_code == 200
    hohhot_seller = await client.post(
        "/api/v1/contracts",
        json=transfer_contract(await published_achievement(database, UNIVERSITY), await org_id(database, ENTERPRISE)),
        headers=await login(client, UNIVERSITY),
    )
    assert (await client.get(f"/api/v1/contracts/{hohhot_seller.json()['id']}", headers=h["region"])).status_code == 404
    assert (await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["buyer"])).json()[
        "code"
    ] == "not_competent_registrar"
    registered = await client.post(
        f"/api/v1/contracts/{cid}/register", json={"technology_income": "870000.00"}, headers=h["region"]
    )
    assert registered.status_code == 200, registered.text
    number = registered.json()["registration_number"]
    assert len(number) == 16 and number[4:10] == "150200"
    assert registered.json()["technology_income"] == "870000.00"

    locked = await client.patch(
        f"/api/v1/contracts/{cid}/amounts",
        json={"total": "1.00", "technology_income": "1.00", "reason": "晚了"},
        headers=h["seller"],
    )
    assert locked.status_code == 409 and locked.json()["code"] == "amounts_locked"
    audit = (await client.get(f"/api/v1/contracts/{cid}/audit", headers=h["buyer"])).json()["items"]
    correction = next(a for a in audit if a["action"] == "amounts_corrected")
    assert correction["changes"]["total_fen"] == [100000000, 98000000] and correction["reason"] == "核减设备费"
    assert [a["action"] for a in audit][-1] == "registered"

    unpaid = await client.post(f"/api/v1/contracts/{cid}/transitions", json={"to": "performing"}, headers=h["seller"])
    assert unpaid.json()["status"] == "performing"
    finish = await client.post(f"/api/v1/contracts/{cid}/completion/claim", headers=h["seller"])
    assert finish.status_code == 409 and finish.json()["code"] == "milestones_unpaid"


async def test_a_region_admin_of_another_region_cannot_register(client: httpx.AsyncClient, database: Database) -> None:
    """包头's admin sees a contract a 包头 institute buys from 呼和浩特 (the buyer's region), yet only the
    seller's region (or the platform) registers it: refused, and the contract is left as it was."""
    h = await headers_of(client)
    university = await login(client, UNIVERSITY)
    body = transfer_contract(await published_achievement(database, UNIVERSITY), await org_id(database, INSTITUTE))
    created = await client.post("/api/v1/contracts", json=body, headers=university)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await noticed(client, university, body)
    for side in (university, h["seller"]):
        assert (await client.post(f"/api/v1/contracts/{cid}/sign", headers=side)).status_code == 200
    await attach_materials(client, cid, university)
    assert (await client.post(f"/api/v1/contracts/{cid}/registration-request", headers=university)).status_code == 200
    before = (await client.get(f"/api/v1/contracts/{cid}", headers=h["admin"])).json()
    audit_before = (await client.get(f"/api/v1/contracts/{cid}/audit", headers=h["admin"])).json()["items"]

    refused = await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["region"])
    assert (refused.status_code, refused.json()["code"]) == (403, "not_competent_registrar"), refused.text
    unseen = await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["other"])
    assert (unseen.status_code, unseen.json()["code"]) == (404, "contract_not_found"), unseen.text
    after = (await client.get(f"/api/v1/contracts/{cid}", headers=h["admin"])).json()
    assert after == before and after["registration_number"] is None and after["status"] == "signed"
    assert (await client.get(f"/api/v1/contracts/{cid}/audit", headers=h["admin"])).json()["items"] == audit_before

    registered = await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["admin"])
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "registered" and registered.json()["registration_number"][4:10] == "150100"
