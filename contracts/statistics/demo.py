"""Demo statistics: a few years of registered technology contracts across the 12 盟市, every contract
type and 技术领域, so trends, flows and cross-tabs look like what a statistics office sees.

Everything here is demo data and says so: organization names and contract titles start with 【演示】.
Deterministic (a fixed seed; years counted back from the current one). Registration numbers come from
the same per-region counters as real registrations, so real ones never collide with them. Loaded by
``techmarket demo`` (not by the test fixtures' demo); idempotent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import SUBTYPES, Contract, ContractStatus, ContractType
from contracts.contract.registration_repository import RegistrationRepository
from contracts.statistics.dimensions import CHINA, china_today
from core.reference import USCC_CHARSET, fields, regions, uscc_check_char
from market.identity.models import Organization, OrganizationKind, OrganizationStatus

T = TypeVar("T")
DEMO_MARK = "【演示】"
SEED = 2026
YEARS = 3  # this year and the two before it (the official figures stay visible for the years before)
FIRST_YEAR_CONTRACTS = 40
GROWTH = 1.22
# Where contracts are sold from (输出): the larger 盟市 weigh more.
SELLER_WEIGHTS = {"150100": 9, "150200": 8, "150600": 6, "150400": 4, "150500": 3, "150700": 2}
OUTSIDE = (
    ("110000", "北京", OrganizationKind.agency),
    ("320000", "江苏", OrganizationKind.enterprise),
    ("610000", "陕西", OrganizationKind.institute),
)
TYPE_WEIGHTS = {
    ContractType.development: 35,
    ContractType.service: 30,
    ContractType.transfer: 15,
    ContractType.license: 10,
    ContractType.consulting: 10,
}
FIELD_WEIGHTS = {"new_materials": 6, "new_energy": 6, "agriculture": 5, "advanced_manufacturing": 4, "environment": 3}
SELLER_KINDS = (OrganizationKind.university, OrganizationKind.institute, OrganizationKind.enterprise)
SELLER_NAMES = {
    OrganizationKind.university: "科技大学",
    OrganizationKind.institute: "技术研究院",
    OrganizationKind.enterprise: "高新技术有限公司",
}


def _uscc(index: int, region: str, kind: OrganizationKind) -> str:
    head = "91" if kind in (OrganizationKind.enterprise, OrganizationKind.agency) else "12"
    body = f"{head}{region}MK{index:07d}"
    assert all(c in USCC_CHARSET for c in body)
    return body + uscc_check_char(body)


async def _organization(session: AsyncSession, index: int, name: str, region: str, kind: OrganizationKind) -> int:
    found = (await session.execute(select(Organization).where(col(Organization.name) == name))).scalars().first()
    if found is None:
        found = Organization(
            name=name,
            region=region,
            kind=kind,
            uscc=_uscc(index, region, kind),
            status=OrganizationStatus.verified,
            verified_at=datetime.now(UTC),
        )
        session.add(found)
        await session.flush()
    return found.id or 0


def _weighted(rng: random.Random, weights: Mapping[T, int], others: Sequence[T]) -> T:
    keys = list(dict.fromkeys([*weights, *others]))
    return rng.choices(keys, weights=[weights.get(k, 1) for k in keys])[0]


async def load_statistics_demo(session: AsyncSession) -> list[str]:
    """Creates the demo parties and contracts unless a 【演示】 contract exists; returns what it made."""
    exists = await session.execute(select(col(Contract.id)).where(col(Contract.title).startswith(DEMO_MARK)).limit(1))
    if exists.first() is not None:
        return []
    rng = random.Random(SEED)
    prefectures = {c: r.name_zh for c, r in regions().items() if r.is_prefecture and c.startswith("15")}
    sellers: dict[int, tuple[str, OrganizationKind]] = {}
    buyers: dict[int, tuple[str, OrganizationKind]] = {}
    for i, (code, name) in enumerate(sorted(prefectures.items())):
        kind = SELLER_KINDS[i % len(SELLER_KINDS)]
        sellers[await _organization(session, 2 * i, f"{DEMO_MARK}{name}{SELLER_NAMES[kind]}", code, kind)] = (
            code,
            kind,
        )
        enterprise = OrganizationKind.enterprise
        buyers[await _organization(session, 2 * i + 1, f"{DEMO_MARK}{name}示范企业", code, enterprise)] = (
            code,
            enterprise,
        )
    for j, (code, name, kind) in enumerate(OUTSIDE):
        org_id = await _organization(session, 100 + j, f"{DEMO_MARK}{name}技术合作单位", code, kind)
        sellers[org_id] = buyers[org_id] = (code, kind)

    today = china_today()
    this_year = today.year
    field_codes = list(fields())
    serials = RegistrationRepository(session)
    made = 0
    for offset in range(YEARS - 1, -1, -1):
        year = this_year - offset
        months = 12 if year < this_year else today.month
        count = round(FIRST_YEAR_CONTRACTS * GROWTH ** (YEARS - 1 - offset) * months / 12)
        seller_ids = list(sellers)
        seller_weights = [SELLER_WEIGHTS.get(sellers[s][0], 1) for s in seller_ids]
        for _ in range(count):
            seller = rng.choices(seller_ids, weights=seller_weights)[0]
            buyer = rng.choice([b for b in buyers if b != seller])
            if rng.random() < 0.3:  # a third stay in the seller's own 盟市
                buyer = next(
                    (b for b, (code, _) in buyers.items() if code == sellers[seller][0] and b != seller), buyer
                )
            month = rng.randint(1, months)
            last_day = today.day if (year, month) == (this_year, today.month) else 28
            registered_on = date(year, month, rng.randint(1, max(1, last_day)))
            registered = datetime(year, month, registered_on.day, 10, tzinfo=CHINA).astimezone(UTC)
            contract_type = _weighted(rng, TYPE_WEIGHTS, list(ContractType))
            field = _weighted(rng, FIELD_WEIGHTS, field_codes)
            total_fen = round(math.exp(rng.uniform(math.log(50_000), math.log(20_000_000)))) * 100 + rng.randint(0, 99)
            income_fen = total_fen * rng.randint(70, 100) // 100
            serial = await serials.next_serial(sellers[seller][0], year)
            session.add(
                Contract(
                    title=f"{DEMO_MARK}{prefectures.get(sellers[seller][0], '区外')}"
                    f"{fields()[field].name_zh}技术合同 {year}-{serial:04d}",
                    type=contract_type,
                    subtype=rng.choice(sorted(SUBTYPES[contract_type])),
                    field=field,
                    seller_org_id=seller,
                    buyer_org_id=buyer,
                    seller_region=sellers[seller][0],
                    buyer_region=buyers[buyer][0],
                    seller_kind=sellers[seller][1],
                    buyer_kind=buyers[buyer][1],
                    total_fen=total_fen,
                    technology_income_fen=income_fen,
                    signed_on=registered_on - timedelta(days=rng.randint(5, 40)),
                    status=ContractStatus.completed
                    if offset >= 1 and rng.random() < 0.6
                    else ContractStatus.registered,
                    registered_at=registered,
                    registration_number=f"{year:04d}{sellers[seller][0]}{serial:06d}",
                )
            )
            made += 1
        await session.flush()
    return [f"{made} 份演示登记合同 ({DEMO_MARK}; {this_year - YEARS + 1}-{this_year} 年, 12 个盟市及区外)"]
