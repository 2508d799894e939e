"""Schemathesis against the app's own OpenAPI schema, as each role: no 5xx, no reply outside its schema.

Cases come from schemathesis' strategies for each operation (positive data, and negative data that
breaks the schema on purpose), drawn by Hypothesis with a fixed seed (``derandomize``) and a fixed
budget per operation, then sent in-process over ASGI to the seeded world of the hardening tests
(demo data, drafts, contracts, deals...), every case as each of four callers in turn: anonymous, an
organization's admin, a region admin and the platform admin. Half of the positive cases have their
path parameters pointed at objects that exist (listings of every status, contracts with paid and
unpaid milestones, organizations, deals, targets...), so the fuzzer reaches past "not found". The
payment provider is the real stub served over HTTP, so pay and refund go all the way. Every reply is
checked by schemathesis: not a server error (any 5xx), a status the operation documents, the
declared content type and headers, and a body that validates against the declared schema. SQLite
(the embedded default); about 3,600 requests per run.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.factory import create_app
from contracts.settings import PaymentSettings
from core.settings import Settings
from tests.fixtures.app import login
from tests.hardening.world import World, hardening_database, world  # noqa: F401  (fixtures)

FUZZ_ROLES = ("anonymous", "owner_admin", "region_admin", "platform_admin")
POSITIVE_EXAMPLES = 8
NEGATIVE_EXAMPLES = 4
MIN_REQUESTS = 3000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SLOW = {"/api/v1/statistics/charts/turnover.{fmt}", "/api/v1/statistics/charts/breakdown.{fmt}"}  # matplotlib renders
BASE_URL = "http://testserver"

# Known, not yet fixed: (method, path) -> reason. Each is marked xfail(strict=True), so a fix shows up.
KNOWN: dict[tuple[str, str], str] = {}


def _schema() -> Any:
    app = create_app(Settings(env="test", secret_key="fuzz-schema-only-" + "0" * 32))
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _draw(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    cases: list[Any] = []

    @given(operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except Exception as exc:  # an operation without negative variants (nothing to break) is fine
        if mode is GenerationMode.NEGATIVE:
            return cases
        raise AssertionError(f"cannot generate cases for {operation.method.upper()} {operation.path}: {exc!r}") from exc
    return cases


def _params() -> list[Any]:
    params = []
    for operation in OPERATIONS:
        key = (operation.method.upper(), operation.path)
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[key])] if key in KNOWN else []
        params.append(pytest.param(operation, id=f"{key[0]} {key[1]}", marks=marks))
    return params


async def _targets(world: World) -> dict[str, list[Any]]:
    """Ids of objects that exist, by path parameter name (listing ids per kind; contract and milestone in pairs)."""
    if "fuzz" not in world.ids:
        paid = await world.paid_milestone()  # the owner sells; its first milestone is paid through the stub
        bought = await world.contract("performing", owner_side="buyer")  # the owner buys; nothing paid yet
        demo = (
            await world.call("GET", f"/api/v1/contracts/{world.ids['demo_contract']}", "platform_admin", expect=200)
        ).json()
        draft = await world.contract("draft")
        listings = {
            kind: [world.ids[k][kind]["id"] for k in ("draft", "published", "revised", "stale")]
            for kind in ("achievements", "demands")
        }
        world.ids["fuzz"] = {
            "achievements": listings["achievements"],
            "demands": listings["demands"],
            "contract_milestone": [
                paid,
                *[(c["id"], m["id"]) for c in (bought, demo, draft) for m in c["milestones"]],
            ],
            "organization_id": [world.org[k] for k in ("owner", "other", "pending", "pending_local")],
            "deal_id": [world.ids["deal"]["id"]],
            "target_id": [world.ids["target"], world.ids["other_target"]],
            "key_id": [world.ids["api_key"]],
            "subscription_id": [world.ids["subscription"]],
            "notification_id": [world.ids["notification"]],
            "publication_id": [world.ids["publication"]],
        }
    return dict(world.ids["fuzz"])


def _aim(case: Any, targets: dict[str, list[Any]], n: int) -> None:
    """Point the case's path parameters at the n-th existing object of each kind."""
    params = case.path_parameters or {}
    for name in list(params):
        if name == "listing_id":
            pool = targets["achievements" if "/achievements/" in case.operation.path else "demands"]
            params[name] = pool[n % len(pool)]
        elif name == "contract_id":
            contract, milestone = targets["contract_milestone"][n % len(targets["contract_milestone"])]
            params[name] = contract
            if "milestone_id" in params:
                params["milestone_id"] = milestone
        elif name in targets and name != "milestone_id":
            params[name] = targets[name][n % len(targets[name])]


