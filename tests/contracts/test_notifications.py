"""Notifications people receive, on SQLite and PostgreSQL: a registrar's return, a payment, a deal
message reach the users concerned in-app, at their organization's webhook (a real receiver) and by
e-mail (a real SMTP server, aiosmtpd, in this process); an SMTP outage loses nothing; two workers
deliver each notification once. A linked inventor is told their own share of a distribution; a
registration request reaches the registrars of the seller's region and no others.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlmodel import col

from app.factory import create_app
from app.worker import run_once
from core.db import Database, create_engine
from core.egress import EgressPolicy
from core.outbox import OutboxEvent
from core.settings import Settings
from market.demo import REGION_ADMIN
from market.notifications.email import Mailer, send_email_once
from market.notifications.models import EMAIL_TOPIC, WEBHOOK_TOPIC
from market.notifications.service import TOPICS, fan_out_once
from search.alerts.tasks import sign
from tests.contracts.conftest import PaymentWorld, _own_database, org_id, published_achievement, wait_for
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract
from tests.contracts.test_registrar_desk import RETURN_ITEMS, _requested
from tests.fixtures.app import TEST_SECRET, login
from tests.hardening.webhooks import free_port, http_receiver

API = "/api/v1/contracts"
MINE = "/api/v1/notifications/mine"
INSECURE = EgressPolicy(allow_insecure=True, timeout_seconds=2)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The tests' settings, with webhooks allowed to reach the loopback receivers."""
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        log_json=True,
        worker_in_process=False,
        webhook_allow_insecure=True,
    )


