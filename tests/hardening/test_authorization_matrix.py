"""Authorization matrix: every route of the app × every role, who may read and who may write.

Routes are enumerated from ``app.routes``: a route with neither a matrix entry nor a place on the
explicit public allow-list fails ``test_every_route_has_a_matrix_entry``. Each entry names the roles
that may call it; every other role must be refused (401 anonymous, else 403 or a 404 that hides the
object), and a refused write must leave every row of every table, and the payment provider, exactly
as they were. Writes get a fresh target per role, so an allowed role must succeed (2xx) rather than
trip over a state another role left behind (payments go to the real provider stub over HTTP). Reads
that list things also check each returned item against the visibility rule of the caller (zero
leaks: listing drafts and pending revisions, contracts, deals, reward distributions, notifications,
API keys, statistics of other regions). The whole matrix runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update

from contracts.auction.closing import close_due
from contracts.auction.models import Auction, AuctionDeposit, DepositStatus
from contracts.contract.models import (
    Contract,
    ContractStatus,
    ContractSubtype,
    ContractType,
    Milestone,
    MilestoneStatus,
)
from contracts.pricing.models import PriceListing, TransactionCertificate
from contracts.reward.models import DistributionLine, InventorLink
from contracts.subsidy import budget
from contracts.subsidy.models import ClaimLine
from core.types import utcnow
from market.identity.models import ApiKey, Organization
from market.listings.models import Achievement, PricingMode
from market.notifications.models import UserNotification
from search.alerts.models import Notification, Subscription
from tests.hardening.attachment_cases import attachment_cases
from tests.hardening.world import (
    ADMINS,
    AUTHENTICATED,
    BODIES,
    EVERYONE,
    ORG_ROLES,
    OWNER,
    OWNER_ADMINS,
    ROLES,
    World,
    hardening_database,  # noqa: F401  (fixture)
    jsonl,
    unique_uscc,
    world,  # noqa: F401  (fixture)
)

# Every test here runs once per dialect, each on a world of its own (module scope: built once per dialect).
pytestmark = pytest.mark.parametrize("hardening_database", ["sqlite", "postgresql"], indirect=True, scope="module")

PLATFORM = frozenset({"platform_admin"})
REVIEWERS = frozenset({"region_admin", "platform_admin"})  # admins governing the owner's region 150200
CONTRACT_VIEWERS = OWNER | REVIEWERS
CORRECTION_ITEM = {"kind": "document", "item": "technical_annex", "reason": "缺少技术附件"}
API = "/api/v1"

# Routes with no authorization at all (documented as public). Everything else needs a matrix entry.
PUBLIC = {
    "POST /api/v1/auth/token": "login",
    "POST /api/v1/organizations/register": "self-registration (stays pending)",
    "GET /api/v1/statistics/published": "frozen published summaries",
    "GET /api/v1/statistics/published/{publication_id}": "frozen published summaries",
    "GET /api/v1/reference": "code lists with their Chinese labels",
    "GET /api/v1/registrations/verify/{number}": "checks a 登记证明 (particulars only with its code)",
    "GET /api/v1/reference/{name}": "code lists with their Chinese labels",
    "POST /api/v1/payments/webhook": "authenticated by the provider's HMAC signature, not by a user",
    "GET /api/v1/attachments/{attachment_id}/content": "its expiring HMAC link (tests/market/test_attachments.py)",
    "GET /healthz": "ops",
    "GET /readyz": "ops",
    "GET /metrics": "ops (Prometheus)",
    "GET /openapi.json": "docs",
    "GET /docs": "docs",
    "GET /docs/oauth2-redirect": "docs",
    "GET /redoc": "docs",
    "GET /docs/assets/{name}": "the docs pages' own scripts and styles",
    "GET /admin/login": "dashboard login form",
    "POST /admin/login": "dashboard login",
    "POST /admin/logout": "dashboard logout (clears the cookie)",
}

Request = dict[str, Any]
Check = Callable[[World, str, httpx.Response], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    route: str  # "METHOD /path/template", as in app.routes
    name: str
    allowed: frozenset[str]
    request: Callable[[World], Awaitable[Request]]
    fresh: bool = False  # build a new target for every role (writes)
    answer: tuple[int, str] | None = None  # what an allowed role gets when the rule's answer is not a 2xx
    check: Check | None = None
    cookie: bool = False  # the admin dashboard: the token travels as its cookie

    @property
    def id(self) -> str:
        return f"{self.route} [{self.name}]"


def static(url: str, **kwargs: Any) -> Callable[[World], Awaitable[Request]]:
    async def build(_: World) -> Request:
        return {"url": url, **kwargs}

    return build


# --- leak checks ---------------------------------------------------------------------------------


def owner_or_reviewer(world: World, role: str, owner_id: int, region: str | None) -> bool:
    return world.role_org.get(role) == owner_id or world.governs(role, region)


def listing_check(kind: str, *, expect_drafts: bool) -> Check:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        items = reply.json()["items"]
        for item in items:
            privileged = owner_or_reviewer(world, role, item["owner_id"], item.get("region"))
            assert item["status"] == "published" or privileged, f"{role} sees {kind} {item['id']} ({item['status']})"
            if not privileged:
                assert item.get("pending_revision") is None and item.get("review_reason") is None, (
                    f"{role} sees internals of {item['id']}"
                )
        if expect_drafts and role in OWNER | REVIEWERS:
            assert any(i["status"] == "draft" and i["owner_id"] == world.org["owner"] for i in items), (
                f"{role} misses the owner's drafts"
            )

    return check


def internals_hidden(kind: str) -> Check:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        body = reply.json()
        if role in OWNER | REVIEWERS:
            assert body.get("pending_revision") is not None, f"{role} should see the pending revision"
        else:
            assert body.get("pending_revision") is None and body.get("review_reason") is None, f"{role} sees internals"

    return check


def search_check(kind: str) -> Check:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        items = reply.json()["items"]
        assert items, "the index has the published listings"
        for item in items:
            listing = item["listing"]
            assert listing["status"] == "published", f"{role} finds unpublished {listing['id']}"
            assert listing.get("pending_revision") is None, f"{role} finds a pending revision in search"
            assert listing["id"] != world.ids["stale"][kind]["id"], f"{role} finds a listing withdrawn after indexing"

    return check


def matches_check(kind: str) -> Check:
    other = "demands" if kind == "achievements" else "achievements"

    async def check(world: World, role: str, reply: httpx.Response) -> None:
        for item in reply.json()["items"]:
            listing = item["listing"]
            assert listing["status"] == "published" and listing.get("pending_revision") is None, (
                f"{role} matched {listing['id']}"
            )
            assert listing["id"] != world.ids["stale"][other]["id"], (
                f"{role} matched a listing withdrawn after indexing"
            )

    return check


async def organizations_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    for item in items:
        assert item["status"] == "verified" or world.governs(role, item["region"]), (
            f"{role} sees {item['status']} org {item['id']}"
        )
    if role in REVIEWERS:
        assert world.org["pending_local"] in {i["id"] for i in items}


async def me_check(world: World, role: str, reply: httpx.Response) -> None:
    assert reply.json()["id"] == world.user[role]


async def api_keys_check(world: World, role: str, reply: httpx.Response) -> None:
    rows = await world.rows(ApiKey, [i["id"] for i in reply.json()["items"]])
    assert all(r.user_id == world.user[role] for r in rows), f"{role} lists another user's API keys"
    if role in OWNER_ADMINS:
        assert world.ids["api_key"] in {r.id for r in rows}


def organization_rows(model: Any) -> Check:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        rows = await world.rows(model, [i["id"] for i in reply.json()["items"]])
        assert all(r.organization_id == world.role_org[role] for r in rows), (
            f"{role} sees another organization's {model.__name__}"
        )
        if role in OWNER:
            assert rows, f"{role} should see the owner's {model.__name__}"

    return check


async def own_notifications_check(world: World, role: str, reply: httpx.Response) -> None:
    rows = await world.rows(UserNotification, [i["id"] for i in reply.json()["items"]])
    assert all(r.user_id == world.user.get(role) for r in rows), f"{role} sees another user's notifications"


async def _user_notification(world: World) -> int:
    """A notification of the owner organization's admin (the API key acts as that user)."""
    async with world.database.unit_of_work() as session:
        row = UserNotification(
            user_id=world.user["owner_admin"],
            organization_id=world.org["owner"],
            event_id=f"matrix_{secrets.token_hex(8)}",
            type="contract.registered",
            title="技术合同已登记: 授权矩阵",
            body="合同《授权矩阵》已完成认定登记。",
        )
        session.add(row)
        await session.flush()
        return row.id or 0


