"""Personal data stays with the people entitled to it: every response field is classified
(public / parties / organization / admin) and rendered per caller.

1. Every field of every response model of every route (nested models too) has a classification,
   and OpenAPI documents it (``x-visibility``); a field without one fails here.
2. Inventors' names and shares, contact person/phone/e-mail and users' e-mails are absent for
   anonymous callers and other organizations (listing detail, list, search hits from both engines,
   matches, organization and user reads, the reward ledger), while the owner and the admins
   governing the owner's region still see them. Both profiles.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from app.factory import create_app
from app.worker import run_once
from core.settings import Settings
from core.visibility import Classified, Subject, Viewer, rendering_for, unclassified
from market.identity.schemas import UserRead
from search.adapters.meilisearch import MeilisearchEngine
from search.outbox_relay import reindex
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.meilisearch import MeiliServer
from tests.hardening.world import (
    OWNER,
    ROLES,
    World,
    hardening_database,  # noqa: F401  (fixture)
    world,  # noqa: F401  (fixture)
)

API = "/api/v1"
SEE_PERSONAL = OWNER | {"region_admin", "platform_admin"}  # the owner, and the admins governing its region 150200
NOT_ENTITLED = frozenset(ROLES) - SEE_PERSONAL  # anonymous, other organizations, pending, another 盟市's admin
INVENTORS = [{"name": "张晓燕", "share": "2"}, {"name": "刘建国", "share": "1"}]
CONTACT = {"name": "孙老师", "phone": "0472-5123456", "email": "sun.laoshi@institute.example.cn"}
PERSONAL = ("inventors", "contact", "pending_revision", "review_reason")

both_profiles = pytest.mark.parametrize("hardening_database", ["sqlite", "postgresql"], indirect=True)


# --- 1. every response field classified ----------------------------------------------------------


def _models(annotation: Any, seen: dict[type[BaseModel], str], where: str) -> None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in seen:
            seen[annotation] = where
            for name, info in annotation.model_fields.items():
                _models(info.annotation, seen, f"{where} → {annotation.__name__}.{name}")
        return
    for argument in typing.get_args(annotation):
        _models(argument, seen, where)


def response_models() -> dict[type[BaseModel], str]:
    app = create_app(Settings(env="test", secret_key=TEST_SECRET))
    seen: dict[type[BaseModel], str] = {}
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.response_model is not None:
            _models(route.response_model, seen, f"{sorted(route.methods or ())} {route.path}")
    return seen


def test_every_response_field_has_a_classification() -> None:
    models = response_models()
    assert len(models) > 40, "the walk reaches the response models"
    missing = [
        f"{model.__module__}.{model.__name__}.{name} ({where})"
        for model, where in models.items()
        for name in unclassified(model)
    ]
    assert not missing, f"response fields without a classification (public/parties/organization/admin): {missing}"
    unfiltered = [f"{model.__module__}.{model.__name__}" for model in models if not issubclass(model, Classified)]
    assert not unfiltered, (
        f"response models not rendered per caller (subclass core.visibility.Classified): {unfiltered}"
    )


def test_openapi_documents_the_classification() -> None:
    schemas = create_app(Settings(env="test", secret_key=TEST_SECRET)).openapi()["components"]["schemas"]
    achievement = schemas["AchievementRead"]
    assert achievement["properties"]["inventors"]["x-visibility"] == "organization"
    assert achievement["properties"]["contact"]["x-visibility"] == "organization"
    assert achievement["properties"]["title"]["x-visibility"] == "public"
    assert "inventors" not in achievement["required"] and "title" in achievement["required"], (
        "only public fields are always present"
    )
    assert schemas["UserRead"]["properties"]["email"]["x-visibility"] == "organization"
    assert schemas["InventorRead"]["properties"]["name"]["x-visibility"] == "parties"
    for name, schema in schemas.items():
        for prop, body in schema.get("properties", {}).items():
            if name.endswith("Read") or name.endswith("Page"):
                assert "x-visibility" in body, f"{name}.{prop} undocumented"


def test_a_model_without_subject_shows_only_public_fields() -> None:
    """A response that forgets whom it concerns shows less, never more (platform admins excepted)."""
    user = UserRead(
        id=7,
        email="a@b.cn",
        full_name="甲",
        role="member",
        organization_id=3,
        region_scope=None,
        is_active=True,
        created_at="2026-01-01T00:00:00Z",
    )
    with rendering_for(Viewer(user_id=8, organization_id=4)):
        assert "email" not in user.model_dump(mode="json")
    with rendering_for(Viewer(user_id=9, organization_id=3)):
        assert user.model_dump(mode="json")["email"] == "a@b.cn"
    with rendering_for(Viewer(user_id=1, region_scope="150200")):
        assert "email" not in UserRead.model_validate(user).about(Subject(regions=("150600",))).model_dump(mode="json")
    assert user.model_dump()["email"] == "a@b.cn", "python-mode dumps outside a response are not filtered"


# --- 2. personal data absent for those not entitled ----------------------------------------------


@pytest.fixture(scope="module")
async def personal(world: World) -> AsyncIterator[dict[str, Any]]:
    """A published achievement and demand of the owner with inventors and a contact person, indexed."""
    achievement = await world.listing("achievements", "published", inventors=INVENTORS, contact=CONTACT)
    demand = await world.listing("demands", "published", contact=CONTACT)
    await run_once(world.database, world.app.state.search, world.app.state.http)
    yield {"achievement": achievement, "demand": demand}


def assert_rendered(role: str, listing: dict[str, Any], *, inventors: bool = True) -> None:
    if role in SEE_PERSONAL:
        assert listing["contact"] == CONTACT, f"{role} should see the contact of {listing['id']}"
        if inventors:
            assert listing["inventors"] == INVENTORS, f"{role} should see the inventors of {listing['id']}"
    else:
        leaked = [name for name in PERSONAL if name in listing]
        assert not leaked, f"{role} sees {leaked} of listing {listing['id']}: {[listing[n] for n in leaked]}"


def assert_no_personal(role: str, listing: dict[str, Any], world: World) -> None:
    """Any listing in a list: personal fields only for its owner's members and governing admins."""
    if listing["owner_id"] == world.org["owner"] and role in SEE_PERSONAL:
        return
    if world.role_org.get(role) == listing["owner_id"] or role == "platform_admin":
        return
    leaked = [name for name in ("inventors", "contact") if name in listing]
    assert not leaked, f"{role} sees {leaked} of listing {listing['id']} (owner {listing['owner_id']})"


