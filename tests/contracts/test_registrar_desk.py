"""The registrar's desk (认定登记), on SQLite and PostgreSQL, through the API.

A request is returned for correction item by item, corrected, signed again and resubmitted as a new
round (every round stays on the contract), then registered with the 技术交易额 and type the registrar
determined, which is what statistics count. A refused request is final and counts nothing. Every
step is audited, shown to both parties, and announced on the outbox. Registrars see the queue of their
region; bad inputs get a stable code and a Chinese message per field.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlmodel import col

from app.factory import create_app
from contracts.contract.registration import REGISTRATION_TOPIC
from contracts.contract.registration_models import RegistrationCounter, RegistrationRequest
from core.db import Database, create_engine
from core.outbox import OutboxEvent
from core.settings import Settings
from core.types import utcnow
from tests.contracts.conftest import free_socket, org_id, published_achievement, serve
from tests.contracts.helpers import (
    ENTERPRISE,
    INSTITUTE,
    UNIVERSITY,
    attach_materials,
    headers_of,
    noticed,
    transfer_contract,
)
from tests.contracts.test_concurrency_postgres import Overlap
from tests.fixtures.app import login

API = "/api/v1/contracts"
QUEUE = "/api/v1/registrations"
CJK = re.compile(r"[\u4e00-\u9fff]")
RETURN_ITEMS = [
    {"kind": "field", "item": "technology_income", "reason": "技术交易额含设备费 10 万元, 请剔除后重新填报"},
    {"kind": "document", "item": "technical_annex", "reason": "缺少技术附件 (工艺参数与验收标准)"},
]


async def _requested(
    client: httpx.AsyncClient, database: Database, h: dict[str, dict[str, str]], seller: str = INSTITUTE
) -> dict[str, Any]:
    """A signed contract whose seller asked for registration (seller: 包头's institute, or 呼和浩特's university)."""
    headers = h["seller"] if seller == INSTITUTE else await login(client, seller)
    body = transfer_contract(await published_achievement(database, seller), await org_id(database, ENTERPRISE))
    created = await client.post(API, json=body, headers=headers)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    await noticed(client, headers, body)
    for side in (headers, h["buyer"]):
        assert (await client.post(f"{API}/{cid}/sign", headers=side)).status_code == 200
    await attach_materials(client, cid, headers)
    asked = await client.post(f"{API}/{cid}/registration-request", headers=headers)
    assert asked.status_code == 200, asked.text
    return dict(asked.json())


async def _overall(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    reply = await client.get("/api/v1/statistics/aggregates", params={"by": "type", "region": "all"}, headers=admin)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["overall"])


async def _by_type(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, int]:
    reply = await client.get("/api/v1/statistics/aggregates", params={"by": "type", "region": "all"}, headers=admin)
    return {row["key"]: int(row["contracts"]) for row in reply.json()["items"]}


async def _events(database: Database, cid: int) -> list[dict[str, Any]]:
    async with database.unit_of_work() as session:
        rows = await session.execute(
            select(OutboxEvent)
            .where(col(OutboxEvent.topic) == REGISTRATION_TOPIC, col(OutboxEvent.key) == f"contract:{cid}")
            .order_by(col(OutboxEvent.id))
        )
        return [e.payload for e in rows.scalars()]


def _problem(reply: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = dict(reply.json())
    assert body["code"] == code, body
    assert CJK.search(body["title"]), body
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body
        assert all(CJK.search(e["message"]) for e in body["errors"]), body
    return body


async def test_return_resubmit_and_register_keeps_every_round_and_counts_the_approved_income(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    before, types_before = await _overall(client, h["admin"]), await _by_type(client, h["admin"])
    contract = await _requested(client, database, h)
    cid = contract["id"]
    assert [r["status"] for r in contract["registration_requests"]] == ["pending"]

    # Only the registrar of the seller's region (or the platform) decides; the parties cannot.
    items = {"items": RETURN_ITEMS, "note": "请按以下意见补正"}
    _problem(
        await client.post(f"{API}/{cid}/registration/return", json=items, headers=h["seller"]),
        403,
        "not_competent_registrar",
    )
    _problem(
        await client.post(f"{API}/{cid}/registration/return", json=items, headers=h["buyer"]),
        403,
        "not_competent_registrar",
    )
    _problem(
        await client.post(f"{API}/{cid}/registration/return", json=items, headers=h["other"]), 404, "contract_not_found"
    )
    returned = await client.post(f"{API}/{cid}/registration/return", json=items, headers=h["region"])
    assert returned.status_code == 200, returned.text

    # Both parties see the return, item by item, with the labels of what to correct.
    seen = (await client.get(f"{API}/{cid}", headers=h["buyer"])).json()["registration_requests"][-1]
    assert seen["status"] == "returned" and seen["round"] == 1
    assert [(i["item"], i["label"], i["reason"]) for i in seen["rounds"][0]["items"]] == [
        ("technology_income", "技术交易额", RETURN_ITEMS[0]["reason"]),
        ("technical_annex", "技术附件", RETURN_ITEMS[1]["reason"]),
    ]
    _problem(await client.post(f"{API}/{cid}/register", json={}, headers=h["region"]), 409, "registration_not_pending")
    _problem(await client.post(f"{API}/{cid}/registration-request", headers=h["seller"]), 409, "registration_returned")
    assert await _overall(client, h["admin"]) == before, "a returned request counts nothing"

    # The seller corrects the terms (both sign again), then resubmits: round 2, round 1 kept.
    corrected = await client.patch(
        f"{API}/{cid}/amounts",
        json={"total": "1000000.00", "technology_income": "800000.00", "reason": "剔除设备费"},
        headers=h["seller"],
    )
    assert corrected.status_code == 200 and corrected.json()["status"] == "draft", corrected.text
    answer = {"note": "已剔除设备费并补充技术附件"}
    unsigned = await client.post(f"{API}/{cid}/registration/resubmit", json=answer, headers=h["seller"])
    _problem(unsigned, 409, "invalid_contract_transition")
    for side in ("seller", "buyer"):
        assert (await client.post(f"{API}/{cid}/sign", headers=h[side])).status_code == 200
    _problem(
        await client.post(f"{API}/{cid}/registration/resubmit", json=answer, headers=h["buyer"]),
        403,
        "seller_side_only",
    )
    again = await client.post(f"{API}/{cid}/registration/resubmit", json=answer, headers=h["seller"])
    assert again.status_code == 200, again.text
    request = again.json()["registration_requests"][-1]
    assert (request["status"], request["round"], len(request["rounds"])) == ("pending", 2, 2)
    assert (
        request["rounds"][0]["items"][0]["item"] == "technology_income"
        and request["rounds"][1]["note"] == answer["note"]
    )
    assert request["rounds"][0]["terms_digest"] != request["rounds"][1]["terms_digest"] == again.json()["terms_digest"]
    _problem(
        await client.post(f"{API}/{cid}/registration/resubmit", json=answer, headers=h["seller"]),
        409,
        "registration_not_returned",
    )

    # The registrar determines the 技术交易额 and the type; they apply at registration.
    approval = {"technology_income": "750000.00", "reason": "核减技术服务中的材料费"}
    approved = await client.put(f"{API}/{cid}/registration/income", json=approval, headers=h["region"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["technology_income"] == "800000.00"
    assert approved.json()["registration_requests"][-1]["approved_technology_income"] == "750000.00"
    classification = {"type": "license", "subtype": "exclusive_license", "reason": "合同约定独占实施许可, 非权属转让"}
    reclassified = await client.put(f"{API}/{cid}/registration/classification", json=classification, headers=h["admin"])
    assert reclassified.status_code == 200 and reclassified.json()["type"] == "transfer", reclassified.text
    assert await _overall(client, h["admin"]) == before, "nothing counts before registration"

    registered = await client.post(f"{API}/{cid}/register", json={}, headers=h["region"])
    assert registered.status_code == 200, registered.text
    final = registered.json()
    assert (final["status"], final["type"], final["subtype"]) == ("registered", "license", "exclusive_license")
    assert final["technology_income"] == "750000.00" and final["total"] == "1000000.00"
    number = final["registration_number"]
    assert len(number) == 16 and number[4:10] == "150200" and number.isdigit()
    request = final["registration_requests"][-1]
    assert (request["status"], request["registration_number"], len(request["rounds"])) == ("registered", number, 2)

    after = await _overall(client, h["admin"])
    assert after["contracts"] == before["contracts"] + 1
    assert Decimal(after["technology_income"]) - Decimal(before["technology_income"]) == Decimal("750000.00")
    assert Decimal(after["turnover"]) - Decimal(before["turnover"]) == Decimal("1000000.00")
    types_after = await _by_type(client, h["admin"])
    assert types_after.get("license", 0) == types_before.get("license", 0) + 1
    assert types_after.get("transfer", 0) == types_before.get("transfer", 0)

    audit = (await client.get(f"{API}/{cid}/audit", headers=h["buyer"], params={"limit": 100})).json()["items"]
    actions = [a["action"] for a in audit]
    for action in (
        "registration_requested",
        "registration_returned",
        "registration_resubmitted",
        "registration_income_approved",
        "registration_reclassified",
        "registered",
    ):
        assert action in actions, actions
    returned_entry = next(a for a in audit if a["action"] == "registration_returned")
    assert returned_entry["changes"]["items"] == RETURN_ITEMS and returned_entry["reason"] == "请按以下意见补正"
    events = await _events(database, cid)
    assert [e["type"] for e in events] == [
        "contract.registration_requested",
        "contract.registration_returned",
        "contract.registration_resubmitted",
        "contract.registration_income_approved",
        "contract.registration_reclassified",
        "contract.registered",
    ]
    # A request or a resubmission concerns the registrars of the seller's region; a decision both parties.
    to_registrars = {"contract.registration_requested", "contract.registration_resubmitted"}
    assert all(
        (e["data"]["organization_ids"], e["data"].get("registrar_region"))
        == (
            ([], final["seller_region"])
            if e["type"] in to_registrars
            else ([final["seller_org_id"], final["buyer_org_id"]], None)
        )
        for e in events
    )
    assert len({e["id"] for e in events}) == len(events)


async def test_a_refusal_is_final_for_the_request_and_counts_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    before = await _overall(client, h["admin"])
    contract = await _requested(client, database, h)
    cid = contract["id"]
    reason = "合同标的为设备买卖, 不属于技术合同"
    _problem(
        await client.post(f"{API}/{cid}/registration/refuse", json={"reason": reason}, headers=h["seller"]),
        403,
        "not_competent_registrar",
    )
    refused = await client.post(f"{API}/{cid}/registration/refuse", json={"reason": reason}, headers=h["region"])
    assert refused.status_code == 200, refused.text

    seen = (await client.get(f"{API}/{cid}", headers=h["buyer"])).json()
    assert seen["status"] == "signed" and "performing" in seen["allowed_transitions"], "still a valid contract"
    assert seen["registration_number"] is None
    request = seen["registration_requests"][-1]
    assert (request["status"], request["refusal_reason"]) == ("refused", reason) and request["decided_at"]
    assert await _overall(client, h["admin"]) == before

    _problem(await client.post(f"{API}/{cid}/register", json={}, headers=h["region"]), 409, "registration_closed")
    returned = await client.post(f"{API}/{cid}/registration/return", json={"items": RETURN_ITEMS}, headers=h["region"])
    _problem(returned, 409, "registration_closed")
    _problem(
        await client.post(f"{API}/{cid}/registration/refuse", json={"reason": reason}, headers=h["admin"]),
        409,
        "registration_closed",
    )
    _problem(await client.post(f"{API}/{cid}/registration-request", headers=h["seller"]), 409, "registration_refused")
    assert await _overall(client, h["admin"]) == before
    assert [e["type"] for e in await _events(database, cid)] == [
        "contract.registration_requested",
        "contract.registration_refused",
    ]
    queue = await client.get(QUEUE, params={"status": "refused", "limit": 100}, headers=h["region"])
    assert cid in [i["contract_id"] for i in queue.json()["items"]]


async def test_bad_inputs_get_a_code_and_a_chinese_message_per_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    cid = (await _requested(client, database, h))["id"]
    url = f"{API}/{cid}/registration"

    def back(*items: dict[str, str]) -> dict[str, Any]:
        return {"items": list(items)}

    _problem(
        await client.post(f"{url}/return", json=back(), headers=h["region"]), 422, "validation_error", "body.items"
    )
    unknown = {"kind": "field", "item": "price", "reason": "价格有误"}
    body = _problem(
        await client.post(f"{url}/return", json=back(unknown), headers=h["region"]),
        422,
        "invalid_correction",
        "body.items[0].item",
    )
    assert body["errors"][0]["code"] == "unknown_correction_item"
    document = {"kind": "document", "item": "technology_income", "reason": "材料缺失"}
    _problem(
        await client.post(f"{url}/return", json=back(RETURN_ITEMS[1], document), headers=h["region"]),
        422,
        "invalid_correction",
        "body.items[1].item",
    )
    english = {"kind": "field", "item": "title", "reason": "wrong title"}
    _problem(
        await client.post(f"{url}/return", json=back(english), headers=h["region"]),
        422,
        "reason_not_chinese",
        "body.items[0].reason",
    )
    twice = _problem(
        await client.post(f"{url}/return", json=back(RETURN_ITEMS[0], RETURN_ITEMS[0]), headers=h["region"]),
        422,
        "invalid_correction",
        "body.items[1].item",
    )
    assert twice["errors"][0]["code"] == "duplicate_correction_item"
    _problem(
        await client.post(f"{url}/refuse", json={"reason": "not a contract"}, headers=h["region"]),
        422,
        "reason_not_chinese",
        "body.reason",
    )
    _problem(await client.post(f"{url}/refuse", json={}, headers=h["region"]), 422, "validation_error", "body.reason")

    too_much = {"technology_income": "1000000.01", "reason": "核定"}
    body = _problem(
        await client.put(f"{url}/income", json=too_much, headers=h["region"]),
        422,
        "invalid_amounts",
        "body.technology_income",
    )
    assert body["errors"][0]["code"] == "income_exceeds_total"
    for amount in ("abc", "1.234", "-5"):
        _problem(
            await client.put(
                f"{url}/income", json={"technology_income": amount, "reason": "核定"}, headers=h["region"]
            ),
            422,
            "validation_error",
            "body.technology_income",
        )
    mismatch = {"type": "consulting", "subtype": "patent_right", "reason": "应为技术咨询"}
    _problem(
        await client.put(f"{url}/classification", json=mismatch, headers=h["region"]),
        422,
        "subtype_mismatch",
        "body.subtype",
    )
    service = {"type": "service", "subtype": "technical_service", "reason": "应为技术服务"}
    _problem(
        await client.put(f"{url}/classification", json=service, headers=h["region"]),
        422,
        "reward_not_applicable",
        "body.type",
    )
    unknown_type = {"type": "sale", "subtype": "patent_right", "reason": "买卖"}
    _problem(
        await client.put(f"{url}/classification", json=unknown_type, headers=h["region"]),
        422,
        "validation_error",
        "body.type",
    )
    # Nothing of it was recorded: the request is as the seller left it.
    request = (await client.get(f"{API}/{cid}", headers=h["seller"])).json()["registration_requests"][-1]
    assert (request["status"], request["approved_technology_income"], request["type"]) == ("pending", None, None)

    _problem(
        await client.get(QUEUE, params={"region": "123456"}, headers=h["admin"]), 422, "unknown_region", "query.region"
    )
    _problem(await client.get(QUEUE, params={"region": "150600"}, headers=h["region"]), 403, "region_out_of_scope")
    inverted = await client.get(QUEUE, params={"min_age_days": 9, "max_age_days": 3}, headers=h["region"])
    _problem(inverted, 422, "invalid_queue_filter", "query.max_age_days")
    _problem(
        await client.get(QUEUE, params={"status": "lost"}, headers=h["region"]), 422, "validation_error", "query.status"
    )
    _problem(
        await client.get(QUEUE, params={"limit": 101}, headers=h["region"]), 422, "validation_error", "query.limit"
    )
    _problem(await client.get(QUEUE, headers=h["seller"]), 403, "registrar_only")
    assert (await client.get(QUEUE)).status_code == 401


async def test_the_queue_shows_a_registrar_their_region_by_status_and_age(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    start = (await client.get(QUEUE, headers=h["region"])).json()["counts"]
    old, fresh = (await _requested(client, database, h))["id"], (await _requested(client, database, h))["id"]
    hohhot = (await _requested(client, database, h, seller=UNIVERSITY))["id"]
    async with database.unit_of_work() as session:
        await session.execute(
            update(RegistrationRequest)
            .where(col(RegistrationRequest.contract_id) == old)
            .values(submitted_at=utcnow() - timedelta(days=10, hours=1))
        )
    returned = await client.post(
        f"{API}/{fresh}/registration/return", json={"items": RETURN_ITEMS}, headers=h["region"]
    )
    assert returned.status_code == 200

    mine = (await client.get(QUEUE, params={"limit": 100}, headers=h["region"])).json()
    ids = [i["contract_id"] for i in mine["items"]]
    assert old in ids and fresh in ids and hohhot not in ids, "包头's registrar sees 包头's sellers only"
    assert all(i["seller_region"].startswith("1502") for i in mine["items"])
    counts = mine["counts"]
    assert (counts["pending"] - start["pending"], counts["returned"] - start["returned"]) == (1, 1)
    assert mine["total"] == sum(counts.values())

    pending = (await client.get(QUEUE, params={"status": "pending", "limit": 100}, headers=h["region"])).json()
    assert old in [i["contract_id"] for i in pending["items"]] and fresh not in [
        i["contract_id"] for i in pending["items"]
    ]
    assert pending["total"] == counts["pending"] and pending["counts"] == counts
    aged = (await client.get(QUEUE, params={"min_age_days": 10}, headers=h["region"])).json()
    assert [(i["contract_id"], i["age_days"]) for i in aged["items"]] == [(old, 10)]
    recent = (await client.get(QUEUE, params={"max_age_days": 9, "limit": 100}, headers=h["region"])).json()
    assert fresh in [i["contract_id"] for i in recent["items"]] and old not in [
        i["contract_id"] for i in recent["items"]
    ]
    window = (await client.get(QUEUE, params={"min_age_days": 10, "max_age_days": 10}, headers=h["region"])).json()
    assert [i["contract_id"] for i in window["items"]] == [old]

    hohhot_queue = (await client.get(QUEUE, params={"region": "150100", "limit": 100}, headers=h["admin"])).json()
    assert [i["contract_id"] for i in hohhot_queue["items"]] == [hohhot]
    everything = (await client.get(QUEUE, params={"limit": 100}, headers=h["admin"])).json()
    assert {old, fresh, hohhot} <= {i["contract_id"] for i in everything["items"]}


async def test_serials_run_per_region_and_year(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    baotou = [(await _requested(client, database, h))["id"] for _ in range(2)]
    hohhot = (await _requested(client, database, h, seller=UNIVERSITY))["id"]
    numbers = []
    for cid, registrar in ((baotou[0], "region"), (hohhot, "admin"), (baotou[1], "admin")):
        reply = await client.post(f"{API}/{cid}/register", json={}, headers=h[registrar])
        assert reply.status_code == 200, reply.text
        numbers.append(reply.json()["registration_number"])
    first, other, second = numbers
    assert first[:10] == second[:10] and other[4:10] == "150100"
    assert int(second[10:]) == int(first[10:]) + 1, "包头's serial moves on by one, whatever 呼和浩特 registers"
    async with database.unit_of_work() as session:
        counter = await session.get(RegistrationCounter, ("150200", int(first[:4])))
        assert counter is not None and counter.last_serial == int(second[10:])


CONCURRENT = 16  # registrations of 包头 sellers in flight at once (plus 4 of 呼和浩特)


async def test_concurrent_registrations_on_postgresql_get_unique_consecutive_serials(
    postgres_copy_factory: Callable[[], str], settings: Settings
) -> None:
    """Every registration at once, on a real PostgreSQL database of its own served by uvicorn: each
    region's serials come out unique and without gaps, and its counter ends at the last one."""
    database = Database(create_engine(await asyncio.to_thread(postgres_copy_factory), pool_size=20, timeout=30))
    overlap = Overlap(database)
    try:
        sock = free_socket()
        async with (
            serve(create_app(settings, database=database), sock),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=60) as api,
        ):
            h = await headers_of(api)
            baotou = [(await _requested(api, database, h))["id"] for _ in range(CONCURRENT)]
            hohhot = [(await _requested(api, database, h, seller=UNIVERSITY))["id"] for _ in range(4)]
            overlap.reset()
            replies = await asyncio.gather(
                *[api.post(f"{API}/{cid}/register", json={}, headers=h["region"]) for cid in baotou],
                *[api.post(f"{API}/{cid}/register", json={}, headers=h["admin"]) for cid in hohhot],
            )
            assert [r.status_code for r in replies] == [200] * len(replies), {r.status_code: r.text for r in replies}
            assert overlap.peak >= 5, f"only {overlap.peak} units of work overlapped: the registrations did not race"
        numbers = [r.json()["registration_number"] for r in replies]
        assert len(set(numbers)) == len(numbers)
        async with database.unit_of_work() as session:
            counters = {
                (c.region, c.year): c.last_serial
                for c in (await session.execute(select(RegistrationCounter))).scalars()
            }
        for region, group in (("150200", numbers[:CONCURRENT]), ("150100", numbers[CONCURRENT:])):
            assert {n[4:10] for n in group} == {region}
            serials = sorted(int(n[10:]) for n in group)
            assert serials == list(range(serials[0], serials[0] + len(group))), serials
            assert counters[(region, int(group[0][:4]))] == serials[-1]
    finally:
        await database.dispose()