async def _send(client: httpx.AsyncClient, case: Any, headers: dict[str, str]) -> tuple[httpx.Response, dict[str, Any]]:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    if headers:  # a signed-in caller sends its own credentials, not generated ones (the anonymous caller fuzzes those)
        generated = {
            k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in ("authorization", "x-api-key")
        }
        kwargs["headers"] = {**generated, **headers}
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        files=kwargs.get("files"),
    ).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    reply = await client.request(
        prepared.method or "GET", prepared.url or BASE_URL, headers=dict(prepared.headers), content=body
    )
    return reply, kwargs


SENT: dict[str, int] = {}
ANSWERED: dict[tuple[str, int], int] = {}  # (role, status // 100) -> replies


@pytest.mark.parametrize("operation", _params())
async def test_fuzz_operation(world: World, operation: Any) -> None:
    slow = operation.path in SLOW
    positive = _draw(operation, GenerationMode.POSITIVE, 2 if slow else POSITIVE_EXAMPLES)
    targets = await _targets(world)
    for n, case in enumerate(positive[1::2]):
        _aim(case, targets, n)
    cases = positive + _draw(operation, GenerationMode.NEGATIVE, 1 if slow else NEGATIVE_EXAMPLES)
    failures: list[str] = []
    sent = 0
    for case, role in itertools.product(cases, FUZZ_ROLES):
        headers = dict(world.headers[role])
        reply, kwargs = await _send(world.client, case, headers)
        sent += 1
        ANSWERED[(role, reply.status_code // 100)] = ANSWERED.get((role, reply.status_code // 100), 0) + 1
        try:
            case.validate_response(reply, checks=CHECKS, headers=headers, transport_kwargs={"base_url": BASE_URL})
        except Exception as exc:  # schemathesis raises a FailureGroup (or AssertionError) with the report
            failures.append(f"as {role}: {exc}\n{str(exc.__notes__) if hasattr(exc, '__notes__') else ''}")
    SENT[f"{operation.method.upper()} {operation.path}"] = sent
    assert cases, "no case generated"
    assert not failures, f"{len(failures)} of {sent} requests failed:\n\n" + "\n\n".join(failures[:5])


def test_fuzz_volume() -> None:
    """Runs after the operations (file order): the run as a whole sent the promised number of requests."""
    if len(SENT) < len(OPERATIONS):
        pytest.skip("only part of the operations ran (-k)")
    assert sum(SENT.values()) >= MIN_REQUESTS, SENT
    # Past the door: every caller got real answers, not only refusals and "not found" (anonymous: the public routes).
    answered = {role: {f"{c}xx": n for (r, c), n in sorted(ANSWERED.items()) if r == role} for role in FUZZ_ROLES}
    assert all(answered[role].get("2xx", 0) >= (20 if role == "anonymous" else 100) for role in FUZZ_ROLES), str(
        answered
    )


# --- regressions the fuzzer found, pinned on both dialects --------------------------------------------

HUGE = 961271075561813571695909273600  # beyond int64 (SQLite) and int32 (PostgreSQL id columns)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/v1/contracts/{HUGE}", None),
        ("GET", f"/api/v1/achievements/{HUGE}", None),
        ("GET", f"/api/v1/organizations/{2**40}", None),
        ("GET", f"/api/v1/achievements?owner_id={HUGE}", None),
        ("POST", "/api/v1/deals", {"achievement_id": HUGE, "message": "你好"}),
        ("POST", f"/api/v1/contracts/1/milestones/{HUGE}/refund", {}),
    ],
)
async def test_numbers_too_large_for_a_column_are_a_422_not_a_crash(
    app: FastAPI, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    app.state.payment_settings = PaymentSettings(
        env="test",
        provider_url="http://127.0.0.1:9",
        provider_api_key="sk_test_fuzz",
        webhook_secret="fuzz-webhook-secret-0123456789abcdef0123",
        max_attempts=1,
    )
    headers = await login(
        client, "admin@demo.techmarket.cn" if "refund" in path or method == "GET" else "enterprise@demo.techmarket.cn"
    )
    reply = await client.request(method, path, json=body, headers=headers)
    # 2**40 fits SQLite's int64 (so: not found) but not PostgreSQL's int4 id columns (so: out of range).
    assert reply.status_code in ((404, 422) if str(2**40) in path else (422,)), reply.text
    if reply.status_code == 422:
        assert reply.json()["code"] == "validation_error"


async def test_a_body_that_is_not_utf8_is_the_documented_422(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/v1/organizations/register", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["errors"][0]["field"] == "body"