@both_profiles
async def test_listing_detail_and_list(world: World, personal: dict[str, Any]) -> None:
    achievement, demand = personal["achievement"], personal["demand"]
    for role in ROLES:
        detail = (await world.call("GET", f"{API}/achievements/{achievement['id']}", role, expect=200)).json()
        assert_rendered(role, detail)
        assert detail["title"] == achievement["title"], "public fields stay"
        assert_rendered(
            role, (await world.call("GET", f"{API}/demands/{demand['id']}", role, expect=200)).json(), inventors=False
        )
        page = (
            await world.call(
                "GET", f"{API}/achievements", role, expect=200, params={"owner_id": world.org["owner"], "limit": 100}
            )
        ).json()
        ours = [item for item in page["items"] if item["id"] == achievement["id"]]
        assert ours, f"{role} lists the published achievement"
        assert_rendered(role, ours[0])
        for item in page["items"]:
            assert_no_personal(role, item, world)


@both_profiles
async def test_search_hits_embedded_engine(world: World, personal: dict[str, Any]) -> None:
    await _search_as_every_role(world, personal)


@both_profiles
async def test_search_hits_meilisearch(world: World, personal: dict[str, Any], meili_server: MeiliServer) -> None:
    embedded = world.app.state.search
    engine = MeilisearchEngine(
        meili_server.url, api_key=meili_server.master_key, index_prefix=f"t{uuid.uuid4().hex[:12]}", wait_for_tasks=True
    )
    await engine.ensure_ready()
    try:
        for kind in ("achievement", "demand"):
            await reindex(world.database, engine, kind)
        world.app.state.search = engine
        await _search_as_every_role(world, personal)
    finally:
        world.app.state.search = embedded
        await engine.aclose()


