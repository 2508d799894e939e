"""认定登记 materials: a request carries what its contract type requires, or it is refused field by field.

Every contract needs its text; a patent transfer or licence the patent certificate (attached to the
contract or to the achievement it covers); a technical secret a rights proof. Each missing material
is one 422 error with a stable code and a Chinese message naming it; the registrar's queue lists each
material with the files that answer it. The rules are data with their sources.
"""

from __future__ import annotations

from typing import Any

import httpx

from contracts.contract.models import ContractSubtype
from contracts.contract.registration_materials import materials, required_for
from core.db import Database
from market.attachments.models import AttachmentCategory
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import (
    ENTERPRISE,
    INSTITUTE,
    MATERIAL_PDF,
    attach_materials,
    headers_of,
    noticed,
    transfer_contract,
)

API = "/api/v1/contracts"


def test_the_rules_cover_every_subtype_with_sources_and_known_categories() -> None:
    known = {c.value for c in AttachmentCategory}
    for material in materials():
        assert material.source and material.source_date.year >= 2000, material
        assert set(material.categories) <= known, f"{material.code}: no such attachment category"
    for subtype in ContractSubtype:
        assert required_for(subtype)[0].code == "contract_text", subtype
    assert {m.code for m in required_for(ContractSubtype.patent_right)} == {"contract_text", "patent_certificate"}
    assert {m.code for m in required_for(ContractSubtype.technical_secret)} == {"contract_text", "rights_proof"}
    assert {m.code for m in required_for(ContractSubtype.consulting)} == {"contract_text"}


async def _signed(client: httpx.AsyncClient, database: Database, h: dict[str, dict[str, str]], **overrides: Any) -> int:
    achievement = await published_achievement(database, INSTITUTE)
    body = transfer_contract(achievement, await org_id(database, ENTERPRISE), **overrides)
    created = await client.post(API, json=body, headers=h["seller"])
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    await noticed(client, h["seller"], body)
    for side in ("seller", "buyer"):
        assert (await client.post(f"{API}/{cid}/sign", headers=h[side])).status_code == 200
    return cid


async def _upload(client: httpx.AsyncClient, url: str, headers: dict[str, str], category: str) -> int:
    reply = await client.post(
        url,
        headers=headers,
        params={"category": category},
        files={"file": ("材料.pdf", MATERIAL_PDF, "application/pdf")},
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def _missing(reply: httpx.Response) -> dict[str, str]:
    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["code"] == "registration_materials_missing" and problem["title"] == "认定登记申请材料不全"
    assert all(e["code"] == "material_missing" for e in problem["errors"])
    return {e["field"]: e["message"] for e in problem["errors"]}


async def test_a_patent_transfer_needs_its_text_and_the_patent_certificate(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    cid = await _signed(client, database, h)
    ask = f"{API}/{cid}/registration-request"

    first = _missing(await client.post(ask, headers=h["seller"]))
    assert set(first) == {"materials.contract_text", "materials.patent_certificate"}
    assert "技术合同文本" in first["materials.contract_text"] and "专利证书" in first["materials.patent_certificate"]
    contract = (await client.get(f"{API}/{cid}", headers=h["seller"])).json()
    assert contract["registration_requested_at"] is None, "a refused request leaves nothing behind"

    text = await _upload(client, f"{API}/{cid}/attachments", h["buyer"], "contract_text")  # either party may
    second = _missing(await client.post(ask, headers=h["seller"]))
    assert set(second) == {"materials.patent_certificate"}

    # The certificate on the achievement the contract covers answers too.
    achievement = contract["achievement_ids"][0]
    certificate = await _upload(
        client, f"/api/v1/achievements/{achievement}/attachments", h["seller"], "patent_certificate"
    )
    asked = await client.post(ask, headers=h["seller"])
    assert asked.status_code == 200, asked.text

    queue = await client.get("/api/v1/registrations", params={"limit": 100}, headers=h["region"])
    item = next(i for i in queue.json()["items"] if i["contract_id"] == cid)
    shown = {m["material"]: m for m in item["materials"]}
    assert shown["contract_text"]["present"] is True and shown["contract_text"]["attachment_ids"] == [text]
    assert shown["patent_certificate"]["attachment_ids"] == [certificate]
    assert shown["patent_certificate"]["label"].startswith("专利证书")
    files = await client.get(f"{API}/{cid}/attachments", headers=h["region"])
    assert text in {f["id"] for f in files.json()["items"]}, "the registrar reads the contract's files"


async def test_a_technical_secret_needs_a_rights_proof_and_a_service_contract_only_its_text(
    client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    secret = await _signed(client, database, h, subtype="technical_secret", service_invention=False, deductions=[])
    await _upload(client, f"{API}/{secret}/attachments", h["seller"], "contract_text")
    refused = _missing(await client.post(f"{API}/{secret}/registration-request", headers=h["seller"]))
    assert set(refused) == {"materials.rights_proof"} and "技术秘密权属证明" in refused["materials.rights_proof"]
    await _upload(client, f"{API}/{secret}/attachments", h["seller"], "rights_proof")
    assert (await client.post(f"{API}/{secret}/registration-request", headers=h["seller"])).status_code == 200

    service = await _signed(
        client,
        database,
        h,
        type="service",
        subtype="technical_service",
        achievement_ids=[],
        service_invention=False,
        deductions=[],
    )
    assert set(_missing(await client.post(f"{API}/{service}/registration-request", headers=h["seller"]))) == {
        "materials.contract_text"
    }
    await attach_materials(client, service, h["seller"], "technical_service")
    assert (await client.post(f"{API}/{service}/registration-request", headers=h["seller"])).status_code == 200


async def test_a_resubmission_is_checked_again(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    cid = await _signed(client, database, h)
    await attach_materials(client, cid, h["seller"])
    assert (await client.post(f"{API}/{cid}/registration-request", headers=h["seller"])).status_code == 200
    returned = await client.post(
        f"{API}/{cid}/registration/return",
        json={"items": [{"kind": "document", "item": "contract_text", "reason": "合同文本缺少签章页"}]},
        headers=h["region"],
    )
    assert returned.status_code == 200, returned.text
    files = (await client.get(f"{API}/{cid}/attachments", headers=h["seller"])).json()["items"]
    text = next(f["id"] for f in files if f["category"] == "contract_text")
    assert (await client.delete(f"{API}/{cid}/attachments/{text}", headers=h["seller"])).status_code == 204
    resubmit = f"{API}/{cid}/registration/resubmit"
    assert set(_missing(await client.post(resubmit, json={"note": "已补签章页"}, headers=h["seller"]))) == {
        "materials.contract_text"
    }
    await _upload(client, f"{API}/{cid}/attachments", h["seller"], "contract_text")
    assert (await client.post(resubmit, json={"note": "已补签章页"}, headers=h["seller"])).status_code == 200