async def deals_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    mine = world.role_org.get(role)
    assert all(mine in (d["seller_org_id"], d["buyer_org_id"]) for d in items), f"{role} sees others' deals"
    if role in OWNER:
        assert world.ids["deal"]["id"] in {d["id"] for d in items}


async def contracts_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    mine = world.role_org.get(role)
    for c in items:
        assert (
            mine in (c["seller_org_id"], c["buyer_org_id"])
            or world.governs(role, c["seller_region"])
            or world.governs(role, c["buyer_region"])
        ), f"{role} sees contract {c['id']}"
    if role in CONTRACT_VIEWERS:
        assert world.ids["demo_contract"] in {c["id"] for c in items}


async def registrations_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    assert all(world.governs(role, i["seller_region"]) for i in items), f"{role} sees another region's requests"
    if role in REVIEWERS:
        assert world.ids["demo_contract"] in {i["contract_id"] for i in items}, f"{role} misses the demo's request"


async def ledger_check(world: World, role: str, reply: httpx.Response) -> None:
    assert reply.json()["items"], "the demo contract has distributions"


async def my_rewards_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    if items:
        async with world.database.unit_of_work() as session:
            # The entries linked to the role's user (by an accepted invitation), read apart from the endpoint.
            held = await session.execute(
                select(InventorLink.contract_id, InventorLink.position).where(InventorLink.user_id == world.user[role])
            )
            entries = set(held.tuples().all())
            lines = (await session.execute(select(DistributionLine))).scalars().all()
            owned = {line.distribution_id for line in lines if (line.contract_id, line.position) in entries}
        assert {i["distribution_id"] for i in items} <= owned, f"{role} sees other people's reward lines"


async def inventors_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    assert [i["name"] for i in items] == ["王教授", "李博士", "赵工"], items
    if role not in OWNER | ADMINS:
        assert all("invitation" not in i for i in items), f"{role} sees whom the seller invited"


async def export_check(world: World, role: str, reply: httpx.Response) -> None:
    text = reply.content.decode("utf-8-sig")
    if role in OWNER:
        assert "王教授" in text, "the owner's export has its inventors"
    else:
        assert "王教授" not in text, f"{role} exports another institution's reward lines"


def scope_check(field: str = "region") -> Check:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        region = reply.json()[field]
        if role != "platform_admin":
            assert world.governs(role, region), f"{role} got statistics of {region}"

    return check


async def targets_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    for t in items:
        assert world.governs(role, t["region"]), f"{role} sees the target of {t['region']}"
    if role == "region_admin":
        assert world.ids["target"] in {t["id"] for t in items}


async def import_check(world: World, role: str, reply: httpx.Response) -> None:
    report = reply.json()
    if role in ("other_region_admin", "other_org"):
        assert report["created"] == 0, f"{role} imported rows of an organization it may not act for"
        assert {e["code"] for e in report["errors"]} == {"outside_scope"}, report
    else:
        assert report["created"] == 1, report
    if role in OWNER_ADMINS:
        assert report["status"] == "draft", "an organization's own import skipped review"


async def pdf_check(world: World, role: str, reply: httpx.Response) -> None:
    assert reply.headers["content-type"] == "application/pdf" and reply.content.startswith(b"%PDF-"), role


async def objection_reasons_check(world: World, role: str, reply: httpx.Response) -> None:
    seeded = (await _pricing_world(world))["objection"]
    item = next(i for i in reply.json()["items"] if i["id"] == seeded)
    entitled = role in OWNER | REVIEWERS | {"other_org"}
    assert ("reasons" in item) == entitled, f"{role} and the reasons of an objection: {item}"


async def objection_queue_check(world: World, role: str, reply: httpx.Response) -> None:
    seeded = (await _pricing_world(world))["objection"]
    ids = {i["id"] for i in reply.json()["items"]}
    assert (seeded in ids) == world.governs(role, "150200"), f"{role} and the owner's objection queue"


async def certificate_check(world: World, role: str, reply: httpx.Response) -> None:
    body = reply.json()
    assert (body["genuine"], body["digest_matches"]) == (True, True), body
    assert set(body) == {"number", "genuine", "issued_on", "mode", "digest_matches"}, f"{role} learns more: {body}"


# --- request builders for fresh targets ------------------------------------------------------------


def listing_action(kind: str, status: str, action: str, **kwargs: Any) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        row = await world.listing(kind, status)
        suffix = f"/{action}" if action else ""
        return {"url": f"{API}/{kind}/{row['id']}{suffix}", **kwargs}

    return build


def contract_action(
    status: str, action: str, owner_side: str = "seller", milestone: bool = False, **kwargs: Any
) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        contract = await world.contract(status, owner_side=owner_side)
        path = f"{API}/contracts/{contract['id']}"
        if milestone:
            path += f"/milestones/{contract['milestones'][0]['id']}"
        return {"url": f"{path}/{action}", **kwargs}

    return build


def import_rows(kind: str) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        path = Path(__file__).parents[2] / "market" / "demo_data" / f"{kind}.jsonl"
        row = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        n = next(world.serial)
        row.update(
            external_id=f"HARDENING-{kind}-{n}",
            title=f"{row['title']} {n}",
            region="150200",
            owner="演示稀土研究院",
            owner_kind="institute",
        )
        return {
            "url": f"{API}/imports/{kind}",
            "files": {"file": (f"rows-{n}.jsonl", jsonl([row]), "application/json")},
        }

    return build


def fresh(
    make: Callable[[World], Awaitable[Any]], template: str, **kwargs: Any
) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": template.format(id=await make(world)), **kwargs}

    return build


def shared(template: str, key: Callable[[World], Any], **kwargs: Any) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": template.format(id=key(world)), **kwargs}

    return build


def unique_body(make: Callable[[int], dict[str, Any]], url: str) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": url, "json": make(next(world.serial))}

    return build


def member_body(n: int) -> dict[str, Any]:
    return {"email": f"m{n}@hardening.techmarket.cn", "full_name": "新成员", "password": "Hardening-2026-pass"}


def region_admin_body(n: int) -> dict[str, Any]:
    return {**member_body(n), "region_scope": "150300"}


def target_body(n: int) -> dict[str, Any]:
    return {"region": "150200", "metric": "contracts", "target_year": 2000 + n % 100, "target_value": "100"}


def contract_body_for_owner(world: World) -> dict[str, Any]:
    return {
        "seller_org_id": world.org["owner"],
        "buyer_org_id": world.org["enterprise"],
        "title": "稀土分离技术服务合同",
        "type": "service",
        "subtype": "technical_service",
        "field": "new_materials",
        "total": "50000.00",
        "technology_income": "50000.00",
        "milestones": [{"title": "全款", "amount": "50000.00"}],
    }


# --- the matrix ------------------------------------------------------------------------------------


