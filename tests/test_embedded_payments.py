"""The embedded default takes a milestone payment with nothing but ``techmarket serve --migrate --demo``.

The command ./scripts/start execs, run as a process of its own with a fresh data directory and no
provider URL: it serves the bundled provider, whose signed webhook comes back to the API and marks
the milestone paid. The test starts no other process.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlmodel import Session

from contracts.contract import service as contract_service
from contracts.pricing import rules
from contracts.pricing.models import PriceNotice
from core.money import yuan_to_fen
from market.demo import DEMO_ORGANIZATIONS
from market.identity.models import Organization
from market.listings.models import Achievement, PricingMode
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, transfer_contract
from tests.hardening.server_profile import free_port, start, stopping, wait_ready

PAY_TIMEOUT = 20.0


def _embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHMARKET_", "MEILI_"))}
    env.update(TECHMARKET_DATA_DIR=str(data_dir), TECHMARKET_LOG_LEVEL="WARNING", NO_PROXY="127.0.0.1,localhost")
    return env


def _ids(database: Path) -> tuple[int, int]:
    """The buyer organization and a published achievement of the seller, read from the demo data."""
    names = {o.admin_email: o.name for o in DEMO_ORGANIZATIONS}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        (buyer,) = db.execute("SELECT id FROM organizations WHERE name = ?", (names[ENTERPRISE],)).fetchone()
        (achievement,) = db.execute(
            "SELECT a.id FROM achievements a JOIN organizations o ON o.id = a.owner_id "
            "WHERE o.name = ? AND a.status = 'published' ORDER BY a.id LIMIT 1",
            (names[INSTITUTE],),
        ).fetchone()
    return int(buyer), int(achievement)


def _noticed(database: Path, achievement: int, buyer: int, total: str) -> None:
    """The institute's 协议定价公示 of the achievement to the buyer at ``total``, published a month ago and
    over, as art. 18 asks before its service invention is signed: written into the server's database,
    since a clock cannot be moved in another process (the in-process tests use ``helpers.noticed``)."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            item, transferee = session.get(Achievement, achievement), session.get(Organization, buyer)
            assert item is not None and transferee is not None
            starts = contract_service.today() - timedelta(days=30)
            item.pricing_mode = PricingMode.agreed
            session.add(item)
            session.add(
                PriceNotice(
                    achievement_id=achievement,
                    seller_organization_id=item.owner_id,
                    transferee_organization_id=buyer,
                    title=item.title,
                    transferee_name=transferee.name,
                    price_fen=yuan_to_fen(Decimal(total)),
                    starts_on=starts,
                    ends_on=rules.notice_end(starts, rules.AGREED.notice_days),
                    rule=rules.AGREED.code,
                )
            )
            session.commit()
    finally:
        engine.dispose()


async def test_demo_started_the_readme_way_takes_a_milestone_payment(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    proc = start("start", ["serve", "--migrate", "--demo", "--port", str(port)], _embedded_env(data_dir), tmp_path)
    base = f"http://127.0.0.1:{port}"
    with stopping(proc):
        wait_ready(proc, f"{base}/readyz", timeout=120)
        buyer_org, achievement = _ids(data_dir / "techmarket.db")
        async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as api:
            h = await headers_of(api)
            body = transfer_contract(achievement, buyer_org)
            _noticed(data_dir / "techmarket.db", achievement, buyer_org, body["total"])
            reply = await api.post("/api/v1/contracts", json=body, headers=h["seller"])
            assert reply.status_code == 201, reply.text
            cid, milestone = reply.json()["id"], reply.json()["milestones"][0]["id"]
            for side in ("seller", "buyer"):
                assert (await api.post(f"/api/v1/contracts/{cid}/sign", headers=h[side])).status_code == 200

            paid = await api.post(f"/api/v1/contracts/{cid}/milestones/{milestone}/pay", headers=h["buyer"])
            assert paid.status_code == 200, f"{paid.text}\n{proc.log_tail()}"

            deadline = time.monotonic() + PAY_TIMEOUT
            status = ""
            while time.monotonic() < deadline:
                contract = (await api.get(f"/api/v1/contracts/{cid}", headers=h["buyer"])).json()
                status = contract["milestones"][0]["status"]
                if status == "paid":
                    break
                await asyncio.sleep(0.1)
            assert status == "paid", f"milestone still {status!r}:\n{proc.log_tail()}"
            assert paid.json()["amount"] == "300000.00"
