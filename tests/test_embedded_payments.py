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
from pathlib import Path

import httpx

from market.demo import DEMO_ORGANIZATIONS
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
            reply = await api.post(
                "/api/v1/contracts", json=transfer_contract(achievement, buyer_org), headers=h["seller"]
            )
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