def listing_cases(kind: str) -> list[Case]:
    base = f"{API}/{kind}"
    item = f"{base}/{{listing_id}}"
    draft = lambda w: w.ids["draft"][kind]["id"]  # noqa: E731
    published = lambda w: w.ids["published"][kind]["id"]  # noqa: E731
    revised = lambda w: w.ids["revised"][kind]["id"]  # noqa: E731
    return [
        Case(f"POST {base}", "create a draft", ORG_ROLES, unique_body(lambda n: BODY[kind](title=f"新{n}"), base)),
        Case(
            f"GET {base}",
            "drafts only to owner and reviewers",
            EVERYONE,
            static(base, params={"status": "draft", "limit": 100}),
            check=listing_check(kind, expect_drafts=True),
        ),
        Case(
            f"GET {base}",
            "no pending revision to the public",
            EVERYONE,
            static(base, params={"limit": 100}),
            check=listing_check(kind, expect_drafts=False),
        ),
        Case(f"GET {item}", "draft", OWNER | REVIEWERS, shared(f"{base}/{{id}}", draft)),
        Case(
            f"GET {item}",
            "published with a pending revision",
            EVERYONE,
            shared(f"{base}/{{id}}", revised),
            check=internals_hidden(kind),
        ),
        Case(
            f"PATCH {item}",
            "edit a draft",
            OWNER,
            listing_action(kind, "draft", "", json={"title": "改过的标题"}),
            fresh=True,
        ),
        Case(
            f"PATCH {item}",
            "revise a published listing",
            OWNER,
            listing_action(kind, "published", "", json={"title": "改过的标题"}),
            fresh=True,
        ),
        Case(f"POST {item}/submit", "submit a draft", OWNER, listing_action(kind, "draft", "submit"), fresh=True),
        Case(f"POST {item}/approve", "approve", REVIEWERS, listing_action(kind, "submitted", "approve"), fresh=True),
        Case(
            f"POST {item}/reject",
            "reject",
            REVIEWERS,
            listing_action(kind, "submitted", "reject", json={"reason": "材料不全"}),
            fresh=True,
        ),
        Case(f"POST {item}/withdraw", "withdraw", OWNER, listing_action(kind, "published", "withdraw"), fresh=True),
        Case(f"POST {item}/close", "close", OWNER | REVIEWERS, listing_action(kind, "published", "close"), fresh=True),
        Case(f"GET {item}/audit", "audit trail of a draft", REVIEWERS, shared(f"{base}/{{id}}/audit", draft)),
        Case(
            f"GET {item}/matches",
            "matches of a published listing",
            EVERYONE,
            shared(f"{base}/{{id}}/matches", published),
            check=matches_check(kind),
        ),
        Case(
            f"GET {item}/matches",
            "matches of a draft: unpublished to those who see it, not found to others",
            OWNER | REVIEWERS,
            shared(f"{base}/{{id}}/matches", draft),
            answer=(409, "listing_not_published"),
        ),
        Case(
            f"POST {API}/imports/{{kind}}",
            f"import {kind} (organization admins: their own rows, as drafts)",
            ADMINS | OWNER_ADMINS | {"other_org"},
            import_rows(kind),
            fresh=True,
            check=import_check,
        ),
        Case(
            f"GET {API}/imports/{{kind}}/template",
            f"import template of {kind} (reference data only)",
            AUTHENTICATED,
            static(f"{API}/imports/{kind}/template", params={"format": "xlsx"}),
        ),
        Case(
            f"GET {API}/search/{{kind}}",
            f"search {kind}",
            EVERYONE,
            static(f"{API}/search/{kind}", params={"q": "稀土"}),
            check=search_check(kind),
        ),
    ]


BODY = BODIES
ORG = f"{API}/organizations/{{organization_id}}"
CONTRACT = f"{API}/contracts/{{contract_id}}"
STAT = f"{API}/statistics"
Q150200 = {"region": "150200"}
DEMO = lambda w: w.ids["demo_contract"]  # noqa: E731


# --- 创新券 ------------------------------------------------------------------------------------------

VOUCHERS = f"{API}/vouchers"
REPORTS = f"{API}/policy-reports/support"
HOLDER = frozenset({"other_org"})  # 演示能源集团, 鄂尔多斯 150600
VOUCHER_ISSUERS = frozenset({"other_region_admin", "platform_admin"})  # governing 150600
VOUCHER_VIEWERS = HOLDER | VOUCHER_ISSUERS


async def _voucher_id(world: World) -> int:
    if "voucher" not in world.ids:
        world.ids["voucher"] = await world.voucher()
    return int(world.ids["voucher"])


def _voucher_url(suffix: str) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": f"{VOUCHERS}/{await _voucher_id(world)}{suffix}"}

    return build


async def _voucher_issue(world: World) -> Request:
    await _voucher_id(world)  # allocates the budgets too
    body = {
        "organization_id": world.org["other"],
        "face_value": "100.00",
        "categories": ["consulting"],
        "sme_number": "2026150600A0002",
    }
    return {"url": VOUCHERS, "json": body}


async def _provider_listing(world: World) -> Request:
    return {
        "url": f"{VOUCHERS}/providers",
        "json": {"organization_id": world.org["owner"], "categories": ["research_development"]},
    }


async def _voucher_list(world: World) -> Request:
    await _voucher_id(world)
    return {"url": VOUCHERS}


async def _voucher_spend(world: World) -> Request:
    return await world.voucher_spend()


async def _received(world: World) -> Request:
    if "voucher_received" not in world.ids:
        await world.redeemable_spend()
        world.ids["voucher_received"] = True
    return {"url": f"{VOUCHERS}/received"}


async def _redeemable(world: World) -> Request:
    await world.redeemable_spend()
    return {"url": f"{VOUCHERS}/redemptions"}


async def vouchers_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    for v in items:
        mine = world.role_org.get(role) == v.get("organization_id")
        assert mine or world.governs(role, v.get("region")), f"{role} sees voucher {v['id']}"
    if role in VOUCHER_VIEWERS:
        assert world.ids["voucher"] in {v["id"] for v in items}, f"{role} misses the voucher"


async def received_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    assert all(i["provider_org_id"] == world.role_org.get(role) for i in items), f"{role} sees others' spends"
    if role in OWNER:
        assert items, f"{role} misses the spends it received"


async def report_check(world: World, role: str, reply: httpx.Response) -> None:
    for row in reply.json()["rows"]:
        assert world.governs(role, row["region"]), f"{role} sees the budget of {row['region']}"


SUBSIDY_CLAIMS = f"{API}/subsidy-claims"
SUBSIDY_BUDGETS = f"{API}/subsidy-budgets"
CLAIM_VIEWERS = OWNER | REVIEWERS  # the applicant (the owner, 包头) and the admins governing 包头


async def _claim_in(world: World, status: str) -> int:
    """A 后补助 claim of the owner (seller) on a fresh registered, paid transfer, moved to ``status``.

    The contract is written to the database directly (registered 2026-06-01, its one milestone paid):
    the API path to such a contract is covered by tests/contracts/test_subsidy_claims.py.
    """
    n = next(world.serial)
    async with world.database.unit_of_work() as session:
        seller = await session.get(Organization, world.org["owner"])
        buyer = await session.get(Organization, world.org["enterprise"])
        assert seller is not None and buyer is not None
        contract = Contract(
            title=f"稀土永磁专利权转让合同 (后补助) {n}",
            type=ContractType.transfer,
            subtype=ContractSubtype.patent_right,
            seller_org_id=world.org["owner"],
            buyer_org_id=world.org["enterprise"],
            seller_region=seller.region,
            buyer_region=buyer.region,
            seller_kind=seller.kind,
            buyer_kind=buyer.kind,
            total_fen=1_000_000,
            technology_income_fen=1_000_000,
            status=ContractStatus.performing,
            registration_number=f"2026150288{n:06d}",
            registered_at=datetime(2026, 6, 1, 2, 0, tzinfo=UTC),
        )
        session.add(contract)
        await session.flush()
        paid = datetime(2026, 6, 2, tzinfo=UTC)
        session.add(
            Milestone(
                contract_id=contract.id or 0,
                seq=1,
                title="全款",
                amount_fen=1_000_000,
                status=MilestoneStatus.paid,
                paid_at=paid,
            )
        )
    body = {"contract_ids": [contract.id], "payee_name": "演示稀土研究院", "payee_account": "6222000011112222"}
    claim = (await world.call("POST", SUBSIDY_CLAIMS, "owner_admin", expect=201, json=body)).json()["id"]
    steps = [
        ("submitted", "submit", "owner_admin", None),
        ("region_approved", "region-review", "region_admin", {"decision": "approve"}),
        ("approved", "approve", "platform_admin", {}),
    ]
    for reached, action, role, payload in steps:
        if status == "draft":
            break
        await world.call("POST", f"{SUBSIDY_CLAIMS}/{claim}/{action}", role, expect=200, json=payload)
        if status == reached:
            break
    return int(claim)


