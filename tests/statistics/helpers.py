"""Contracts written straight through the ORM (no dependency on the contracts API's timing), and the
plain SQL the statistics are checked against."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import SUBTYPES, Contract, ContractAchievement, ContractStatus, ContractType
from contracts.statistics.dimensions import china_today
from core.db import Database
from core.reference import USCC_CHARSET, fields, uscc_check_char
from market.demo import DEMO_ORGANIZATIONS
from market.identity.models import Organization, OrganizationKind, OrganizationStatus
from market.listings.models import Achievement, IpType, ListingStatus, Maturity

THIS_YEAR = china_today().year
LAST_YEAR = THIS_YEAR - 1
COUNTED = ("registered", "performing", "completed")


@dataclass
class Orgs:
    ids: dict[str, int]  # name → id
    regions: dict[int, str]


def _uscc(seed: int, region: str) -> str:
    body = f"91{region}" + "".join(USCC_CHARSET[(seed * 11 + i * 5) % 31] for i in range(8)) + "E"
    return body[:17] + uscc_check_char(body[:17])


async def organizations(database: Database) -> Orgs:
    """The verified demo organizations plus one in Beijing and one abroad (region 990840, USA)."""
    async with database.unit_of_work() as session:
        extra = [
            ("北京测试企业", "110000", OrganizationKind.enterprise),
            ("Test Corp (USA)", "990840", OrganizationKind.enterprise),
        ]
        for i, (name, region, kind) in enumerate(extra, start=1):
            if (
                await session.execute(select(Organization).where(Organization.name == name))
            ).scalar_one_or_none() is None:
                session.add(
                    Organization(
                        name=name,
                        region=region,
                        kind=kind,
                        uscc=_uscc(i, region if region[0] != "9" else "110000"),
                        status=OrganizationStatus.verified,
                    )
                )
        await session.flush()
        names = [o.name for o in DEMO_ORGANIZATIONS if o.status == OrganizationStatus.verified] + [
            n for n, _, _ in extra
        ]
        rows = (await session.execute(select(Organization).where(Organization.name.in_(names)))).scalars().all()  # type: ignore[attr-defined]
        return Orgs({o.name: o.id or 0 for o in rows}, {o.id or 0: o.region for o in rows})


async def achievement(session: AsyncSession, owner_id: int, ip_type: IpType) -> int:
    item = Achievement(
        owner_id=owner_id,
        status=ListingStatus.published,
        title=f"测试成果 {ip_type.value}",
        field="new_materials",
        region="150200",
        summary="用于统计测试的成果。",
        maturity=Maturity.pilot,
        trl=6,
        ip_type=ip_type,
    )
    session.add(item)
    await session.flush()
    return item.id or 0


def contract_row(
    orgs: Orgs,
    seller: int,
    buyer: int,
    *,
    status: ContractStatus = ContractStatus.registered,
    total_fen: int = 100_000_00,
    income_fen: int | None = None,
    registered_at: datetime | None = None,
    type: ContractType = ContractType.transfer,
    field: str | None = "new_materials",
    seq: int = 0,
) -> Contract:
    from market.identity.models import OrganizationKind as K

    kinds = {o.name: o.kind for o in DEMO_ORGANIZATIONS}
    name_of = {v: k for k, v in orgs.ids.items()}
    kind = lambda org_id: kinds.get(name_of[org_id], K.enterprise)  # noqa: E731
    counted = status.value in COUNTED
    when = registered_at or datetime(THIS_YEAR, 3, 15, 2, tzinfo=UTC)
    return Contract(
        title=f"统计测试合同 {seq}",
        type=type,
        subtype=sorted(SUBTYPES[type])[0],
        field=field,
        seller_org_id=seller,
        buyer_org_id=buyer,
        seller_region=orgs.regions[seller],
        buyer_region=orgs.regions[buyer],
        seller_kind=kind(seller),
        buyer_kind=kind(buyer),
        total_fen=total_fen,
        technology_income_fen=total_fen * 9 // 10 if income_fen is None else income_fen,
        signed_on=(when - timedelta(days=10)).date(),
        status=status,
        registered_at=when if counted or status == ContractStatus.terminated else None,
        registration_number=f"{when.year:04d}{orgs.regions[seller]}{700000 + seq:06d}"
        if counted or status == ContractStatus.terminated
        else None,
    )


async def random_contracts(database: Database, orgs: Orgs, count: int, seed: int = 7) -> list[int]:
    """A mix of statuses, types, fields, regions (in 盟市, out of province, abroad), dates around
    new year's midnight in China, and achievements of different IP types."""
    rng = random.Random(seed)
    ids = list(orgs.ids.values())
    statuses = [ContractStatus.registered] * 4 + [
        ContractStatus.performing,
        ContractStatus.completed,
        ContractStatus.draft,
        ContractStatus.signed,
        ContractStatus.terminated,
    ]
    field_codes = [*fields(), None]
    made: list[int] = []
    async with database.unit_of_work() as session:
        owner = orgs.ids["演示稀土研究院"]
        ach = {
            ip: await achievement(session, owner, ip)
            for ip in (IpType.invention_patent, IpType.software_copyright, IpType.know_how)
        }
        for seq in range(count):
            seller, buyer = rng.sample(ids, 2)
            # 2.5% of moments straddle new year in China: 31 Dec 16:xx UTC is 1 Jan in China.
            if seq % 8 == 0:
                when = datetime(LAST_YEAR, 12, 31, 16, rng.randint(0, 59), tzinfo=UTC)
            else:
                when = datetime(
                    rng.choice([LAST_YEAR, THIS_YEAR]),
                    rng.randint(1, 12),
                    rng.randint(1, 28),
                    rng.randint(0, 23),
                    tzinfo=UTC,
                )
            contract = contract_row(
                orgs,
                seller,
                buyer,
                status=rng.choice(statuses),
                total_fen=rng.randint(1, 5_000_000_00) + rng.randint(0, 99),
                registered_at=when,
                type=rng.choice(list(ContractType)),
                field=rng.choice(field_codes),
                seq=seq + 1,
            )
            contract.technology_income_fen = rng.randint(0, contract.total_fen)
            session.add(contract)
            await session.flush()
            links = rng.sample(list(ach.values()), rng.randint(0, 2))
            session.add_all([ContractAchievement(contract_id=contract.id or 0, achievement_id=a) for a in links])
            await session.flush()
            made.append(contract.id or 0)
    return made