@dataclass
class Mailbox:
    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        self.received.append(
            cast(EmailMessage, email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@asynccontextmanager
async def smtp_server(port: int, mailbox: Mailbox | None = None) -> AsyncIterator[Mailbox]:
    """A real SMTP server on loopback (aiosmtpd, its own thread) until the block ends."""
    box = mailbox or Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield box
    finally:
        await asyncio.to_thread(controller.stop)


def mailer(port: int) -> Mailer:
    """The production timeout: a loaded CI machine can hold the server's greeting past a shorter one,
    and a retried e-mail is not what these tests are about."""
    return Mailer(host="127.0.0.1", port=port, starttls=False)


async def pending_notification_events(database: Database) -> int:
    async with database.unit_of_work() as session:
        statement = select(func.count()).where(
            col(OutboxEvent.topic).in_([*TOPICS, EMAIL_TOPIC, WEBHOOK_TOPIC]), col(OutboxEvent.processed_at).is_(None)
        )
        return int((await session.execute(statement)).scalar_one())


async def mine(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    reply = await client.get(MINE, params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_a_registrars_return_reaches_the_seller_in_app_by_webhook_and_by_email(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    h = await headers_of(client)
    seller = await org_id(database, INSTITUTE)
    port = free_port()
    async with http_receiver() as hook, smtp_server(port) as mailbox:
        put = await client.put(f"/api/v1/organizations/{seller}/webhook", json={"url": hook.url}, headers=h["seller"])
        assert put.status_code == 200, put.text
        secret = put.json()["secret"]
        cid = (await _requested(client, database, h))["id"]
        returned = await client.post(
            f"{API}/{cid}/registration/return", json={"items": RETURN_ITEMS}, headers=h["region"]
        )
        assert returned.status_code == 200, returned.text
        await run_once(database, app.state.search, app.state.http, egress_policy=INSECURE, mailer=mailer(port))

        # In-app: the seller's user sees it, in Chinese, with the registrar's reasons.
        inbox = await mine(client, h["seller"], unread=True)
        note = next(i for i in inbox["items"] if i["type"] == "contract.registration_returned")
        assert note["contract_id"] == cid and "退回补正" in note["title"]
        assert RETURN_ITEMS[0]["reason"] in note["body"]
        assert {(p["channel"], p["delivery_status"]) for p in note["pushes"]} == {
            ("email", "delivered"),
            ("webhook", "delivered"),
        }
        # The organization's webhook: once, signed, the same event id, the Chinese message inside.
        pushed = [
            (headers, json.loads(body))
            for headers, body in hook.received
            if json.loads(body)["type"] == "contract.registration_returned"
        ]
        assert len(pushed) == 1
        headers, body = pushed[0]
        assert headers["techmarket-event-id"] == note["event_id"] == body["id"]
        timestamp = int(headers["techmarket-signature"].split(",")[0].removeprefix("t="))
        raw = next(b for hd, b in hook.received if hd["techmarket-event-id"] == note["event_id"])
        assert headers["techmarket-signature"] == sign(secret, raw, timestamp)
        assert body["data"]["contract_id"] == cid and body["data"]["notification"]["title"] == note["title"]
        # E-mail to the seller's user, subject and body in Chinese.
        mails = [m for m in mailbox.to(INSTITUTE) if "退回补正" in str(m["Subject"])]
        assert len(mails) == 1 and RETURN_ITEMS[0]["reason"] in mails[0].get_content()

    # Read: gone from the unread list; nobody else can mark it.
    assert (await client.post(f"{MINE}/{note['id']}/read", headers=h["buyer"])).status_code == 404
    read = await client.post(f"{MINE}/{note['id']}/read", headers=h["seller"])
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert note["id"] not in [i["id"] for i in (await mine(client, h["seller"], unread=True))["items"]]
    # The buyer is told too; no one outside the contract is.
    assert "contract.registration_returned" in [i["type"] for i in (await mine(client, h["buyer"]))["items"]]
    assert all(i.get("contract_id") != cid for i in (await mine(client, h["other"]))["items"])
    assert await pending_notification_events(database) == 0  # the backlog metric does not grow


async def test_a_payment_notifies_both_parties_and_the_split_the_seller(payment_world: PaymentWorld) -> None:
    world = payment_world
    h = await headers_of(world.api)
    achievement = await published_achievement(world.database, INSTITUTE)
    body = transfer_contract(achievement, await org_id(world.database, ENTERPRISE))
    contract = await registered_contract(world.api, h, body)
    cid, m1 = contract["id"], contract["milestones"][0]["id"]
    paid = await world.api.post(f"{API}/{cid}/milestones/{m1}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text

    expected = {"contract.registered", "contract.signature", "contract.payment_succeeded"}

    async def told() -> bool:  # every side has every notice: the outbox fans out in batches, in no set order
        await fan_out_once(world.database, email=False)
        for side in ("seller", "buyer"):
            items = (await mine(world.api, h[side], limit=100))["items"]
            wanted = expected | ({"contract.distribution"} if side == "seller" else set())
            if not wanted <= {i["type"] for i in items if i["contract_id"] == cid}:
                return False
        return True

    await wait_for(told)
    for side in ("seller", "buyer"):
        items = (await mine(world.api, h[side], limit=100))["items"]
        payment = [i for i in items if i["type"] == "contract.payment_succeeded" and i["contract_id"] == cid]
        assert len(payment) == 1 and "300000.00 元" in payment[0]["body"], (side, items)
        assert {"contract.registered", "contract.signature"} <= {i["type"] for i in items if i["contract_id"] == cid}
    seller_items = (await mine(world.api, h["seller"], limit=100))["items"]
    split = [i for i in seller_items if i["type"] == "contract.distribution" and i["contract_id"] == cid]
    assert len(split) == 1 and "奖励完成人团队" in split[0]["body"]
    buyer_items = (await mine(world.api, h["buyer"], limit=100))["items"]
    assert not any(i["type"] == "contract.distribution" and i["contract_id"] == cid for i in buyer_items)


async def _deal_messages(client: httpx.AsyncClient, database: Database, count: int) -> int:
    """The enterprise opens a deal on the institute's achievement and writes ``count`` - 1 more messages."""
    h = await headers_of(client)
    achievement = await published_achievement(database, INSTITUTE)
    opened = await client.post(
        "/api/v1/deals",
        json={"achievement_id": achievement, "message": "贵所的稀土永磁技术能否转让?"},
        headers=h["buyer"],
    )
    assert opened.status_code == 201, opened.text
    for n in range(1, count):
        posted = await client.post(
            f"/api/v1/deals/{opened.json()['id']}/messages", json={"body": f"第 {n} 条补充说明"}, headers=h["buyer"]
        )
        assert posted.status_code == 201, posted.text
    return int(opened.json()["id"])


async def test_an_smtp_outage_loses_nothing(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    port = free_port()
    while await fan_out_once(database, email=False):
        pass  # the demo's own events (its contract's signatures, registration, payments): told in-app only
    await _deal_messages(client, database, 1)
    assert await fan_out_once(database, email=True) == 1
    assert await send_email_once(database, mailer(port)) == 1  # nobody listens on the port
    failed = (await mine(client, h["seller"]))["items"][0]
    assert failed["type"] == "deal.message" and "留言" in failed["title"]
    assert [(p["delivery_status"], p["delivery_attempts"]) for p in failed["pushes"]] == [("pending", 1)]
    assert failed["pushes"][0]["delivery_error"].startswith("smtp_connect_failed")
    assert (await mine(client, h["seller"], delivery="pending"))["total"] == 1

    async with smtp_server(port) as mailbox:  # the server comes back: delivered after the backoff

        async def arrived() -> bool:
            await send_email_once(database, mailer(port))
            return bool(mailbox.to(INSTITUTE))

        await wait_for(arrived, timeout=15)
    assert len(mailbox.to(INSTITUTE)) == 1 and "贵所的稀土永磁技术能否转让" in mailbox.to(INSTITUTE)[0].get_content()
    delivered = (await mine(client, h["seller"]))["items"][0]
    assert [(p["delivery_status"], p["delivery_attempts"]) for p in delivered["pushes"]] == [("delivered", 2)]
    assert await pending_notification_events(database) == 0


async def test_two_workers_deliver_each_notification_exactly_once(
    settings: Settings, dialect: str, migrated_urls: dict[str, str], tmp_path: Path, postgres_copy_factory: Any
) -> None:
    messages = 6
    port = free_port()
    async with _own_database(dialect, migrated_urls, tmp_path, postgres_copy_factory) as database:
        application = create_app(settings, database=database)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                h = await headers_of(client)
                seller = await org_id(database, INSTITUTE)
                while await fan_out_once(database, email=False):
                    pass  # the demo's own events, told before the webhook and the mailer exist
                async with http_receiver() as hook, smtp_server(port) as mailbox:
                    put = await client.put(
                        f"/api/v1/organizations/{seller}/webhook", json={"url": hook.url}, headers=h["seller"]
                    )
                    assert put.status_code == 200, put.text
                    deal = await _deal_messages(client, database, messages)
                    # A second worker instance: its own engine and connections on the same database.
                    second = Database(create_engine(database.engine.url.render_as_string(hide_password=False)))
                    await asyncio.gather(
                        *(
                            run_once(
                                worker_db,
                                application.state.search,
                                application.state.http,
                                egress_policy=INSECURE,
                                mailer=mailer(port),
                            )
                            for worker_db in (database, second)
                        )
                    )
                    await second.dispose()
                    ids = [hd["techmarket-event-id"] for hd, _ in hook.received]
                    assert len(ids) == messages and len(set(ids)) == messages
                    mails = [m["Message-ID"] for m in mailbox.to(INSTITUTE)]
                    assert len(mails) == messages and len(set(mails)) == messages
                told = [i for i in (await mine(client, h["seller"], limit=100))["items"] if i["deal_id"] == deal]
                assert len(told) == messages
                assert all({p["delivery_status"] for p in i["pushes"]} == {"delivered"} for i in told)
        assert await pending_notification_events(database) == 0


@dataclass
class RefusingMailbox(Mailbox):
    """A server that refuses every recipient for good (550): retrying cannot help."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 mailbox unavailable"


async def test_a_refused_email_is_dead_lettered_and_shown(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    port = free_port()
    while await fan_out_once(database, email=False):
        pass
    await _deal_messages(client, database, 1)
    assert await fan_out_once(database, email=True) == 1
    async with smtp_server(port, RefusingMailbox()) as mailbox:
        assert await send_email_once(database, mailer(port)) == 1
    assert mailbox.received == []
    failed = await mine(client, h["seller"], delivery="failed")
    assert failed["total"] == 1
    push = failed["items"][0]["pushes"][0]
    assert (push["channel"], push["delivery_status"], push["delivery_attempts"]) == ("email", "failed", 1)
    assert push["delivery_error"].startswith("smtp_recipient_refused")
    assert await pending_notification_events(database) == 0  # dead-lettered: out of the backlog, not lost from view


async def test_a_linked_inventor_is_told_their_own_share_of_a_distribution(payment_world: PaymentWorld) -> None:
    """100,000.00 paid at 70%: 甲 and 乙 hold 35,000.00 each; only 甲's account is linked, and only 甲 is told."""
    world = payment_world
    h = await headers_of(world.api)
    seller = await org_id(world.database, INSTITUTE)
    achievement = await published_achievement(world.database, INSTITUTE, inventors=[])
    body = transfer_contract(
        achievement,
        await org_id(world.database, ENTERPRISE),
        total="100000.00",
        technology_income="100000.00",
        milestones=[{"title": "全款", "amount": "100000.00"}],
        deductions=[],
        reward_rate="70",
        inventors=[{"name": "甲"}, {"name": "乙"}],
    )
    contract = await registered_contract(world.api, h, body)
    cid = contract["id"]
    account = {"email": "jia@inventors.example.cn", "full_name": "甲", "password": "Inventor-2026-pass"}
    made = await world.api.post(f"/api/v1/organizations/{seller}/users", json=account, headers=h["seller"])
    assert made.status_code == 201, made.text
    jia = await login(world.api, account["email"], account["password"])
    invited = await world.api.post(
        f"{API}/{cid}/inventors/1/invitation", json={"email": account["email"]}, headers=h["seller"]
    )
    assert invited.status_code in (200, 201), invited.text
    accepted = await world.api.post(
        "/api/v1/rewards/invitations/accept", json={"code": invited.json()["code"]}, headers=jia
    )
    assert accepted.status_code == 200, accepted.text
    paid = await world.api.post(f"{API}/{cid}/milestones/{contract['milestones'][0]['id']}/pay", headers=h["buyer"])
    assert paid.status_code == 200, paid.text

    def credited(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["type"] == "contract.distribution_credited" and i["contract_id"] == cid]

    async def told() -> bool:
        await fan_out_once(world.database, email=False)
        return bool(credited((await mine(world.api, jia))["items"]))

    await wait_for(told)
    notes = credited((await mine(world.api, jia))["items"])
    assert len(notes) == 1 and "收益奖励" in notes[0]["title"], notes
    assert "35000.00 元" in notes[0]["body"] and "甲" in notes[0]["body"] and "乙" not in notes[0]["body"]
    assert credited((await mine(world.api, h["seller"]))["items"]) == []  # the seller's own view is the split
    assert credited((await mine(world.api, h["buyer"]))["items"]) == []


async def test_a_registration_request_reaches_the_registrars_of_the_sellers_region(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    """包头's institute asks: 包头's region admin and the platform admin are told in-app and by e-mail,
    赤峰's region admin and the parties are not."""
    h = await headers_of(client)
    account = {"email": "chifeng-admin@example.cn", "full_name": "赤峰市科技局", "password": "Registrar-2026-pass"}
    chifeng_admin = {**account, "region_scope": "150400"}
    made = await client.post("/api/v1/admin/region-admins", json=chifeng_admin, headers=h["admin"])
    assert made.status_code == 201, made.text
    chifeng = await login(client, account["email"], account["password"])
    while await fan_out_once(database, email=False):
        pass  # the demo's own events
    port = free_port()
    async with smtp_server(port) as mailbox:
        cid = (await _requested(client, database, h))["id"]
        await run_once(database, app.state.search, app.state.http, egress_policy=INSECURE, mailer=mailer(port))

        def requested(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if i["type"] == "contract.registration_requested" and i["contract_id"] == cid]

        for registrar in ("region", "admin"):
            notes = requested((await mine(client, h[registrar]))["items"])
            assert len(notes) == 1 and "登记申请" in notes[0]["title"], (registrar, notes)
            assert [(p["channel"], p["delivery_status"]) for p in notes[0]["pushes"]] == [("email", "delivered")]
        mails = [m for m in mailbox.to(REGION_ADMIN[0]) if "登记申请" in str(m["Subject"])]
        assert len(mails) == 1 and "登记审核队列" in mails[0].get_content()
        assert mailbox.to(account["email"]) == []
    for nobody in (chifeng, h["seller"], h["buyer"]):
        assert requested((await mine(client, nobody))["items"]) == []