def _claim_action(status: str, action: str, **kwargs: Any) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": f"{SUBSIDY_CLAIMS}/{await _claim_in(world, status)}/{action}", **kwargs}

    return build


async def _shared_claim(world: World) -> int:
    if "subsidy_claim" not in world.ids:
        world.ids["subsidy_claim"] = await _claim_in(world, "approved")
    return int(world.ids["subsidy_claim"])


def _claim_read(suffix: str) -> Callable[[World], Awaitable[Request]]:
    async def build(world: World) -> Request:
        return {"url": f"{SUBSIDY_CLAIMS}/{await _shared_claim(world)}{suffix}"}

    return build


async def _claims_list(world: World) -> Request:
    await _shared_claim(world)
    return {"url": SUBSIDY_CLAIMS}


async def _budget_entries(world: World) -> Request:
    await _shared_claim(world)  # its approval made the 包头 2026 budget and reserved from it
    async with world.database.unit_of_work() as session:
        row = await budget.get(session, "150200", 2026, "post_subsidy")
        assert row is not None
        world.ids["subsidy_budget"] = row.id
    return {"url": f"{SUBSIDY_BUDGETS}/{row.id}/entries"}


async def _budgets_list(world: World) -> Request:
    await _shared_claim(world)
    return {"url": SUBSIDY_BUDGETS}


def _allocation(n: int) -> dict[str, Any]:
    return {
        "region_code": "150200",
        "year": 2026,
        "instrument": "post_subsidy",
        "amount": "1.00",
        "reference": f"matrix-{n}",
    }


async def subsidy_claims_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    for claim in items:
        mine = world.role_org.get(role) == claim.get("applicant_org_id")
        assert mine or world.governs(role, claim.get("region_code")), f"{role} sees claim {claim.get('id')}"
    if role in CLAIM_VIEWERS:
        assert world.ids["subsidy_claim"] in {c["id"] for c in items}, f"{role} misses the owner's claim"


async def subsidy_budgets_check(world: World, role: str, reply: httpx.Response) -> None:
    items = reply.json()["items"]
    assert all(world.governs(role, b["region_code"]) for b in items), f"{role} sees another region's budget"
    if role in REVIEWERS:
        assert any(b["region_code"] == "150200" for b in items), f"{role} misses 包头's budget"


async def _fresh_claim_body(world: World) -> Request:
    """A draft claim's contract, freed again by withdrawing it, so each role claims a contract of its own."""
    claim = await _claim_in(world, "draft")
    await world.call("POST", f"{SUBSIDY_CLAIMS}/{claim}/withdraw", "owner_admin", expect=200, json={})
    async with world.database.unit_of_work() as session:
        line = (await session.execute(select(ClaimLine).where(ClaimLine.claim_id == claim))).scalar_one()
    body = {"contract_ids": [line.contract_id], "payee_name": "演示稀土研究院", "payee_account": "6222000011112222"}
    return {"url": SUBSIDY_CLAIMS, "json": body}