def month_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "to_char(c.registered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
    return "strftime('%Y-%m', c.registered_at, '+8 hours')"


async def plain_group_by(
    database: Database, key_sql: str, *, region_column: str, prefix: str, since: date, until: date
) -> dict[str, tuple[int, int, int]]:
    """SELECT key, COUNT, SUM(total), SUM(income) FROM contracts GROUP BY key — the yardstick."""
    lo = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(hours=8)  # China midnight
    hi = datetime(until.year, until.month, until.day, tzinfo=UTC) - timedelta(hours=8)
    async with database.unit_of_work() as session:
        rows = await session.execute(
            text(
                f"SELECT {key_sql} AS k, COUNT(*), SUM(c.total_fen), SUM(c.technology_income_fen) FROM contracts c "
                f"WHERE c.status IN {COUNTED} AND c.{region_column} LIKE :prefix "
                "AND c.registered_at >= :lo AND c.registered_at < :hi "
                "GROUP BY 1"
            ),
            {"prefix": f"{prefix}%", "lo": _bound(database, lo), "hi": _bound(database, hi)},
        )
        return {str(k): (int(n), int(t), int(i)) for k, n, t, i in rows}


def _bound(database: Database, moment: datetime) -> object:
    # SQLite keeps UTC datetimes as naive text: compare like with like.
    return moment if database.dialect == "postgresql" else moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def as_fen(text_yuan: str) -> int:
    whole, _, cents = text_yuan.partition(".")
    assert len(cents) == 2, text_yuan
    return int(whole) * 100 + int(cents)


def api_cells(body: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {
        i["key"]: (i["contracts"], as_fen(i["turnover"]), as_fen(i["technology_income"]))
        for i in body["items"]
        if i["contracts"]
    }
