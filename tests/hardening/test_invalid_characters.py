"""Control characters never get in: 422 ``invalid_characters`` naming the field, on both databases.

The issue's examples: a contract title holding U+0001 was stored and later killed the XLSX 登记表
download; NUL in any text was a 500 on asyncpg (PostgreSQL text cannot hold it). XML-illegal
characters are refused in every string input (JSON bodies, query, path and form values, imported
rows); tab, line feed and carriage return stay legal in multi-line text.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy import func, select

from contracts.contract.models import Contract
from core.characters import reject_invalid_characters
from core.db import Database
from market.listings.files import read_rows
from market.listings.importer import Importer
from market.listings.kinds import ACHIEVEMENT
from market.listings.models import Achievement, IpType
from tests.contracts.helpers import INSTITUTE, transfer_contract
from tests.fixtures.app import login
from tests.market.test_listings import achievement as achievement_body
from tests.statistics.helpers import achievement as published_achievement
from tests.statistics.helpers import organizations

BUYER = "北京测试企业"  # a verified organization in another province
ILLEGAL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"]


def _refused(reply: httpx.Response, *fields: str) -> None:
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["code"] == "invalid_characters", body
    named = {e["field"] for e in body["errors"] if e["code"] == "invalid_characters"}
    assert set(fields) <= named, (fields, body["errors"])


async def _count(database: Database, model: Any) -> int:
    async with database.unit_of_work() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_contract_title_with_a_control_character_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        achievement_id = await published_achievement(session, orgs.ids["演示稀土研究院"], IpType.invention_patent)
    seller = await login(client, INSTITUTE)
    inventors = [{"name": "王教授", "weight": 5}, {"name": "李博士", "weight": 3}]
    body = transfer_contract(achievement_id, orgs.ids[BUYER], title="稀土永磁\u0001专利权转让合同", inventors=inventors)
    before = await _count(database, Contract)

    _refused(await client.post("/api/v1/contracts", json=body, headers=seller), "body.title")
    body["inventors"] = [inventors[0], {"name": "李博士\x00", "weight": 3}]  # NUL was a 500 on asyncpg
    _refused(await client.post("/api/v1/contracts", json=body, headers=seller), "body.title", "body.inventors.1.name")
    assert await _count(database, Contract) == before

    clean = transfer_contract(achievement_id, orgs.ids[BUYER], inventors=inventors)
    reply = await client.post("/api/v1/contracts", json=clean, headers=seller)
    assert reply.status_code == 201, reply.text  # the same body, clean, is fine


@pytest.mark.parametrize("char", ILLEGAL, ids=[f"U+{ord(c):04X}" for c in ILLEGAL])
async def test_every_xml_illegal_character_is_refused_in_a_listing(
    client: httpx.AsyncClient, database: Database, char: str
) -> None:
    owner = await login(client, INSTITUTE)
    before = await _count(database, Achievement)
    reply = await client.post(
        "/api/v1/achievements",
        json=achievement_body(summary=f"采用重稀土晶界扩散工艺{char}, 矫顽力提高 8 kOe 以上。"),
        headers=owner,
    )
    _refused(reply, "body.summary")
    reply = await client.post(
        "/api/v1/achievements", json=achievement_body(keywords=["钕铁硼", f"永磁{char}"]), headers=owner
    )
    _refused(reply, "body.keywords.1")
    assert await _count(database, Achievement) == before


async def test_query_path_and_form_values_are_checked_too(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    _refused(await client.get("/api/v1/search/achievements", params={"q": "稀土\x00永磁"}), "query.q")
    _refused(
        await client.get("/api/v1/achievements", params={"field": "new_materials\x00"}, headers=owner), "query.field"
    )
    _refused(await client.get("/api/v1/achievements/%00", headers=owner), "path.listing_id")
    _refused(
        await client.post("/api/v1/auth/token", data={"username": "institute\x00@demo.techmarket.cn", "password": "x"}),
        "body.username",
    )


async def test_tab_line_feed_and_carriage_return_stay_legal(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    summary = "第一段: 重稀土晶界扩散。\r\n第二段:\t矫顽力提高 8 kOe,\n适用于驱动电机。"
    reply = await client.post("/api/v1/achievements", json=achievement_body(summary=summary), headers=owner)
    assert reply.status_code == 201, reply.text
    assert (await client.get(f"/api/v1/achievements/{reply.json()['id']}", headers=owner)).json()["summary"] == summary


async def test_imported_rows_with_control_characters_are_row_errors(database: Database) -> None:
    good = {
        "external_id": "CTRL-1",
        "title": "马铃薯脱毒种薯快繁技术",
        "summary": "茎尖脱毒结合雾培快繁, 单株结薯数提高到40粒以上, 原原种成本降低30%。",
        "field": "agriculture",
        "maturity": "industrialized",
        "trl": 8,
        "ip_type": "know_how",
        "transaction_modes": ["transfer"],
        "owner": "演示大学 (内蒙古)",
        "region": "150100",
    }
    rows = [
        good,
        {**good, "external_id": "CTRL-2", "title": "燕麦\u0001葡聚糖提取工艺"},
        {**good, "external_id": "CTRL-3", "keywords": ["燕麦", "葡聚糖\x00"]},
        {**good, "external_id": "CTRL-4", "owner": "演示大学\x0b(内蒙古)"},
    ]
    content = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
    before = await _count(database, Achievement)
    report = await Importer(database, ACHIEVEMENT).run(read_rows("rows.jsonl", content))
    assert {(e.line, e.field, e.code) for e in report.errors} == {
        (2, "title", "invalid_characters"),
        (3, "keywords.1", "invalid_characters"),
        (4, "owner", "invalid_characters"),
    }
    assert report.created == 1 and await _count(database, Achievement) == before + 1


# --- every route, every declared input ----------------------------------------------------------


def _declared(route: Any) -> tuple[list[str], list[str], list[str]]:
    """(query, JSON body, form) names a client sends to this route."""
    query: list[str] = []
    stack, seen = [route.dependant], set()
    while stack:
        dependant = stack.pop()
        if id(dependant) in seen:
            continue
        seen.add(id(dependant))
        query += [p.alias for p in dependant.query_params]
        stack += dependant.dependencies
    body: list[str] = []
    form: list[str] = []
    if route.body_field is not None:
        model = route.body_field.field_info.annotation
        names = (
            [f.alias or n for n, f in model.model_fields.items()]
            if isinstance(model, type) and issubclass(model, BaseModel)
            else []
        )
        (form if isinstance(route.body_field.field_info, Form) else body).extend(names)
    return sorted(set(query)), body, form


def _url(route: Any, target: str | None) -> str:
    url = route.path_format
    for name in route.param_convertors:
        url = url.replace("{" + name + "}", "%01" if name == target else "1")
    return url


async def test_every_route_refuses_control_characters_in_every_declared_input(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Walks the app: a new route or schema is covered without anyone remembering to (the check is app-wide)."""
    routes = [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]
    assert len(routes) > 50
    for route in routes:  # the app-wide dependency runs first on every route, before authentication and validation
        assert route.dependant.dependencies[0].call is reject_invalid_characters, route.path_format
    checked = 0
    for route in routes:
        method = sorted(route.methods - {"HEAD"})[0]
        query, body, form = _declared(route)
        cases: list[tuple[str, dict[str, Any], str]] = []
        cases += [(_url(route, name), {}, f"path.{name}") for name in route.param_convertors]
        cases += [(_url(route, None), {"params": {name: "x\x01"}}, f"query.{name}") for name in query]
        cases += [(_url(route, None), {"json": {name: "x\x01"}}, f"body.{name}") for name in body]
        cases += [(_url(route, None), {"data": {name: "x\x01"}}, f"body.{name}") for name in form]
        for url, kwargs, field in cases:
            reply = await client.request(method, url, **kwargs)
            assert reply.status_code == 422 and reply.json()["code"] == "invalid_characters", (
                method,
                route.path_format,
                field,
                reply.text[:300],
            )
            assert field in {e["field"] for e in reply.json()["errors"]}, (method, route.path_format, field)
            checked += 1
    assert checked > len(routes)  # most routes take several inputs