CASES: list[Case] = [
    *listing_cases("achievements"),
    *listing_cases("demands"),
    # identity
    Case("GET /api/v1/users/me", "who am I", AUTHENTICATED, static(f"{API}/users/me"), check=me_check),
    Case(
        "POST /api/v1/organizations",
        "create a verified organization",
        PLATFORM,
        unique_body(
            lambda n: {
                "kind": "agency",
                "name": f"硬化测试中心{n}",
                "uscc": unique_uscc(10_000 + n),
                "region": "150200",
            },
            f"{API}/organizations",
        ),
    ),
    Case(
        "GET /api/v1/organizations",
        "pending organizations only to their admins",
        EVERYONE,
        static(f"{API}/organizations", params={"status": "pending", "limit": 100}),
        check=organizations_check,
    ),
    Case(
        f"GET {ORG}",
        "pending organization in 包头",
        REVIEWERS,
        shared(f"{API}/organizations/{{id}}", lambda w: w.org["pending_local"]),
    ),
    Case(
        f"GET {ORG}",
        "pending organization's own member",
        frozenset({"pending", "platform_admin"}),
        shared(f"{API}/organizations/{{id}}", lambda w: w.org["pending"]),
    ),
    Case(
        f"GET {ORG}", "verified organization", EVERYONE, shared(f"{API}/organizations/{{id}}", lambda w: w.org["owner"])
    ),
    Case(
        f"POST {ORG}/verify",
        "verify",
        PLATFORM,
        fresh(lambda w: w.organization("pending"), f"{API}/organizations/{{id}}/verify"),
        fresh=True,
    ),
    Case(
        f"POST {ORG}/suspend",
        "suspend",
        PLATFORM,
        fresh(lambda w: w.organization("verified"), f"{API}/organizations/{{id}}/suspend"),
        fresh=True,
    ),
    Case(
        f"POST {ORG}/users",
        "add a member",
        OWNER_ADMINS | PLATFORM,
        lambda w: unique_body(member_body, f"{API}/organizations/{w.org['owner']}/users")(w),
        fresh=True,
    ),
    Case(
        f"PUT {ORG}/webhook",
        "set the webhook",
        OWNER_ADMINS,
        shared(
            f"{API}/organizations/{{id}}/webhook",
            lambda w: w.org["owner"],
            json={"url": "https://hooks.example.cn/techmarket"},
        ),
    ),
    Case(
        "POST /api/v1/admin/region-admins",
        "create a region admin",
        PLATFORM,
        unique_body(region_admin_body, f"{API}/admin/region-admins"),
        fresh=True,
    ),
    Case(
        "POST /api/v1/api-keys",
        "create own key (not a pending organization's)",
        AUTHENTICATED - {"pending"},
        static(f"{API}/api-keys", json={"name": "脚本"}),
    ),
    Case("GET /api/v1/api-keys", "own keys only", AUTHENTICATED, static(f"{API}/api-keys"), check=api_keys_check),
    Case(
        "DELETE /api/v1/api-keys/{key_id}",
        "revoke the owner admin's key",
        OWNER_ADMINS,
        fresh(lambda w: w.api_key(), f"{API}/api-keys/{{id}}"),
        fresh=True,
    ),
    # alerts
    Case(
        "POST /api/v1/subscriptions",
        "subscribe (verified organizations)",
        ORG_ROLES - {"pending"},
        static(f"{API}/subscriptions", json={"query": "稀土", "target_kind": "demand"}),
    ),
    Case(
        "GET /api/v1/subscriptions",
        "own organization's",
        ORG_ROLES,
        static(f"{API}/subscriptions"),
        check=organization_rows(Subscription),
    ),
    Case(
        "DELETE /api/v1/subscriptions/{subscription_id}",
        "unsubscribe",
        OWNER,
        fresh(lambda w: w.subscription(), f"{API}/subscriptions/{{id}}"),
        fresh=True,
    ),
    Case(
        "GET /api/v1/notifications",
        "own organization's",
        ORG_ROLES,
        static(f"{API}/notifications", params={"limit": 100}),
        check=organization_rows(Notification),
    ),
    Case(
        "POST /api/v1/notifications/{notification_id}/read",
        "mark read",
        OWNER,
        fresh(lambda w: w.notification(), f"{API}/notifications/{{id}}/read"),
        fresh=True,
    ),
    # notifications of contracts and deals (per user)
    Case(
        "GET /api/v1/notifications/mine",
        "the caller's own",
        AUTHENTICATED,
        static(f"{API}/notifications/mine", params={"limit": 100}),
        check=own_notifications_check,
    ),
    Case(
        "POST /api/v1/notifications/mine/{notification_id}/read",
        "mark one's own read (others': 404)",
        OWNER_ADMINS,
        fresh(_user_notification, f"{API}/notifications/mine/{{id}}/read"),
        fresh=True,
    ),
    # deals
    Case(
        "POST /api/v1/deals",
        "interest in another organization's achievement",
        (OWNER | {"other_org"}),
        lambda w: _university_achievement_deal(w),
    ),
    Case("GET /api/v1/deals", "own organization's", AUTHENTICATED, static(f"{API}/deals"), check=deals_check),
    Case(
        "GET /api/v1/deals/{deal_id}",
        "a party's deal",
        OWNER,
        shared(f"{API}/deals/{{id}}", lambda w: w.ids["deal"]["id"]),
    ),
    Case(
        "GET /api/v1/deals/{deal_id}/messages",
        "a party's messages",
        OWNER,
        shared(f"{API}/deals/{{id}}/messages", lambda w: w.ids["deal"]["id"]),
    ),
    Case(
        "POST /api/v1/deals/{deal_id}/messages",
        "post a message",
        OWNER,
        shared(f"{API}/deals/{{id}}/messages", lambda w: w.ids["deal"]["id"], json={"body": "请提供检测报告。"}),
    ),
    Case(
        "POST /api/v1/deals/{deal_id}/drop",
        "drop",
        OWNER,
        fresh(lambda w: _deal_id(w), f"{API}/deals/{{id}}/drop", json={"reason": "价格不合适"}),
        fresh=True,
    ),
    # contracts
    Case(
        "POST /api/v1/contracts",
        "draft for the owner as seller",
        OWNER,
        lambda w: _async({"url": f"{API}/contracts", "json": contract_body_for_owner(w)}),
    ),
    Case(
        "GET /api/v1/contracts",
        "parties and admins of their regions",
        AUTHENTICATED,
        static(f"{API}/contracts", params={"limit": 100}),
        check=contracts_check,
    ),
    Case(f"GET {CONTRACT}", "demo contract", CONTRACT_VIEWERS, shared(f"{API}/contracts/{{id}}", DEMO)),
    Case(f"GET {CONTRACT}/audit", "demo contract", CONTRACT_VIEWERS, shared(f"{API}/contracts/{{id}}/audit", DEMO)),
    Case(
        f"GET {CONTRACT}/payments", "demo contract", CONTRACT_VIEWERS, shared(f"{API}/contracts/{{id}}/payments", DEMO)
    ),
    Case(
        f"GET {CONTRACT}/distributions",
        "reward distributions of the demo contract",
        CONTRACT_VIEWERS,
        shared(f"{API}/contracts/{{id}}/distributions", DEMO),
        check=ledger_check,
    ),
    Case(f"POST {CONTRACT}/sign", "sign a draft", OWNER, contract_action("draft", "sign"), fresh=True),
    Case(
        f"PATCH {CONTRACT}/amounts",
        "correct amounts",
        OWNER | REVIEWERS,
        contract_action(
            "draft", "amounts", json={"total": "100000.00", "technology_income": "70000.00", "reason": "更正技术交易额"}
        ),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/registration-request",
        "seller asks for registration",
        OWNER,
        lambda w: _signed_with_text(w),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/register",
        "registrar of the seller's region",
        REVIEWERS,
        contract_action("requested", "register", json={}),
        fresh=True,
    ),
    Case(
        f"GET {CONTRACT}/registration/certificate.pdf",
        "the 登记证明 for the parties and the seller's registrars",
        CONTRACT_VIEWERS,
        contract_action("registered", "registration/certificate.pdf"),
        check=pdf_check,
    ),
    Case(
        f"POST {CONTRACT}/registration/return",
        "registrar returns for correction",
        REVIEWERS,
        contract_action("requested", "registration/return", json={"items": [CORRECTION_ITEM]}),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/registration/resubmit",
        "seller resubmits a returned request",
        OWNER,
        lambda w: _returned_registration(w),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/registration/refuse",
        "registrar refuses (不予登记)",
        REVIEWERS,
        contract_action("requested", "registration/refuse", json={"reason": "合同标的不属于技术合同"}),
        fresh=True,
    ),
    Case(
        f"PUT {CONTRACT}/registration/classification",
        "registrar determines the type",
        REVIEWERS,
        contract_action(
            "requested",
            "registration/classification",
            json={"type": "development", "subtype": "cooperative_development", "reason": "双方共同投资研究开发"},
        ),
        fresh=True,
    ),
    Case(
        f"PUT {CONTRACT}/registration/income",
        "registrar approves the 技术交易额",
        REVIEWERS,
        contract_action(
            "requested", "registration/income", json={"technology_income": "70000.00", "reason": "核减材料费"}
        ),
        fresh=True,
    ),
    Case(
        "GET /api/v1/registrations",
        "registrars see the requests of their region",
        ADMINS,
        static(f"{API}/registrations", params={"limit": 100}),
        check=registrations_check,
    ),
    Case(
        f"POST {CONTRACT}/transitions",
        "registered → performing",
        OWNER | REVIEWERS,
        contract_action("registered", "transitions", json={"to": "performing"}),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/completion/claim",
        "the seller claims (a milestone is unpaid)",
        OWNER,
        contract_action("performing", "completion/claim"),
        fresh=True,
        answer=(409, "milestones_unpaid"),
    ),
    Case(
        f"POST {CONTRACT}/completion/confirm",
        "a party confirms (nothing claimed yet)",
        OWNER,
        contract_action("performing", "completion/confirm", owner_side="buyer"),
        fresh=True,
        answer=(409, "completion_not_claimed"),
    ),
    Case(
        f"POST {CONTRACT}/completion/objection",
        "the buyer objects (nothing claimed yet)",
        OWNER,
        contract_action("performing", "completion/objection", owner_side="buyer", json={"reason": "尚未验收"}),
        fresh=True,
        answer=(409, "completion_not_claimed"),
    ),
    Case(
        f"POST {CONTRACT}/milestones/{{milestone_id}}/pay",
        "buyer pays",
        OWNER,
        contract_action("performing", "pay", owner_side="buyer", milestone=True),
        fresh=True,
    ),
    Case(
        f"POST {CONTRACT}/milestones/{{milestone_id}}/refund",
        "seller or platform refunds a paid milestone",
        OWNER | PLATFORM,
        lambda w: _paid_refund(w),
        fresh=True,
    ),
    Case(
        "GET /api/v1/rewards/mine",
        "own lines only",
        AUTHENTICATED,
        static(f"{API}/rewards/mine"),
        check=my_rewards_check,
    ),
    Case(
        f"GET {CONTRACT}/inventors",
        "inventors of the demo contract",
        CONTRACT_VIEWERS,
        shared(f"{API}/contracts/{{id}}/inventors", DEMO),
        check=inventors_check,
    ),
    Case(
        f"POST {CONTRACT}/inventors/{{position}}/invitation",
        "the seller invites an inventor (a new invitation replaces the last)",
        OWNER,
        shared(f"{API}/contracts/{{id}}/inventors/1/invitation", DEMO, json={"email": "wang@inventors.example.cn"}),
    ),
    Case(
        "POST /api/v1/rewards/invitations/accept",
        "a signed-in person accepts a fresh code (API keys may not)",
        AUTHENTICATED - {"api_key", "pending"},
        lambda w: _invitation(w),
        fresh=True,
    ),
    Case(
        "GET /api/v1/rewards/export",
        "own institution's lines",
        ORG_ROLES,
        static(f"{API}/rewards/export"),
        check=export_check,
    ),
    # statistics
    Case(
        f"GET {STAT}/aggregates",
        "包头",
        REVIEWERS,
        static(f"{STAT}/aggregates", params={"by": "region", **Q150200}),
        check=scope_check(),
    ),
    Case(
        f"GET {STAT}/aggregates",
        "own scope by default",
        ADMINS,
        static(f"{STAT}/aggregates", params={"by": "field"}),
        check=scope_check(),
    ),
    Case(
        f"GET {STAT}/aggregates",
        "all regions",
        PLATFORM,
        static(f"{STAT}/aggregates", params={"by": "region", "region": "all"}),
    ),
    Case(f"GET {STAT}/series", "包头", REVIEWERS, static(f"{STAT}/series", params=Q150200)),
    Case(
        f"GET {STAT}/crosstab",
        "包头",
        REVIEWERS,
        static(f"{STAT}/crosstab", params={"rows": "type", "columns": "field", **Q150200}),
        check=scope_check(),
    ),
    Case(
        f"GET {STAT}/exports/crosstab",
        "包头",
        REVIEWERS,
        static(f"{STAT}/exports/crosstab", params={"rows": "region", "columns": "type", **Q150200}),
    ),
    Case(f"GET {STAT}/targets", "包头", REVIEWERS, static(f"{STAT}/targets", params=Q150200), check=targets_check),
    Case(f"GET {STAT}/targets", "own scope by default", ADMINS, static(f"{STAT}/targets"), check=targets_check),
    Case(f"POST {STAT}/targets", "create", PLATFORM, unique_body(target_body, f"{STAT}/targets"), fresh=True),
    Case(
        f"GET {STAT}/targets/{{target_id}}",
        "包头's target",
        REVIEWERS,
        shared(f"{STAT}/targets/{{id}}", lambda w: w.ids["target"]),
    ),
    Case(
        f"PATCH {STAT}/targets/{{target_id}}",
        "edit",
        PLATFORM,
        shared(f"{STAT}/targets/{{id}}", lambda w: w.ids["target"], json={"source_note": "更新"}),
    ),
    Case(
        f"DELETE {STAT}/targets/{{target_id}}",
        "delete",
        PLATFORM,
        fresh(lambda w: w.target("150200"), f"{STAT}/targets/{{id}}"),
        fresh=True,
    ),
    Case(
        f"POST {STAT}/publications",
        "publish a summary",
        PLATFORM,
        static(f"{STAT}/publications", json={"title": "2024 年统计", "year": 2024}),
    ),
    Case(
        f"GET {STAT}/exports/aggregates",
        "包头",
        REVIEWERS,
        static(f"{STAT}/exports/aggregates", params={"by": "region", **Q150200}),
    ),
    Case(
        f"GET {STAT}/exports/registrations", "包头", REVIEWERS, static(f"{STAT}/exports/registrations", params=Q150200)
    ),
    Case(
        f"GET {STAT}/charts/turnover.{{fmt}}", "包头", REVIEWERS, static(f"{STAT}/charts/turnover.svg", params=Q150200)
    ),
    Case(
        f"GET {STAT}/charts/breakdown.{{fmt}}",
        "包头",
        REVIEWERS,
        static(f"{STAT}/charts/breakdown.svg", params=Q150200),
    ),
    Case(f"GET {STAT}/rollups/verify", "verify", PLATFORM, static(f"{STAT}/rollups/verify")),
    Case(f"POST {STAT}/rollups/rebuild", "rebuild", PLATFORM, static(f"{STAT}/rollups/rebuild")),
    # 创新券: the platform admin and the holder's 盟市 admin issue; 演示能源集团 (other_org) holds and spends;
    # the owner, a listed provider, redeems; reports for admins, a region admin's for its 盟市 only
    Case(f"GET {VOUCHERS}/rules", "rules and sources", AUTHENTICATED, static(f"{VOUCHERS}/rules")),
    Case(f"GET {VOUCHERS}/providers", "directory", AUTHENTICATED, static(f"{VOUCHERS}/providers")),
    Case(
        f"POST {VOUCHERS}/providers",
        "list the owner",
        REVIEWERS,
        _provider_listing,
    ),
    Case(f"POST {VOUCHERS}", "issue to 演示能源集团", VOUCHER_ISSUERS, _voucher_issue),
    Case(f"GET {VOUCHERS}", "own or governed vouchers", AUTHENTICATED, _voucher_list, check=vouchers_check),
    Case(
        f"GET {VOUCHERS}/{{voucher_id}}",
        "the holder's voucher",
        VOUCHER_VIEWERS,
        _voucher_url(""),
    ),
    Case(f"POST {VOUCHERS}/{{voucher_id}}/accept", "holder accepts", HOLDER, _voucher_url("/accept")),
    Case(f"POST {VOUCHERS}/{{voucher_id}}/spend", "pay part of a milestone", HOLDER, _voucher_spend, fresh=True),
    Case(f"GET {VOUCHERS}/received", "own received spends", ORG_ROLES, _received, check=received_check),
    Case(f"POST {VOUCHERS}/redemptions", "provider redeems", OWNER_ADMINS, _redeemable, fresh=True),
    Case(f"GET {REPORTS}", "own scope by default", ADMINS, static(REPORTS), check=report_check),
    Case(f"GET {REPORTS}", "包头", REVIEWERS, static(REPORTS, params={"region": "150200"}), check=report_check),
    Case(f"GET {REPORTS}/export", "包头", REVIEWERS, static(f"{REPORTS}/export", params={"region": "150200"})),
    # 技术交易后补助: the owner (包头 institute, seller) claims; 包头's admin reviews; the platform admin
    # (科技厅) approves, refuses and disburses; budgets for admins, a region admin's for its 盟市 only
    Case(f"GET {API}/subsidy-rules", "rules and sources", AUTHENTICATED, static(f"{API}/subsidy-rules")),
    Case(f"GET {SUBSIDY_BUDGETS}", "own scope", ADMINS, _budgets_list, check=subsidy_budgets_check),
    Case(f"GET {SUBSIDY_BUDGETS}/{{budget_id}}/entries", "包头's ledger", REVIEWERS, _budget_entries),
    Case(
        f"POST {SUBSIDY_BUDGETS}/allocations",
        "科技厅 allocates",
        PLATFORM,
        unique_body(_allocation, f"{SUBSIDY_BUDGETS}/allocations"),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}",
        "the owner's admin claims on its paid contract",
        OWNER_ADMINS,
        lambda w: _fresh_claim_body(w),
        fresh=True,
    ),
    Case(f"GET {SUBSIDY_CLAIMS}", "own or governed claims", AUTHENTICATED, _claims_list, check=subsidy_claims_check),
    Case(f"GET {SUBSIDY_CLAIMS}/{{claim_id}}", "the owner's claim", CLAIM_VIEWERS, _claim_read("")),
    Case(f"GET {SUBSIDY_CLAIMS}/{{claim_id}}/history", "its history", CLAIM_VIEWERS, _claim_read("/history")),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/submit",
        "applicant",
        OWNER_ADMINS,
        _claim_action("draft", "submit"),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/withdraw",
        "applicant",
        OWNER_ADMINS,
        _claim_action("submitted", "withdraw", json={}),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/region-review",
        "包头 recommends",
        REVIEWERS,
        _claim_action("submitted", "region-review", json={"decision": "approve"}),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/approve",
        "科技厅 approves",
        PLATFORM,
        _claim_action("region_approved", "approve", json={}),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/refuse",
        "科技厅 refuses",
        PLATFORM,
        _claim_action("submitted", "refuse", json={"reason": "材料不全"}),
        fresh=True,
    ),
    Case(
        f"POST {SUBSIDY_CLAIMS}/{{claim_id}}/disburse",
        "科技厅 pays out",
        PLATFORM,
        _claim_action("approved", "disburse"),
        fresh=True,
    ),
    # the server-rendered dashboard (cookie)
    Case("GET /admin/dashboard", "包头", REVIEWERS, static("/admin/dashboard", params=Q150200), cookie=True),
    Case(
        "GET /admin/dashboard/charts/{name}.{fmt}",
        "包头",
        REVIEWERS,
        static("/admin/dashboard/charts/region.svg", params=Q150200),
        cookie=True,
    ),
    Case(
        "GET /admin/dashboard/exports/{kind}.{fmt}",
        "包头",
        REVIEWERS,
        static("/admin/dashboard/exports/crosstab.csv", params=Q150200),
        cookie=True,
    ),
    # price discovery (contracts.pricing): notices, objections, listings, deal notices, certificates
    Case("GET /api/v1/pricing/rules", "public", EVERYONE, static(f"{API}/pricing/rules")),
    Case(
        "PUT /api/v1/achievements/{achievement_id}/pricing-mode",
        "the owner declares its mode",
        OWNER,
        listing_action("achievements", "published", "pricing-mode", json={"mode": "listed"}),
        fresh=True,
    ),
    Case("POST /api/v1/price-notices", "the owner notices a price", OWNER, lambda w: _notice_request(w), fresh=True),
    Case("GET /api/v1/price-notices", "public", EVERYONE, static(f"{API}/price-notices")),
    Case(
        "GET /api/v1/price-notices/{notice_id}",
        "public",
        EVERYONE,
        lambda w: _pricing_url(w, "/price-notices/{notice}"),
    ),
    Case(
        "POST /api/v1/price-notices/{notice_id}/withdraw",
        "the institute withdraws its notice",
        OWNER,
        lambda w: _withdraw_request(w),
        fresh=True,
    ),
    Case(
        "POST /api/v1/price-notices/{notice_id}/objections",
        "anyone signed in whose organization may write",
        AUTHENTICATED - {"pending"},
        lambda w: _pricing_url(w, "/price-notices/{notice}/objections", json={"reasons": "拟交易价格偏低"}),
    ),
    Case(
        "GET /api/v1/price-notices/{notice_id}/objections",
        "signed in; reasons for the objector, the institute and its admins",
        AUTHENTICATED,
        lambda w: _pricing_url(w, "/price-notices/{notice}/objections", params={"limit": 100}),
        check=objection_reasons_check,
    ),
    Case(
        "POST /api/v1/price-notices/{notice_id}/objections/{objection_id}/answer",
        "the institute answers",
        OWNER,
        lambda w: _answer_request(w),
        fresh=True,
    ),
    Case(
        "GET /api/v1/admin/price-objections",
        "admins, each of its region",
        ADMINS,
        static(f"{API}/admin/price-objections", params={"limit": 100}),
        check=objection_queue_check,
    ),
    Case("POST /api/v1/price-listings", "the owner lists", OWNER, lambda w: _price_listing_request(w), fresh=True),
    Case(
        "GET /api/v1/price-listings/{listing_id}",
        "public",
        EVERYONE,
        lambda w: _pricing_url(w, "/price-listings/{listing}"),
    ),
    Case(
        "POST /api/v1/price-listings/{listing_id}/accept",
        "a verified organization other than the seller",
        frozenset({"other_org"}),
        lambda w: _accept_request(w),
        fresh=True,
    ),
    Case(
        "POST /api/v1/price-listings/{listing_id}/award",
        "the seller, once a bidding window closed",
        OWNER,
        lambda w: _award_request(w),
        fresh=True,
    ),
    Case("GET /api/v1/deal-notices", "public", EVERYONE, static(f"{API}/deal-notices")),
    Case(
        f"GET {CONTRACT}/certificate",
        "the demo contract's",
        CONTRACT_VIEWERS,
        lambda w: _certificate_request(w, "contract"),
    ),
    Case(
        f"GET {CONTRACT}/certificate.pdf",
        "the demo contract's 交易鉴证 for the parties and the seller's admins",
        CONTRACT_VIEWERS,
        lambda w: _certificate_request(w, "pdf"),
        check=pdf_check,
    ),
    Case(
        "GET /api/v1/certificates/{number}",
        "public check",
        EVERYONE,
        lambda w: _certificate_request(w, "number"),
        check=certificate_check,
    ),
    # auctions (contracts.auction): the owner sells, another verified organization bids
    Case(
        "POST /api/v1/auctions",
        "the owner auctions its achievement",
        OWNER,
        lambda w: _auction_request(w),
        fresh=True,
    ),
    Case("GET /api/v1/auctions", "any signed-in caller", AUTHENTICATED, static(f"{API}/auctions")),
    Case(
        "GET /api/v1/auctions/{auction_id}",
        "any signed-in caller",
        AUTHENTICATED,
        lambda w: _closed_auction(w, ""),
    ),
    Case(
        "GET /api/v1/auctions/{auction_id}/bids",
        "any signed-in caller",
        AUTHENTICATED,
        lambda w: _closed_auction(w, "/bids"),
    ),
    Case(
        "GET /api/v1/auctions/{auction_id}/events",
        "the live stream (of a closed lot: it ends)",
        AUTHENTICATED,
        lambda w: _closed_auction(w, "/events"),
    ),
    Case(
        "POST /api/v1/auctions/{auction_id}/deposit",
        "a verified organization other than the seller",
        frozenset({"other_org"}),
        fresh(lambda w: _auction_id(w), f"{API}/auctions/{{id}}/deposit"),
        fresh=True,
    ),
    Case(
        "POST /api/v1/auctions/{auction_id}/bids",
        "a bidder whose deposit is held",
        frozenset({"other_org"}),
        lambda w: _bid_request(w),
        fresh=True,
    ),
    Case("GET /api/v1/auction-deposits", "the deposit ledger", PLATFORM, static(f"{API}/auction-deposits")),
]
CASES += attachment_cases(Case)