async def _search_as_every_role(world: World, personal: dict[str, Any]) -> None:
    achievement, demand = personal["achievement"], personal["demand"]
    for role in ROLES:
        for kind, listing in (("achievements", achievement), ("demands", demand)):
            found = (
                await world.call("GET", f"{API}/search/{kind}", role, expect=200, params={"q": "钕铁硼", "limit": 100})
            ).json()["items"]
            ours = [hit["listing"] for hit in found if hit["listing"]["id"] == listing["id"]]
            assert ours, f"{role} finds {kind} {listing['id']}"
            assert_rendered(role, ours[0], inventors=kind == "achievements")
            for hit in found:
                assert_no_personal(role, hit["listing"], world)


@both_profiles
async def test_matches(world: World, personal: dict[str, Any]) -> None:
    achievement = personal["achievement"]
    demand = world.ids["published"]["demands"]
    for role in ROLES:
        items = (
            await world.call("GET", f"{API}/demands/{demand['id']}/matches", role, expect=200, params={"limit": 50})
        ).json()["items"]
        ours = [item["listing"] for item in items if item["listing"]["id"] == achievement["id"]]
        assert ours, f"{role} is shown the matching achievement"
        assert_rendered(role, ours[0])
        for item in items:
            assert_no_personal(role, item["listing"], world)


@both_profiles
async def test_organization_and_user_reads(world: World) -> None:
    for role in ROLES:
        organization = (await world.call("GET", f"{API}/organizations/{world.org['owner']}", role, expect=200)).json()
        assert organization["name"] and organization["uscc"], "the public register data stays"
        assert ("external_id" in organization) == (role in SEE_PERSONAL), f"{role}: the organization's import key"
        directory = (await world.call("GET", f"{API}/organizations", role, expect=200, params={"limit": 100})).json()[
            "items"
        ]
        for entry in directory:
            entitled = world.role_org.get(role) == entry["id"] or world.governs(role, entry["region"])
            assert ("external_id" in entry) == entitled, f"{role}: import key of organization {entry['id']}"
    for role in ROLES:
        if role == "anonymous":
            continue
        me = (await world.call("GET", f"{API}/users/me", role, expect=200)).json()
        assert me["email"] and me["full_name"], f"{role} sees their own account"
    added = (
        await world.call(
            "POST",
            f"{API}/organizations/{world.org['owner']}/users",
            "owner_admin",
            expect=201,
            json={
                "email": f"colleague{uuid.uuid4().hex[:6]}@hardening.techmarket.cn",
                "full_name": "新同事",
                "password": "Colleague-2026-pass",
            },
        )
    ).json()
    assert added["email"].startswith("colleague"), "the organization's admin sees its new member"
    user = UserRead(**added)
    for role in ROLES:
        viewer = Viewer(
            user_id=world.user.get(role),
            organization_id=world.role_org.get(role),
            platform_admin=role == "platform_admin",
            region_scope={"region_admin": "150200", "other_region_admin": "150600"}.get(role),
        )
        with rendering_for(viewer):
            rendered = user.model_dump(mode="json")
        entitled = role in OWNER or role == "platform_admin"
        assert ("email" in rendered and "full_name" in rendered) == entitled, (
            f"{role} and a member's e-mail: {rendered}"
        )


@both_profiles
async def test_reward_ledger_names_stay_with_the_seller(world: World) -> None:
    """The demo contract: the buyer (a party) sees what was paid, not who of the seller got how much."""
    url = f"{API}/contracts/{world.ids['demo_contract']}/distributions"
    seller = (await world.call("GET", url, "owner_admin", expect=200)).json()
    assert seller["items"] and all(d["lines"] for d in seller["items"]) and "team" in seller["totals"]
    names = {line["name"] for d in seller["items"] for line in d["lines"]}
    assert "王教授" in names
    buyer = (await world.call("GET", url, "enterprise", expect=200)).json()
    assert buyer["items"] and all("lines" not in d and "team" not in d and "gross" in d for d in buyer["items"]), buyer
    assert "totals" not in buyer and "王教授" not in str(buyer)
    contract = (
        await world.call("GET", f"{API}/contracts/{world.ids['demo_contract']}", "enterprise", expect=200)
    ).json()
    assert [i["name"] for i in contract["inventors"]] == ["王教授", "李博士", "赵工"], (
        "the inventors are terms both parties sign"
    )
    assert "reward_rate" not in contract and all("user_id" not in i for i in contract["inventors"])
    for role in ("region_admin", "platform_admin"):
        admin = (await world.call("GET", url, role, expect=200)).json()
        assert {line["name"] for d in admin["items"] for line in d["lines"]} == names, role
