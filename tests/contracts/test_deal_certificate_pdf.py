"""The 交易鉴证 as PDF, as its holder sees it: refused before completion, refused to outsiders; after
completion the page carries the number, the price, the parties and the mode, and its printed link,
opened as printed, tells anyone that the certificate is genuine and that its digest matches."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.contracts.conftest import PaymentWorld, org_id, payment_world, published_achievement  # noqa: F401
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, noticed, transfer_contract
from tests.contracts.test_certificates_pdf import link_in, page_of
from tests.contracts.test_deal_certificates import TOTAL, _complete
from tests.prerequisites import require

API = "/api/v1"


@pytest.fixture(autouse=True)
def _font() -> None:
    font = Settings().pdf_font
    require(font.is_file(), f"the CJK font {font} (Debian fonts-noto-cjk)")


async def test_completed_deal_downloads_its_certificate_whose_link_verifies(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement, buyer = (
        await published_achievement(world.database, INSTITUTE),
        await org_id(world.database, ENTERPRISE),
    )
    await noticed(world.api, h["seller"], transfer_contract(achievement, buyer, total=TOTAL))
    contract = await _complete(world, h, achievement, buyer)
    url = f"{API}/contracts/{contract['id']}/certificate.pdf"

    outsider = await world.api.get(url, headers=h["other"])
    assert outsider.status_code == 404, outsider.text
    assert (await world.api.get(url)).status_code == 401

    certificate = (await world.api.get(f"{API}/contracts/{contract['id']}/certificate", headers=h["buyer"])).json()
    for side in ("seller", "buyer"):
        reply = await world.api.get(url, headers=h[side])
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/pdf"
        assert f"certificate-{certificate['number']}.pdf" in reply.headers["content-disposition"]
    text, _ = page_of(reply.content)
    flat = text.replace("\r\n", "")
    assert certificate["number"] in flat
    assert "600,000.00 元" in flat
    assert "协议定价" in flat and "稀土永磁材料低重稀土制备技术" in flat and contract["title"] in flat
    assert certificate["terms_digest"] in flat

    printed = link_in(text)
    assert printed.host == world.api.base_url.host and printed.port == world.api.base_url.port
    check = (await world.api.get(printed.path, params=dict(printed.params))).json()
    assert check["number"] == certificate["number"]
    assert (check["genuine"], check["digest_matches"], check["mode"]) == (True, True, "agreed")


async def test_no_certificate_before_completion(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement, buyer = (
        await published_achievement(world.database, INSTITUTE),
        await org_id(world.database, ENTERPRISE),
    )
    body = transfer_contract(achievement, buyer)
    await noticed(world.api, h["seller"], body)
    created = await world.api.post(f"{API}/contracts", json=body, headers=h["seller"])
    assert created.status_code == 201, created.text
    reply = await world.api.get(f"{API}/contracts/{created.json()['id']}/certificate.pdf", headers=h["seller"])
    assert reply.status_code == 409, reply.text
    problem = reply.json()
    assert problem["code"] == "certificate_not_issued" and "尚未出具交易鉴证" in str(problem), problem