async def _async(value: Request) -> Request:
    return value


async def _university_achievement_deal(world: World) -> Request:
    if "university_achievement" not in world.ids:
        row = (
            await world.call(
                "POST", f"{API}/achievements", "university", expect=201, json=BODY["achievements"](title="高校成果")
            )
        ).json()
        await world.call("POST", f"{API}/achievements/{row['id']}/submit", "university", expect=200)
        await world.call("POST", f"{API}/achievements/{row['id']}/approve", "platform_admin", expect=200)
        world.ids["university_achievement"] = row["id"]
    return {
        "url": f"{API}/deals",
        "json": {"achievement_id": world.ids["university_achievement"], "message": "希望了解许可条件"},
    }


async def _deal_id(world: World) -> int:
    return int((await world.deal())["id"])


async def _signed_with_text(world: World) -> Request:
    contract = await world.contract("signed")
    await world.contract_text(contract["id"], "owner_admin")
    return {"url": f"{API}/contracts/{contract['id']}/registration-request"}


async def _returned_registration(world: World) -> Request:
    contract = await world.contract("requested")
    url = f"{API}/contracts/{contract['id']}/registration"
    await world.call("POST", f"{url}/return", "region_admin", expect=200, json={"items": [CORRECTION_ITEM]})
    return {"url": f"{url}/resubmit", "json": {"note": "已补充技术附件"}}


