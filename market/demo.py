"""Market demo data: a platform admin, a 盟市 admin, organizations of every kind, listings (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.reference import USCC_CHARSET, uscc_check_char
from core.settings import Settings
from market.identity.models import OrganizationKind, OrganizationStatus, Role
from market.identity.repository import IdentityRepository
from market.identity.schemas import MemberCreate, OrganizationCreate, RegionAdminCreate
from market.identity.service import IdentityService, Principal

DEMO_PASSWORD = "Demo2026-techmarket"
PLATFORM_ADMIN_EMAIL = "admin@demo.techmarket.cn"


@dataclass(frozen=True)
class DemoOrganization:
    name: str
    kind: OrganizationKind
    region: str
    status: OrganizationStatus
    admin_email: str


DEMO_ORGANIZATIONS = (
    DemoOrganization(
        "演示大学 (内蒙古)",
        OrganizationKind.university,
        "150100",
        OrganizationStatus.verified,
        "univ@demo.techmarket.cn",
    ),
    DemoOrganization(
        "演示稀土研究院",
        OrganizationKind.institute,
        "150200",
        OrganizationStatus.verified,
        "institute@demo.techmarket.cn",
    ),
    DemoOrganization(
        "演示乳业科技有限公司",
        OrganizationKind.enterprise,
        "150100",
        OrganizationStatus.verified,
        "enterprise@demo.techmarket.cn",
    ),
    DemoOrganization(
        "演示能源集团有限公司",
        OrganizationKind.enterprise,
        "150600",
        OrganizationStatus.verified,
        "energy@demo.techmarket.cn",
    ),
    DemoOrganization(
        "演示技术转移中心", OrganizationKind.agency, "150200", OrganizationStatus.verified, "agency@demo.techmarket.cn"
    ),
    DemoOrganization(
        "演示新材料有限公司 (待审核)",
        OrganizationKind.enterprise,
        "150900",
        OrganizationStatus.pending,
        "pending@demo.techmarket.cn",
    ),
)
REGION_ADMIN = ("baotou-admin@demo.techmarket.cn", "150200")


def demo_uscc(index: int, region: str) -> str:
    """A well-formed code with a valid check character (not any real organization's)."""
    body = f"91{region}" + "".join(USCC_CHARSET[(index * 7 + i * 3) % 31] for i in range(8)) + "D"
    return body[:17] + uscc_check_char(body[:17])


DEMO_DATA = Path(__file__).with_name("demo_data")


async def load_demo_listings(database: Database) -> list[str]:
    """The demo achievements and demands, published, through the same path as a registry import."""
    from market.listings.files import read_rows
    from market.listings.importer import Importer
    from market.listings.kinds import ACHIEVEMENT, DEMAND

    created = []
    for kind, name in ((ACHIEVEMENT, "achievements.jsonl"), (DEMAND, "demands.jsonl")):
        rows = read_rows(name, (DEMO_DATA / name).read_bytes())
        report = await Importer(database, kind).run(rows, publish=True, create_organizations=True)
        if report.errors:
            raise RuntimeError(f"demo data {name} has bad rows: {report.errors[:3]}")
        if report.created:
            created.append(f"{kind.label_zh} {report.created} 条 (新建单位 {report.organizations_created} 个)")
    return created


async def load_market_demo(session: AsyncSession, settings: Settings) -> list[str]:
    """Create whatever demo accounts are missing; returns what was created, for the CLI to print."""
    identity = IdentityService(session, settings)
    repository = IdentityRepository(session)
    created: list[str] = []
    admin, new = await identity.ensure_platform_admin(PLATFORM_ADMIN_EMAIL, DEMO_PASSWORD, "演示平台管理员")
    if new:
        created.append(f"平台管理员 {PLATFORM_ADMIN_EMAIL}")
    acting = Principal(user=admin, organization=None)
    if await repository.user_by_email(REGION_ADMIN[0]) is None:
        await identity.create_region_admin(
            acting,
            RegionAdminCreate(
                email=REGION_ADMIN[0],
                full_name="包头市科技局演示管理员",
                password=DEMO_PASSWORD,
                region_scope=REGION_ADMIN[1],
            ),
        )
        created.append(f"盟市管理员 {REGION_ADMIN[0]}")
    for index, demo in enumerate(DEMO_ORGANIZATIONS, start=1):
        if await repository.organization_clashing(demo.name, demo_uscc(index, demo.region)):
            continue
        organization = await identity.create_organization(
            acting,
            OrganizationCreate(
                kind=demo.kind,
                name=demo.name,
                uscc=demo_uscc(index, demo.region),
                region=demo.region,
                external_id=f"DEMO-ORG-{index}",
            ),
            status=demo.status,
        )
        await identity.add_member(
            acting,
            organization.id or 0,
            MemberCreate(
                email=demo.admin_email, full_name=f"{demo.name}管理员", password=DEMO_PASSWORD, role=Role.org_admin
            ),
        )
        created.append(f"单位 {demo.name} ({demo.status.value}), 管理员 {demo.admin_email}")
    return created
