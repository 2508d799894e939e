"""Building contracts through the API for the tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts.contract import service as contract_service
from contracts.contract.models import ContractSubtype
from contracts.contract.registration_materials import required_for
from contracts.pricing import rules
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import login

INSTITUTE = "institute@demo.techmarket.cn"  # 包头 150200, institute: a seller whose inventors get >= 70%
UNIVERSITY = "univ@demo.techmarket.cn"  # 呼和浩特 150100
ENTERPRISE = "enterprise@demo.techmarket.cn"  # 呼和浩特 150100, buyer
ENERGY = "energy@demo.techmarket.cn"  # 鄂尔多斯, not a party


def transfer_contract(achievement_id: int, buyer_org_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "buyer_org_id": buyer_org_id,
        "title": "稀土永磁材料制备技术专利权转让合同",
        "type": "transfer",
        "subtype": "patent_right",
        "field": "new_materials",
        "total": "1000000.00",
        "technology_income": "900000.00",
        "achievement_ids": [achievement_id],
        "milestones": [
            {"title": "合同生效后首付款", "amount": "300000.00"},
            {"title": "技术交付验收后尾款", "amount": "700000.00"},
        ],
        "service_invention": True,
        "deductions": [
            {"kind": "maintenance", "description": "专利年费", "amount": "8000.00"},
            {"kind": "transaction_cost", "description": "资产评估费", "amount": "12000.00"},
        ],
    }
    body.update(overrides)
    return body


MATERIAL_PDF = b"%PDF-1.4\n% registration material for the tests\n%%EOF\n"


async def attach_materials(
    client: httpx.AsyncClient, cid: int, headers: dict[str, str], subtype: str = "patent_right"
) -> None:
    """Upload what a registration request of ``subtype`` must carry (one small PDF per material)."""
    for material in required_for(ContractSubtype(subtype)):
        reply = await client.post(
            f"/api/v1/contracts/{cid}/attachments",
            headers=headers,
            params={"category": material.categories[0]},
            files={"file": (f"{material.code}.pdf", MATERIAL_PDF, "application/pdf")},
        )
        assert reply.status_code == 201, reply.text


async def headers_of(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    return {
        "seller": await login(client, INSTITUTE),
        "buyer": await login(client, ENTERPRISE),
        "region": await login(client, REGION_ADMIN[0]),
        "admin": await login(client, PLATFORM_ADMIN_EMAIL),
        "other": await login(client, ENERGY),
    }


async def noticed(client: httpx.AsyncClient, seller: dict[str, str], body: dict[str, Any]) -> list[dict[str, Any]]:
    """The seller's 协议定价公示 of each achievement of the contract ``body`` to its buyer at its total,
    published on a past day (the clock moved back as the pricing tests move it) so that the period is
    over today: the lawful path by which a state-funded unit's service invention is signed (art. 18)."""
    past = contract_service.today() - timedelta(days=rules.AGREED.notice_days + 1)
    terms = {"transferee_org_id": body["buyer_org_id"], "price": body["total"]}
    notices = []
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(contract_service, "today", lambda: past)
        for achievement_id in body.get("achievement_ids", []):
            notice = {"achievement_id": achievement_id, **terms}
            reply = await client.post("/api/v1/price-notices", json=notice, headers=seller)
            assert reply.status_code == 201, reply.text
            notices.append(dict(reply.json()))
    return notices


async def registered_contract(
    client: httpx.AsyncClient, h: dict[str, dict[str, str]], body: dict[str, Any]
) -> dict[str, Any]:
    reply = await client.post("/api/v1/contracts", json=body, headers=h["seller"])
    assert reply.status_code == 201, reply.text
    contract = reply.json()
    cid = contract["id"]
    if rules.bound(contract["type"], contract["seller_kind"], contract["service_invention"]):
        await noticed(client, h["seller"], body)
    for side in ("seller", "buyer"):
        assert (await client.post(f"/api/v1/contracts/{cid}/sign", headers=h[side])).status_code == 200
    await attach_materials(client, cid, h["seller"], body.get("subtype", "patent_right"))
    assert (await client.post(f"/api/v1/contracts/{cid}/registration-request", headers=h["seller"])).status_code == 200
    reply = await client.post(f"/api/v1/contracts/{cid}/register", json={}, headers=h["region"])
    assert reply.status_code == 200, reply.text
    return reply.json()