async def _paid_refund(world: World) -> Request:
    contract_id, milestone_id = await world.paid_milestone()
    return {"url": f"{API}/contracts/{contract_id}/milestones/{milestone_id}/refund", "json": {"amount": "1000.00"}}


async def _invitation(world: World) -> Request:
    """A fresh code for the one inventor of a new service-invention draft the owner sells."""
    body = contract_body_for_owner(world) | {
        "title": f"稀土永磁专利权转让合同 {next(world.serial)}",
        "type": "transfer",
        "subtype": "patent_right",
        "service_invention": True,
        "inventors": [{"name": "王磊", "weight": 1}],
    }
    contract = (await world.call("POST", f"{API}/contracts", "owner_admin", expect=201, json=body)).json()
    invited = await world.call(
        "POST",
        f"{API}/contracts/{contract['id']}/inventors/1/invitation",
        "owner_admin",
        expect=201,
        json={"phone": "13800471234"},
    )
    return {"url": f"{API}/rewards/invitations/accept", "json": {"code": invited.json()["code"]}}


def route_keys(app: Any) -> set[str]:
    """Every (method, path) the app serves, included routers flattened (FastAPI's own walk)."""
    keys = set()
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                keys.add(f"{method} {route.path}")
    return keys


async def test_every_route_has_a_matrix_entry(world: World) -> None:
    routes = route_keys(world.app)
    covered = {case.route for case in CASES}
    assert not (covered & set(PUBLIC)), "a public route has matrix entries"
    missing = routes - covered - set(PUBLIC)
    assert not missing, (
        f"routes without an authorization matrix entry (add one, or to PUBLIC if really public): {sorted(missing)}"
    )
    stale = (covered | set(PUBLIC)) - routes
    assert not stale, f"matrix entries for routes that do not exist: {sorted(stale)}"


async def test_public_routes_answer_anonymously(world: World) -> None:
    for route in (
        "/healthz",
        "/readyz",
        "/openapi.json",
        f"{STAT}/published",
        f"{STAT}/published/{world.ids['publication']}",
        f"{API}/reference/regions",
        "/admin/login",
    ):
        reply = await world.call("GET", route, "anonymous")
        assert reply.status_code == 200, (route, reply.status_code, reply.text[:200])


