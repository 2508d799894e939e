"""`techmarket demo` also loads years of registered 【演示】 contracts: spread over the 盟市, types and
fields, counted by the statistics like any other, deterministic, and loaded once."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import select
from sqlmodel import col

from contracts.contract.models import Contract, ContractType
from contracts.statistics.demo import DEMO_MARK, YEARS, load_statistics_demo
from contracts.statistics.dimensions import china_today
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from market.identity.models import Organization
from tests.fixtures.app import login

Row = tuple[str, str, ContractType, str | None, int, datetime]


async def _demo_contracts(database: Database) -> list[Row]:
    async with database.unit_of_work() as session:
        rows = (
            await session.execute(
                select(Contract)
                .where(col(Contract.title).startswith(DEMO_MARK))
                .order_by(col(Contract.registered_at), col(Contract.id))
            )
        ).scalars()
        return [
            (c.seller_region, c.buyer_region, c.type, c.field, c.total_fen, c.registered_at)
            for c in rows
            if c.registered_at
        ]


async def test_demo_contracts_fill_the_statistics(client: httpx.AsyncClient, database: Database) -> None:
    async with database.unit_of_work() as session:
        created = await load_statistics_demo(session)
    assert len(created) == 1 and DEMO_MARK in created[0]
    async with database.unit_of_work() as session:
        assert await load_statistics_demo(session) == []  # loaded once
        parties = await session.execute(select(Organization).where(col(Organization.name).startswith(DEMO_MARK)))
        assert len(parties.scalars().all()) == 12 * 2 + 3
    facts = await _demo_contracts(database)
    this_year = china_today().year
    assert {r[5].year for r in facts} == set(range(this_year - YEARS + 1, this_year + 1))
    assert len({r[0] for r in facts if r[0].startswith("15")}) == 12  # every 盟市 sells
    assert {r[2] for r in facts} == set(ContractType) and len({r[3] for r in facts}) >= 8

    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    verify = await client.get("/api/v1/statistics/rollups/verify", headers=admin)
    assert verify.json()["consistent"] is True
    last = this_year - 1
    table = (
        await client.get(
            "/api/v1/statistics/crosstab",
            params={"rows": "region", "columns": "type", "year": last, "unit": "wan"},
            headers=admin,
        )
    ).json()
    busy = [r for r in table["items"] if r["total"]["contracts"]]
    in_province = [r for r in facts if r[5].year == last and r[0].startswith("15")]
    assert len(busy) >= 8 and table["overall"]["contracts"] == len(in_province)
    series = (await client.get("/api/v1/statistics/series", headers=admin)).json()
    platform = [p for p in series["items"] if p["source"] == "platform"]
    assert [p["year"] for p in platform] == list(range(this_year - YEARS + 1, this_year + 1))
    assert platform[1]["yoy_growth"] is not None and series["year_to_date"]["growth"] is not None

    # Deterministic: the same contracts again once they are removed (serials aside).
    async with database.unit_of_work() as session:
        for contract in (
            await session.execute(select(Contract).where(col(Contract.title).startswith(DEMO_MARK)))
        ).scalars():
            await session.delete(contract)
    async with database.unit_of_work() as session:
        await load_statistics_demo(session)
    assert await _demo_contracts(database) == facts
