"""GET /api/v1/reference: the codes people type, with their Chinese labels; enums documented and
refused in Chinese labels."""

from __future__ import annotations

import httpx
import pytest

from app.factory import create_app
from core.settings import Settings
from tests.fixtures.app import TEST_SECRET, login
from tests.market.test_listings import INSTITUTE, achievement

sqlite = pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
API = "/api/v1/reference"


@sqlite
async def test_regions_list_every_league_and_its_banners_and_counties(client: httpx.AsyncClient) -> None:
    leagues = (await client.get(f"{API}/regions", params={"parent": "150000"})).json()  # anonymous: public
    assert leagues["total"] == 12 and leagues["name"] == "regions"
    assert {i["code"]: i["label"] for i in leagues["items"]}["152900"] == "阿拉善盟"
    counties = 0
    for league in leagues["items"]:
        reply = await client.get(f"{API}/regions", params={"parent": league["code"], "limit": 100})
        assert reply.status_code == 200 and reply.json()["total"] > 0, league
        counties += reply.json()["total"]
    assert counties == 103

    baotou = (await client.get(f"{API}/regions", params={"parent": "150200"})).json()["items"]
    kundulun = next(i for i in baotou if i["code"] == "150203")
    assert kundulun == {
        "code": "150203",
        "label": "昆都仑区",
        "parent": "150200",
        "order": kundulun["order"],
        "level": "district",
    }
    assert [i["order"] for i in baotou] == sorted(i["order"] for i in baotou)

    everything = (await client.get(f"{API}/regions", params={"limit": 100})).json()
    rest = (await client.get(f"{API}/regions", params={"limit": 100, "offset": 100})).json()
    assert everything["total"] == rest["total"] == len(everything["items"]) + len(rest["items"])
    assert everything["items"][0] == {
        "code": "150000",
        "label": "内蒙古自治区",
        "parent": None,
        "order": 1,
        "level": "province",
    }


@sqlite
async def test_each_enum_list_has_chinese_labels_and_unknown_names_are_404(client: httpx.AsyncClient) -> None:
    index = (await client.get(API)).json()
    names = [i["name"] for i in index["items"]]
    assert {"fields", "regions", "maturity", "ip_types", "transaction_modes", "contract_types"} <= set(names)
    assert {"contract_subtypes", "organization_kinds"} <= set(names)
    maturity = (await client.get(f"{API}/maturity")).json()
    assert [(i["code"], i["label"], i["order"]) for i in maturity["items"]] == [
        ("research", "研发阶段", 1),
        ("lab", "小试", 2),
        ("pilot", "中试", 3),
        ("industrialized", "产业化", 4),
    ]
    licences = (await client.get(f"{API}/contract_subtypes", params={"parent": "license"})).json()["items"]
    assert [i["label"] for i in licences][:3] == ["专利实施许可 (独占)", "专利实施许可 (排他)", "专利实施许可 (普通)"]
    fields = (await client.get(f"{API}/fields")).json()
    assert fields["total"] == 11 and fields["items"][0]["label"] == "电子信息"

    missing = await client.get(f"{API}/colours")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "unknown_code_list"
    stray = await client.get(f"{API}/regions", params={"parent": "159999"})
    assert stray.status_code == 422 and stray.json()["errors"][0]["field"] == "query.parent"


def test_openapi_documents_every_enum_with_its_labels() -> None:
    schemas = create_app(Settings(env="test", secret_key=TEST_SECRET)).openapi()["components"]["schemas"]
    assert "pilot: 中试" in schemas["Maturity"]["description"]
    assert "know_how: 技术秘密" in schemas["IpType"]["description"]
    assert "equity: 作价入股" in schemas["TransactionMode"]["description"]
    assert "transfer: 技术转让" in schemas["ContractType"]["description"]
    assert "technical_training: 技术培训" in schemas["ContractSubtype"]["description"]
    assert "agency: 中介机构" in schemas["OrganizationKind"]["description"]


async def test_enum_errors_name_the_choices_in_chinese(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    reply = await client.post("/api/v1/achievements", json=achievement(maturity="beta"), headers=owner)
    assert reply.status_code == 422
    error = next(e for e in reply.json()["errors"] if e["field"] == "body.maturity")
    assert error == {
        "field": "body.maturity",
        "code": "enum",
        "message": "取值应为 研发阶段(research)、小试(lab)、中试(pilot)、产业化(industrialized) 之一",
    }
    reply = await client.get("/api/v1/search/achievements", params={"owner_kind": "club"})
    message = reply.json()["errors"][0]["message"]
    assert reply.status_code == 422 and message.startswith("取值应为 高等院校(university)、科研机构(institute)")
