"""The one search request: its checks, made once, give the same field-level 422s directly and through the API."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from core.errors import ValidationFailed
from search.errors import QueryTooLong
from search.query import SearchQuery


def refusals(**values: object) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationFailed) as error:
        SearchQuery.parse(**values)
    assert error.value.status_code == 422
    return [(e.field, e.code, e.message) for e in error.value.errors or []]


def test_a_valid_request_keeps_its_values_and_cannot_change() -> None:
    query = SearchQuery.parse(
        text="稀土", fields=["new_materials"], regions=["150000"], price_min_fen=100, price_max_fen=100, trl_min=4
    )
    assert (query.fields, query.regions, query.window) == (["new_materials"], ["150000"], 20)
    with pytest.raises(ValidationError, match="frozen"):
        query.limit = 50  # type: ignore[misc]


def test_unknown_codes_and_inverted_ranges_are_reported_together() -> None:
    assert refusals(
        fields=["magic"], regions=["159999"], price_min_fen=500, price_max_fen=100, trl_min=7, trl_max=5
    ) == [
        ("query.field", "unknown_field", "未知的技术领域代码 magic"),
        ("query.region", "unknown_region", "未知的行政区划代码 159999"),
        ("query.price_min", "range_inverted", "最低价不能高于最高价"),
        ("query.trl_min", "range_inverted", "最低技术就绪度不能高于最高值"),
    ]


def test_a_malformed_region_is_an_unknown_one() -> None:
    assert refusals(regions=["abc"]) == [("query.region", "unknown_region", "未知的行政区划代码 abc")]


def test_too_long_text_is_refused_once_the_codes_pass() -> None:
    with pytest.raises(QueryTooLong) as error:
        SearchQuery(text="稀" * 201)
    assert [(e.field, e.code) for e in error.value.errors or []] == [("query.q", "query_too_long")]
    assert [code for _, code, _ in refusals(text="稀" * 201, fields=["magic"])] == ["unknown_field"]


def test_out_of_range_values_become_field_errors() -> None:
    assert [(field, code) for field, code, _ in refusals(limit=0, trl_max=10)] == [
        ("trl_max", "less_than_equal"),
        ("limit", "greater_than_equal"),
    ]


async def test_the_endpoints_answer_with_the_same_errors(client: httpx.AsyncClient) -> None:
    reply = await client.get(
        "/api/v1/search/demands", params={"region": "159999", "price_min": "10.50", "price_max": "10.49"}
    )
    assert reply.status_code == 422
    assert [(e["field"], e["code"], e["message"]) for e in reply.json()["errors"]] == [
        ("query.region", "unknown_region", "未知的行政区划代码 159999"),
        ("query.price_min", "range_inverted", "最低价不能高于最高价"),
    ]
    matches = await client.get("/api/v1/demands/1/matches", params={"field": "magic"})
    assert matches.status_code == 422
    assert [(e["field"], e["code"]) for e in matches.json()["errors"]] == [("query.field", "unknown_field")]
    fine = await client.get("/api/v1/search/achievements", params={"price_min": "10.49", "price_max": "10.50"})
    assert fine.status_code == 200
