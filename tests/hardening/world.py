"""The seeded world of the authorization matrix and the fuzz run: every role of the authorization matrix, with tokens.

Built once per module on its own copy of the migrated SQLite template (or inside one rolled-back
PostgreSQL transaction; requests are sequential, so one connection suffices). Tokens are minted
directly (no argon2 login per role); the API-key role uses a real key created through the identity
service. Seed objects are made through the API itself. The payment provider is the real stub,
served over HTTP on a loopback port; its webhooks are forwarded to the app, signed, by
``deliver_webhooks`` (in order, one at a time), so a payment succeeds when the test says so.
``state`` reads every row of every table plus what the provider holds: the matrix compares it
before and after each refused write.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.factory import create_app
from app.worker import run_once
from contracts.contract.models import Contract
from contracts.demo import DEMO_CONTRACT_TITLE
from contracts.payment.signature import HEADER, sign
from contracts.payment.stub import StubProvider
from contracts.settings import PaymentSettings
from contracts.subsidy import budget
from contracts.voucher.service import today as voucher_today
from core import security
from core.db import Database
from core.reference import USCC_CHARSET, region_contains, uscc_check_char
from core.settings import Settings
from market.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from market.identity.models import Role, User
from market.identity.schemas import MemberCreate, RegionAdminCreate
from market.identity.service import IdentityService
from search.alerts.models import ListingKindName, Notification, Subscription
from tests.contracts.conftest import free_socket, serve
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.databases import isolated_database

# Nothing written into the work tree by Hypothesis (as in tests/contracts).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "techmarket-hypothesis")

INSTITUTE = "institute@demo.techmarket.cn"  # the owning organization: 演示稀土研究院, 包头 150200
ENTERPRISE = "enterprise@demo.techmarket.cn"  # counterpart: 演示乳业科技, 呼和浩特 150100
UNIVERSITY = "univ@demo.techmarket.cn"  # 演示大学, 呼和浩特 150100
ENERGY = "energy@demo.techmarket.cn"  # another organization: 演示能源集团, 鄂尔多斯 150600
PENDING = "pending@demo.techmarket.cn"  # admin of a pending organization, 150900
OWNER_MEMBER = "member@hardening.techmarket.cn"  # plain member of the owning organization
OTHER_REGION_ADMIN = "ordos-admin@hardening.techmarket.cn"  # region admin of 鄂尔多斯 150600

ROLES = (
    "anonymous",
    "owner_member",  # member of the owning organization
    "owner_admin",  # org admin of the owning organization
    "api_key",  # the owning organization's admin calling with an X-API-Key
    "other_org",  # org admin of another (verified) organization
    "pending",  # admin of an organization still pending review
    "region_admin",  # region admin of the owning organization's 盟市 (150200)
    "other_region_admin",  # region admin of another 盟市 (150600)
    "platform_admin",
)
OWNER = frozenset({"owner_member", "owner_admin", "api_key"})
OWNER_ADMINS = frozenset({"owner_admin", "api_key"})
ORG_ROLES = OWNER | {"other_org", "pending"}
AUTHENTICATED = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
REGION_ADMINS = frozenset({"region_admin", "other_region_admin"})
ADMINS = REGION_ADMINS | {"platform_admin"}
SCOPE = {"region_admin": "150200", "other_region_admin": "150600"}


def unique_uscc(n: int, region: str = "150200") -> str:
    """A well-formed 统一社会信用代码 (valid check character) that no demo organization has."""
    digits = ""
    value = 500_000 + n
    for _ in range(8):
        value, rest = divmod(value, len(USCC_CHARSET))
        digits = USCC_CHARSET[rest] + digits
    body = f"92{region}{digits}X"
    return body + uscc_check_char(body)


def achievement_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "高矫顽力钕铁硼永磁材料晶界扩散技术",
        "summary": "采用重稀土晶界扩散工艺, 在减少镝用量60%的同时使矫顽力提高8 kOe, 适用于新能源汽车驱动电机磁钢。",
        "field": "new_materials",
        "keywords": ["钕铁硼", "晶界扩散", "永磁"],
        "maturity": "pilot",
        "trl": 6,
        "ip_type": "invention_patent",
        "transaction_modes": ["license", "transfer"],
        "price": "1200000.50",
        "inventors": [{"name": "王磊", "share": 3}],
    }
    return {**body, **overrides}


def demand_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "稀土永磁电机磁钢降本, 需要减少重稀土用量",
        "description": (
            "企业年产驱动电机5万台, 磁钢成本占比高, 希望在矫顽力不降低的前提下减少镝铽用量, 预算不超过200万。"
        ),
        "field": "new_materials",
        "keywords": ["钕铁硼", "重稀土"],
        "budget_max": 2000000,
        "transaction_modes": ["transfer", "license"],
    }
    return {**body, **overrides}


BODIES = {"achievements": achievement_body, "demands": demand_body}
ATTACHMENT_HOLDERS = ("achievements", "demands", "deals", "contracts")  # each with one file per visibility
ATTACHMENT_LEVELS = ("public", "parties", "owner", "admin")


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    database: Database
    dialect: str
    headers: dict[str, dict[str, str]]  # by role, plus helper accounts ("enterprise", "university")
    tokens: dict[str, str]
    org: dict[str, int]  # owner, enterprise, university, other, pending, pending_local
    user: dict[str, int]  # by role
    role_org: dict[str, int | None]
    stub: StubProvider
    ids: dict[str, Any] = field(default_factory=dict)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    forwarded: int = 0  # the stub's events delivered to the app so far
    tables: list[tuple[str, list[str]]] = field(default_factory=list)

    def governs(self, role: str, region: str | None) -> bool:
        if role == "platform_admin":
            return True
        scope = SCOPE.get(role)
        return scope is not None and region is not None and region_contains(scope, region)

    async def call(
        self, method: str, url: str, role: str, *, expect: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers[role], **kwargs.pop("headers", {})}
        reply = await self.client.request(method, url, headers=headers, **kwargs)
        if expect is not None:
            assert reply.status_code == expect, f"{method} {url} as {role}: {reply.status_code} {reply.text[:500]}"
        return reply

    async def state(self) -> dict[str, list[str]]:
        """Every row of every table of the live schema, in key order, and the provider's intents."""
        async with self.database.unit_of_work() as session:
            if not self.tables:
                self.tables = await (await session.connection()).run_sync(_tables_and_keys)
            snapshot = {}
            for table, keys in self.tables:
                order = ", ".join(f'"{k}"' for k in keys) or "1"
                rows = (await session.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))).all()
                snapshot[table] = [repr(tuple(row)) for row in rows]
        snapshot["payment provider"] = [
            json.dumps(intent, sort_keys=True) for intent in self.stub.state.intents.values()
        ]
        return snapshot

    async def deliver_webhooks(self) -> None:
        """Forward the stub's events not yet delivered, signed, in order; each must be accepted."""
        while self.forwarded < len(self.stub.state.events):
            body = json.dumps(self.stub.state.events[self.forwarded], ensure_ascii=False).encode()
            reply = await self.client.post(
                "/api/v1/payments/webhook",
                content=body,
                headers={"content-type": "application/json", HEADER: sign(self.stub.webhook_secret, body)},
            )
            assert reply.status_code == 200, reply.text
            self.forwarded += 1

    async def rows(self, model: Any, ids: list[int]) -> list[Any]:
        if not ids:
            return []
        async with self.database.unit_of_work() as session:
            return list((await session.execute(select(model).where(model.id.in_(ids)))).scalars().all())

    # --- factories (through the API, as the accounts that may do it) ---------------------------

    async def listing(self, kind: str, status: str = "draft", **overrides: Any) -> dict[str, Any]:
        title = f"{BODIES[kind]()['title']} {next(self.serial)}"
        row = (
            await self.call(
                "POST", f"/api/v1/{kind}", "owner_admin", expect=201, json=BODIES[kind](title=title, **overrides)
            )
        ).json()
        if status in ("submitted", "published"):
            row = (await self.call("POST", f"/api/v1/{kind}/{row['id']}/submit", "owner_admin", expect=200)).json()
        if status == "published":
            row = (await self.call("POST", f"/api/v1/{kind}/{row['id']}/approve", "region_admin", expect=200)).json()
        return row

    async def contract(self, status: str = "draft", *, owner_side: str = "seller") -> dict[str, Any]:
        """Owner as seller with 演示乳业 as buyer, or as buyer of 演示大学; moved to ``status``."""
        partner = "enterprise" if owner_side == "seller" else "university"
        milestones = [{"title": "首付款", "amount": "40000.00"}, {"title": "尾款", "amount": "60000.00"}]
        body = {
            "title": f"稀土永磁技术开发合同 {next(self.serial)}",
            "type": "development",
            "subtype": "commissioned_development",
            "field": "new_materials",
            "total": "100000.00",
            "technology_income": "80000.00",
            "milestones": milestones,
            ("buyer_org_id" if owner_side == "seller" else "seller_org_id"): self.org[partner],
        }
        reply = await self.call("POST", "/api/v1/contracts", "owner_admin", json=body)
        assert reply.status_code == 201, reply.text
        contract = reply.json()
        cid = contract["id"]
        order = ["draft", "signed", "requested", "registered", "performing"]
        if order.index(status) >= 1:
            await self.call("POST", f"/api/v1/contracts/{cid}/sign", "owner_admin", expect=200)
            contract = (await self.call("POST", f"/api/v1/contracts/{cid}/sign", partner, expect=200)).json()
        seller = "owner_admin" if owner_side == "seller" else partner
        if order.index(status) >= 2:
            await self.contract_text(cid, seller)
            contract = (
                await self.call("POST", f"/api/v1/contracts/{cid}/registration-request", seller, expect=200)
            ).json()
        if order.index(status) >= 3:
            registrar = "region_admin" if owner_side == "seller" else "platform_admin"
            contract = (
                await self.call("POST", f"/api/v1/contracts/{cid}/register", registrar, expect=200, json={})
            ).json()
        if order.index(status) >= 4:
            contract = (
                await self.call(
                    "POST", f"/api/v1/contracts/{cid}/transitions", seller, expect=200, json={"to": "performing"}
                )
            ).json()
        return contract

    async def contract_text(self, cid: int, role: str) -> None:
        """The registration material a development contract needs: its text, as a contract attachment."""
        await self.call(
            "POST",
            f"/api/v1/contracts/{cid}/attachments",
            role,
            expect=201,
            params={"category": "contract_text"},
            files={"file": ("合同文本.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        )

    async def paid_milestone(self) -> tuple[int, int]:
        """A performing contract (owner as seller) whose first milestone 演示乳业 paid through the stub."""
        contract = await self.contract("performing")
        milestone = contract["milestones"][0]["id"]
        paid = await self.call(
            "POST", f"/api/v1/contracts/{contract['id']}/milestones/{milestone}/pay", "enterprise", expect=200
        )
        intent = self.stub.state.intents[paid.json()["provider_intent_id"]]
        deadline = time.monotonic() + 10
        while intent["status"] != "succeeded":  # the stub settles right after confirm (settle_delay 0)
            assert time.monotonic() < deadline, intent
            await asyncio.sleep(0.01)
        await self.deliver_webhooks()
        payments = (
            await self.call("GET", f"/api/v1/contracts/{contract['id']}/payments", "owner_admin", expect=200)
        ).json()["items"]
        assert [p["status"] for p in payments] == ["succeeded"], payments
        return contract["id"], milestone

    async def deal(self) -> dict[str, Any]:
        """演示乳业 (buyer) shows interest in a fresh published achievement of the owning organization."""
        achievement = await self.listing("achievements", "published")
        body = {"achievement_id": achievement["id"], "message": "我们对该成果很感兴趣, 希望进一步沟通许可条件。"}
        return (await self.call("POST", "/api/v1/deals", "enterprise", expect=201, json=body)).json()

    def attachments_url(self, holder: str) -> str:
        """Where the seeded holders of attachments take files (the owning organization is on each)."""
        targets = {
            "achievements": f"achievements/{self.ids['published']['achievements']['id']}",
            "demands": f"demands/{self.ids['published']['demands']['id']}",
            "deals": f"deals/{self.ids['deal']['id']}",
            "contracts": f"contracts/{self.ids['demo_contract']}",
        }
        return f"/api/v1/{targets[holder]}/attachments"

    async def attachment(self, holder: str, visibility: str = "public", category: str = "other") -> int:
        """A fresh file (its own content) attached by the owning organization's admin."""
        content = b"%PDF-1.7\n" + f"{holder} {visibility} {next(self.serial)}".encode()
        reply = await self.call(
            "POST",
            self.attachments_url(holder),
            "owner_admin",
            expect=201,
            params={"visibility": visibility, "category": category},
            files={"file": (f"{holder}-{visibility}.pdf", content, "application/pdf")},
        )
        return int(reply.json()["id"])

    async def subscription(self) -> int:
        body = {"query": f"稀土 {next(self.serial)}", "target_kind": "demand", "threshold": 0.9}
        return int(
            (await self.call("POST", "/api/v1/subscriptions", "owner_admin", expect=201, json=body)).json()["id"]
        )

    async def notification(self) -> int:
        async with self.database.unit_of_work() as session:
            subscription = Subscription(
                organization_id=self.org["owner"],
                created_by=self.user["owner_admin"],
                query="稀土",
                target_kind=ListingKindName.demand,
                threshold=0.1,
            )
            session.add(subscription)
            await session.flush()
            notification = Notification(
                organization_id=self.org["owner"],
                subscription_id=subscription.id or 0,
                listing_kind=ListingKindName.demand,
                listing_id=self.ids["published"]["demands"]["id"],
                title="稀土永磁电机磁钢降本",
                score=0.8,
                reasons=["匹配: 稀土"],
            )
            session.add(notification)
            await session.flush()
            return notification.id or 0

    async def api_key(self) -> int:
        return int(
            (
                await self.call(
                    "POST", "/api/v1/api-keys", "owner_admin", expect=201, json={"name": f"k{next(self.serial)}"}
                )
            ).json()["id"]
        )

    async def organization(self, status: str) -> int:
        """A fresh organization in 150200: pending (self-registered) or verified (by the platform admin)."""
        n = 100 + next(self.serial)
        org = {"kind": "enterprise", "name": f"硬化测试企业{n}", "uscc": unique_uscc(n), "region": "150200"}
        if status == "pending":
            admin = {"email": f"reg{n}@hardening.techmarket.cn", "full_name": "注册人", "password": DEMO_PASSWORD}
            reply = await self.call(
                "POST",
                "/api/v1/organizations/register",
                "anonymous",
                expect=201,
                json={"organization": org, "admin": admin},
            )
            return int(reply.json()["organization"]["id"])
        return int(
            (await self.call("POST", "/api/v1/organizations", "platform_admin", expect=201, json=org)).json()["id"]
        )

    # --- 创新券: 演示能源集团 (other_org, 鄂尔多斯) holds vouchers; the owner is a listed provider -----------

    async def voucher(self) -> int:
        """A voucher of 演示能源集团 for research and development, issued by the platform admin and accepted."""
        async with self.database.unit_of_work() as session:
            for region in ("150000", "150600"):
                await budget.allocate(
                    session,
                    region_code=region,
                    year=voucher_today().year,
                    instrument="voucher",
                    amount_fen=10**10,
                    reference="matrix",
                )
        body = {
            "organization_id": self.org["other"],
            "face_value": "10000.00",
            "categories": ["research_development"],
            "sme_number": "2026150600A0001",
        }
        voucher = (await self.call("POST", "/api/v1/vouchers", "platform_admin", expect=201, json=body)).json()
        await self.call("POST", f"/api/v1/vouchers/{voucher['id']}/accept", "other_org", expect=200)
        return int(voucher["id"])

    async def voucher_spend(self) -> dict[str, Any]:
        """The body and URL of spending a fresh voucher on the first milestone of a fresh signed contract
        the owner (listed for research and development) sells to 演示能源集团."""
        provider = {"organization_id": self.org["owner"], "categories": ["research_development"]}
        await self.call("POST", "/api/v1/vouchers/providers", "platform_admin", expect=201, json=provider)
        body = {
            "title": f"稀土永磁技术开发合同 (创新券) {next(self.serial)}",
            "type": "development",
            "subtype": "commissioned_development",
            "field": "new_materials",
            "total": "100000.00",
            "technology_income": "80000.00",
            "milestones": [{"title": "首付款", "amount": "40000.00"}, {"title": "尾款", "amount": "60000.00"}],
            "buyer_org_id": self.org["other"],
        }
        contract = (await self.call("POST", "/api/v1/contracts", "owner_admin", expect=201, json=body)).json()
        await self.call("POST", f"/api/v1/contracts/{contract['id']}/sign", "owner_admin", expect=200)
        await self.call("POST", f"/api/v1/contracts/{contract['id']}/sign", "other_org", expect=200)
        spend = {"contract_id": contract["id"], "milestone_id": contract["milestones"][0]["id"], "amount": "10000.00"}
        return {"url": f"/api/v1/vouchers/{await self.voucher()}/spend", "json": spend}

    async def redeemable_spend(self) -> None:
        """A voucher spend on a milestone whose rest the provider stub has paid: the owner may redeem it."""
        request = await self.voucher_spend()
        paid = await self.call("POST", request["url"], "other_org", expect=201, json=request["json"])
        assert paid.json()["payment_status"] in ("processing", "succeeded"), paid.text
        milestone = str(request["json"]["milestone_id"])
        intent = next(i for i in self.stub.state.intents.values() if i["metadata"].get("milestone_id") == milestone)
        deadline = time.monotonic() + 10
        while intent["status"] != "succeeded":
            assert time.monotonic() < deadline, intent
            await asyncio.sleep(0.01)
        await self.deliver_webhooks()

    async def target(self, region: str = "150200") -> int:
        body = {
            "region": region,
            "metric": "contract_turnover",
            "target_year": 2040 + next(self.serial) % 60,
            "target_value": "1000000000",
        }
        return int(
            (await self.call("POST", "/api/v1/statistics/targets", "platform_admin", expect=201, json=body)).json()[
                "id"
            ]
        )


def _tables_and_keys(connection: Connection) -> list[tuple[str, list[str]]]:
    inspector = inspect(connection)
    return [
        (name, list(inspector.get_pk_constraint(name)["constrained_columns"]))
        for name in sorted(inspector.get_table_names())
    ]


async def _user_id(session: AsyncSession, email: str) -> int:
    return int((await session.execute(select(User.id).where(User.email == email))).scalar_one())


@pytest.fixture(scope="module")
async def hardening_database(
    request: pytest.FixtureRequest, migrated_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Database]]:
    dialect = getattr(request, "param", "sqlite")
    async with isolated_database(dialect, migrated_urls, tmp_path_factory.mktemp("hardening")) as database:
        yield dialect, database


@pytest.fixture(scope="module")
async def world(
    hardening_database: tuple[str, Database], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    dialect, database = hardening_database
    settings = Settings(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path_factory.mktemp("hardening-data"),
        log_json=True,
        log_level="WARNING",
        worker_in_process=False,
    )
    app = create_app(settings, database=database)
    stub_sock = free_socket()
    payments = PaymentSettings(
        env="test",
        provider_url=f"http://127.0.0.1:{stub_sock.getsockname()[1]}",
        provider_api_key="sk_test_hardening",
        webhook_secret="hardening-webhook-secret-0123456789abcdef",
        max_attempts=2,
        backoff_seconds=0,
        timeout_seconds=5,
    )
    stub = StubProvider(webhook_url=None, webhook_secret=payments.webhook_secret, api_key=payments.provider_api_key)
    stub.faults.settle_delay = 0
    app.state.payment_settings = payments
    async with serve(stub.app, stub_sock), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with database.unit_of_work() as session:
                identity = IdentityService(session, settings)
                admin = (await session.execute(select(User).where(User.email == PLATFORM_ADMIN_EMAIL))).scalar_one()
                acting = await identity._principal(admin)
                institute = (await session.execute(select(User).where(User.email == INSTITUTE))).scalar_one()
                await identity.add_member(
                    acting,
                    institute.organization_id or 0,
                    MemberCreate(
                        email=OWNER_MEMBER, full_name="研究院普通成员", password=DEMO_PASSWORD, role=Role.member
                    ),
                )
                await identity.create_region_admin(
                    acting,
                    RegionAdminCreate(
                        email=OTHER_REGION_ADMIN,
                        full_name="鄂尔多斯市管理员",
                        password=DEMO_PASSWORD,
                        region_scope="150600",
                    ),
                )
                key_record, key = await identity.create_api_key(await identity._principal(institute), "hardening")
                accounts = {
                    "owner_member": OWNER_MEMBER,
                    "owner_admin": INSTITUTE,
                    "other_org": ENERGY,
                    "pending": PENDING,
                    "region_admin": REGION_ADMIN[0],
                    "other_region_admin": OTHER_REGION_ADMIN,
                    "platform_admin": PLATFORM_ADMIN_EMAIL,
                    "enterprise": ENTERPRISE,
                    "university": UNIVERSITY,
                }
                users = {
                    role: (await session.execute(select(User).where(User.email == email))).scalar_one()
                    for role, email in accounts.items()
                }
                users["api_key"] = users["owner_admin"]
                org_ids = {role: u.organization_id for role, u in users.items()}
                api_key_id = key_record.id
            tokens = {
                role: security.create_access_token(str(u.id), TEST_SECRET, 120, role=u.role.value)
                for role, u in users.items()
                if role != "api_key"
            }
            headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
            headers["anonymous"] = {}
            headers["api_key"] = {"X-API-Key": key}
            world = World(
                app=app,
                client=client,
                database=database,
                dialect=dialect,
                headers=headers,
                tokens=tokens,
                org={
                    "owner": org_ids["owner_admin"] or 0,
                    "enterprise": org_ids["enterprise"] or 0,
                    "university": org_ids["university"] or 0,
                    "other": org_ids["other_org"] or 0,
                    "pending": org_ids["pending"] or 0,
                },
                user={role: u.id or 0 for role, u in users.items()},
                role_org={role: org_ids.get(role) for role in ROLES},
                stub=stub,
            )
            world.ids["api_key"] = api_key_id
            world.org["pending_local"] = await world.organization("pending")
            world.ids["draft"] = {kind: await world.listing(kind) for kind in BODIES}
            world.ids["published"] = {kind: await world.listing(kind, "published") for kind in BODIES}
            revised = {}
            for kind in BODIES:
                row = await world.listing(kind, "published")
                await world.call(
                    "PATCH",
                    f"/api/v1/{kind}/{row['id']}",
                    "owner_admin",
                    expect=200,
                    json={"title": f"待审修改 {kind}"},
                )
                revised[kind] = row
            world.ids["revised"] = revised
            async with database.unit_of_work() as session:
                world.ids["demo_contract"] = int(
                    (
                        await session.execute(select(Contract.id).where(Contract.title == DEMO_CONTRACT_TITLE))
                    ).scalar_one()
                )
            world.ids["deal"] = await world.deal()
            world.ids["attachments"] = {
                holder: {level: await world.attachment(holder, level) for level in ATTACHMENT_LEVELS}
                for holder in ATTACHMENT_HOLDERS
            }
            world.ids["subscription"] = await world.subscription()
            world.ids["notification"] = await world.notification()
            world.ids["target"] = await world.target("150200")
            world.ids["other_target"] = await world.target("150600")
            publication = {"title": "2025 年技术合同登记统计", "region": "150000", "year": 2025}
            world.ids["publication"] = (
                await world.call(
                    "POST", "/api/v1/statistics/publications", "platform_admin", expect=201, json=publication
                )
            ).json()["id"]
            stale = {kind: await world.listing(kind, "published") for kind in BODIES}
            await run_once(database, app.state.search, app.state.http)  # index the published listings, score alerts
            for kind, row in stale.items():  # withdrawn after indexing: the index still has it until the relay runs
                await world.call("POST", f"/api/v1/{kind}/{row['id']}/withdraw", "owner_admin", expect=200)
            world.ids["stale"] = stale
            yield world


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
