"""The API contract as generated clients read it: what the OpenAPI document declares is what is sent.

1. Errors: every 4xx/5xx response is declared as ``application/problem+json`` with the Problem
   schema (never under application/json), and a real error arrives with that content type, valid
   against that schema, its extension members (``allowed``) at the top level.
2. Operations: ids are unique and readable (``{tag}_{function}``); every tag has a description.
3. Lists: every list endpoint answers the one page model (items, total, limit, offset), takes the
   same ``limit`` (default 20, at most 100) and refuses 101 with the same 422 code.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.factory import create_app
from core.errors import PROBLEM_MEDIA_TYPE
from core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from core.settings import Settings
from market.demo import PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.fixtures.app import TEST_SECRET, login
from tests.market.test_listings import achievement

sqlite = pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)

API = "/api/v1"
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Documents whose rows belong together with totals computed over all of them: not paged lists.
REPORTS = {
    f"{API}/contracts/{{contract_id}}/distributions": "a contract's ledger: rows and totals reconcile",
    f"{API}/statistics/aggregates": "grouped sums with an overall line",
    f"{API}/statistics/series": "a reference series, one row per year",
    f"{API}/statistics/crosstab": "a two-dimension table with row and column totals",
}
INSTITUTE = "institute@demo.techmarket.cn"


def _app_and_document() -> tuple[Any, dict[str, Any]]:
    app = create_app(Settings(env="test", secret_key=TEST_SECRET))
    return app, app.openapi()


APP, DOCUMENT = _app_and_document()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]


def _list_routes() -> list[Any]:
    """GET routes that answer a collection: a response model with an ``items`` list."""
    found = []
    for route in iter_route_contexts(APP.routes):
        if not isinstance(route.original_route, APIRoute) or "GET" not in (route.methods or ()):
            continue
        model = route.response_model
        items = getattr(model, "model_fields", {}).get("items") if isinstance(model, type) else None
        if items is not None and typing.get_origin(items.annotation) is list and route.path not in REPORTS:
            found.append(route)
    return found


# --- 1. errors -----------------------------------------------------------------------------------


def test_every_error_response_is_declared_as_problem_json_only() -> None:
    declared = 0
    for method, path, op in _operations():
        for status, response in op["responses"].items():
            if status[0] not in "45":
                continue
            declared += 1
            where = f"{method.upper()} {path} {status}"
            assert response.get("content") == {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}, where
    assert declared > 250, "the walk reaches the error responses"
    problem = DOCUMENT["components"]["schemas"]["Problem"]
    assert "extra" not in problem["properties"] and problem.get("additionalProperties") is True
    assert {"type", "title", "status", "code", "errors"} <= problem["properties"].keys()


@sqlite
async def test_a_real_error_is_sent_as_declared_with_top_level_extensions(client: httpx.AsyncClient) -> None:
    owner = await login(client, INSTITUTE)
    reviewer = await login(client, REGION_ADMIN[0])
    draft = await client.post(f"{API}/achievements", json=achievement(), headers=owner)
    assert draft.status_code == 201, draft.text
    reply = await client.post(f"{API}/achievements/{draft.json()['id']}/approve", headers=reviewer)

    assert reply.status_code == 409
    declared = DOCUMENT["paths"][f"{API}/achievements/{{listing_id}}/approve"]["post"]["responses"]["409"]["content"]
    assert reply.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE and set(declared) == {PROBLEM_MEDIA_TYPE}
    body = reply.json()
    schema = DOCUMENT["components"]["schemas"]["Problem"]
    assert set(schema["required"]) <= body.keys()
    json_types = {"string": str, "integer": int, "array": list}
    for name, value in body.items():
        declared_types = [t["type"] for t in schema["properties"].get(name, {}).get("anyOf", [])]
        declared_types += [schema["properties"][name]["type"]] if "type" in schema["properties"].get(name, {}) else []
        assert any(isinstance(value, json_types[t]) for t in declared_types if t in json_types) or (
            name not in schema["properties"]  # an extension member, which the schema allows
        ), name
    assert body["code"] == "invalid_transition" and body["allowed"] == ["submit"] and "extra" not in body
    assert re.search(r"[\u4e00-\u9fff]", body["title"]), "the title stays Chinese"

    invalid = await client.get(f"{API}/achievements", params={"limit": "many"})
    assert invalid.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert invalid.json()["errors"] == [{"field": "query.limit", "code": "int_parsing", "message": "应为整数"}]


# --- 2. operations and tags ----------------------------------------------------------------------


def test_operation_ids_are_unique_readable_and_named_after_tag_and_function() -> None:
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not OPERATION_ID.match(i)] == []
    by_path = {(m, p): op for m, p, op in _operations()}
    assert by_path[("post", f"{API}/achievements/{{listing_id}}/submit")]["operationId"] == (
        "achievements_submit_achievement"
    )
    assert by_path[("get", f"{API}/contracts")]["operationId"] == "contracts_list_contracts"
    for _, _, op in _operations():
        assert op["operationId"].startswith(op["tags"][0] + "_"), op["operationId"]


def test_every_tag_used_has_a_chinese_and_english_description() -> None:
    described = {tag["name"]: tag.get("description", "") for tag in DOCUMENT.get("tags", [])}
    used = {tag for _, _, op in _operations() for tag in op.get("tags", [])}
    assert used - described.keys() == set()
    for name in used:
        assert re.search(r"[\u4e00-\u9fff]", described[name]) and re.search(r"[A-Za-z]{4}", described[name]), name


# --- 3. lists ------------------------------------------------------------------------------------


def test_every_list_endpoint_answers_the_page_model_with_one_limit() -> None:
    routes = _list_routes()
    assert len(routes) >= 18, [r.path for r in routes]
    for route in routes:
        assert issubclass(route.response_model, Page), route.path
        schema_name = DOCUMENT["paths"][route.path]["get"]["responses"]["200"]["content"]["application/json"]
        page = DOCUMENT["components"]["schemas"][schema_name["schema"]["$ref"].rsplit("/", 1)[1]]
        assert {"items", "total", "limit", "offset"} <= set(page["required"]), route.path
        params = {p["name"]: p for p in DOCUMENT["paths"][route.path]["get"]["parameters"] if p["in"] == "query"}
        assert params["limit"]["schema"]["maximum"] == MAX_LIMIT, route.path
        assert params["limit"]["schema"]["default"] == DEFAULT_LIMIT, route.path
        assert "offset" in params, route.path


def _filled(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "achievements" if m.group(1) == "kind" else "1", path)


@sqlite
async def test_every_list_endpoint_refuses_a_limit_above_the_maximum_with_one_code(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    refusals = {}
    for route in _list_routes():
        reply = await client.get(_filled(route.path), params={"limit": MAX_LIMIT + 1}, headers=admin)
        assert reply.status_code == 422, (route.path, reply.text)
        body = reply.json()
        refusals[route.path] = (body["code"], tuple((e["field"], e["code"], e["message"]) for e in body["errors"]))
    assert set(refusals.values()) == {
        ("validation_error", (("query.limit", "less_than_equal", f"应小于或等于 {MAX_LIMIT}"),))
    }, refusals


@sqlite
async def test_pages_window_the_list_and_count_all_of_it(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    first = (await client.get(f"{API}/organizations", headers=admin)).json()
    assert (first["limit"], first["offset"]) == (DEFAULT_LIMIT, 0) and first["total"] == len(first["items"]) > 4
    second = (await client.get(f"{API}/organizations", params={"offset": 2, "limit": 2}, headers=admin)).json()
    assert [o["id"] for o in second["items"]] == [o["id"] for o in first["items"][2:4]]
    assert (second["total"], second["limit"], second["offset"]) == (first["total"], 2, 2)

    owner = await login(client, INSTITUTE)  # a list read whole, then windowed
    for name in ("ci-1", "ci-2", "ci-3"):
        assert (await client.post(f"{API}/api-keys", json={"name": name}, headers=owner)).status_code == 201
    everything = (await client.get(f"{API}/api-keys", headers=owner)).json()
    tail = (await client.get(f"{API}/api-keys", params={"offset": 1, "limit": 1}, headers=owner)).json()
    assert (tail["total"], tail["limit"], tail["offset"]) == (everything["total"], 1, 1) and everything["total"] >= 3
    assert tail["items"] == everything["items"][1:2]