def _send_kwargs(world: World, case: Case, role: str, request: Request) -> dict[str, Any]:
    kwargs = {k: v for k, v in request.items() if k != "url"}
    if case.cookie:
        token = world.tokens.get(role)
        kwargs["headers"] = {"Cookie": f"techmarket_admin={token}"} if token else {}
        if role == "api_key":
            kwargs["headers"] = dict(world.headers["api_key"])
    return kwargs


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """What differs between two ``World.state`` snapshots, table by table (a few rows each)."""
    found = []
    for table in sorted(before.keys() | after.keys()):
        old, new = before.get(table, []), after.get(table, [])
        if old != new:
            gone, added = sorted(set(old) - set(new))[:2], sorted(set(new) - set(old))[:2]
            found.append(f"{table}: {len(old)} -> {len(new)} rows; was {gone}, now {added}")
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_authorization_matrix(world: World, case: Case) -> None:
    method = case.route.split(" ", 1)[0]
    shared_request = None if case.fresh else await case.request(world)
    failures = []
    for role in ROLES:
        request = await case.request(world) if case.fresh else shared_request
        assert request is not None
        kwargs = _send_kwargs(world, case, role, request)
        guarded = method != "GET" and role not in case.allowed
        before = await world.state() if guarded else None
        if case.cookie:
            reply = await world.client.request(method, request["url"], follow_redirects=False, **kwargs)
        else:
            reply = await world.call(method, request["url"], role, **kwargs)
        status = reply.status_code
        outcome = f"{role}: {status} {reply.text[:300]}"
        if before is not None and (changed := changes(before, await world.state())):
            failures.append(f"REFUSED WRITE CHANGED STATE — {outcome}\n    " + "\n    ".join(changed))
        if role in case.allowed:
            if case.answer is not None:
                ok = (status, reply.json().get("code")) == case.answer if status >= 400 else False
            else:
                ok = 200 <= status < 300
            if not ok:
                failures.append(f"allowed but refused/failed — {outcome}")
                continue
            if case.check is not None:
                try:
                    await case.check(world, role, reply)
                except AssertionError as exc:
                    failures.append(f"leak/check — {role}: {exc}")
        else:
            if case.cookie:
                denied = status in (303, 401, 403) and (
                    status != 303 or reply.headers.get("location") == "/admin/login"
                )
            elif role == "anonymous":
                denied = status in (401, 404)  # 404: routes open to the public hide what it may not see
            else:
                denied = status in (403, 404)
            if not denied:
                failures.append(f"NOT DENIED — {outcome}")
            elif not case.cookie:
                assert reply.headers["content-type"].startswith("application/problem+json"), outcome
    assert not failures, f"{case.id}:\n  " + "\n  ".join(failures)


# --- price discovery -----------------------------------------------------------------------------


async def _priced_achievement(world: World) -> int:
    return int((await world.listing("achievements", "published"))["id"])


async def _notice_request(world: World) -> Request:
    body = {
        "achievement_id": await _priced_achievement(world),
        "transferee_org_id": world.org["enterprise"],
        "price": "300000.00",
    }
    return {"url": f"{API}/price-notices", "json": body}


async def _pricing_world(world: World) -> dict[str, int]:
    """One notice of the owner (objected to by ``other_org``), one open listing, one certificate."""
    if "pricing" not in world.ids:
        request = await _notice_request(world)
        notice = (await world.call("POST", request["url"], "owner_admin", expect=201, json=request["json"])).json()
        objection = (
            await world.call(
                "POST",
                f"{API}/price-notices/{notice['id']}/objections",
                "other_org",
                expect=201,
                json={"reasons": "授权矩阵: 评估价更高"},
            )
        ).json()
        listing = (await _open_listing(world, "first_accept"))["id"]
        async with world.database.unit_of_work() as session:  # the demo contract completed: certified
            certificate = (
                await session.execute(
                    select(TransactionCertificate).where(
                        TransactionCertificate.contract_id == world.ids["demo_contract"]
                    )
                )
            ).scalar_one()
        world.ids["certificate"] = (certificate.number, certificate.terms_digest)
        world.ids["pricing"] = {"notice": notice["id"], "objection": objection["id"], "listing": listing}
    return dict(world.ids["pricing"])


async def _pricing_url(world: World, template: str, **kwargs: Any) -> Request:
    return {"url": API + template.format(**await _pricing_world(world)), **kwargs}


async def _withdraw_request(world: World) -> Request:
    request = await _notice_request(world)
    notice = (await world.call("POST", request["url"], "owner_admin", expect=201, json=request["json"])).json()
    return {"url": f"{API}/price-notices/{notice['id']}/withdraw", "json": {"reason": "调整拟交易价格"}}


async def _answer_request(world: World) -> Request:
    notice = (await _pricing_world(world))["notice"]
    url = f"{API}/price-notices/{notice}/objections"
    objection = (await world.call("POST", url, "other_org", expect=201, json={"reasons": "价格偏低"})).json()
    return {"url": f"{url}/{objection['id']}/answer", "json": {"answer": "拟交易价格不低于评估值"}}


async def _price_listing_request(world: World, rule: str = "first_accept") -> Request:
    body = {"achievement_id": await _priced_achievement(world), "price": "200000.00", "rule": rule}
    return {"url": f"{API}/price-listings", "json": body}


async def _open_listing(world: World, rule: str) -> dict[str, Any]:
    request = await _price_listing_request(world, rule)
    return dict((await world.call("POST", request["url"], "owner_admin", expect=201, json=request["json"])).json())


async def _accept_request(world: World) -> Request:
    return {"url": f"{API}/price-listings/{(await _open_listing(world, 'first_accept'))['id']}/accept"}


async def _award_request(world: World) -> Request:
    listing = (await _open_listing(world, "bidding"))["id"]
    await world.call("POST", f"{API}/price-listings/{listing}/accept", "other_org", expect=200)
    async with world.database.unit_of_work() as session:
        closed = utcnow() - timedelta(seconds=1)
        await session.execute(update(PriceListing).where(PriceListing.id == listing).values(closes_at=closed))
    return {"url": f"{API}/price-listings/{listing}/award"}


async def _certificate_request(world: World, by: str) -> Request:
    await _pricing_world(world)
    if by == "contract":
        return {"url": f"{API}/contracts/{world.ids['demo_contract']}/certificate"}
    if by == "pdf":
        return {"url": f"{API}/contracts/{world.ids['demo_contract']}/certificate.pdf"}
    number, digest = world.ids["certificate"]
    return {"url": f"{API}/certificates/{number}", "params": {"digest": digest}}


# --- auctions ------------------------------------------------------------------------------------


async def _auction_request(world: World) -> Request:
    row = await world.listing("achievements", "published")
    async with world.database.unit_of_work() as session:
        await session.execute(
            update(Achievement).where(Achievement.id == row["id"]).values(pricing_mode=PricingMode.auction)
        )
    now = utcnow()
    body = {
        "achievement_id": row["id"],
        "start_price": "10000.00",
        "reserve_price": "20000.00",
        "increment": "1000.00",
        "deposit": "2000.00",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    return {"url": f"{API}/auctions", "json": body}


async def _auction_id(world: World) -> int:
    request = await _auction_request(world)
    return int((await world.call("POST", request["url"], "owner_admin", expect=201, json=request["json"])).json()["id"])


async def _closed_auction(world: World, suffix: str) -> Request:
    if "closed_auction" not in world.ids:
        auction_id = await _auction_id(world)
        async with world.database.unit_of_work() as session:
            await session.execute(
                update(Auction).where(Auction.id == auction_id).values(ends_at=utcnow() - timedelta(seconds=1))
            )
        assert await close_due(world.database) >= 1
        world.ids["closed_auction"] = auction_id
    return {"url": f"{API}/auctions/{world.ids['closed_auction']}{suffix}"}


async def _bid_request(world: World) -> Request:
    auction_id = await _auction_id(world)
    deposit = (await world.call("POST", f"{API}/auctions/{auction_id}/deposit", "other_org", expect=200)).json()
    for _ in range(100):
        await world.deliver_webhooks()
        async with world.database.unit_of_work() as session:
            row = await session.get(AuctionDeposit, deposit["id"], populate_existing=True)
            if row is not None and row.status == DepositStatus.held:
                break
        await asyncio.sleep(0.05)
    return {
        "url": f"{API}/auctions/{auction_id}/bids",
        "json": {"amount": "10000.00"},
        "headers": {"Idempotency-Key": f"matrix-{next(world.serial)}"},
    }
