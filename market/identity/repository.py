"""Every identity query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.identity.models import ApiKey, Organization, OrganizationKind, OrganizationStatus, User


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: Organization | User | ApiKey) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def organization(self, organization_id: int) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def organization_clashing(self, name: str, uscc: str) -> Organization | None:
        statement = select(Organization).where(or_(Organization.name == name, Organization.uscc == uscc)).limit(1)
        return (await self.session.execute(statement)).scalars().first()

    async def organizations(
        self,
        *,
        status: OrganizationStatus | None = None,
        kind: OrganizationKind | None = None,
        region_prefix: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[Sequence[Organization], int]:
        statement = select(Organization)
        if status is not None:
            statement = statement.where(Organization.status == status)
        if kind is not None:
            statement = statement.where(Organization.kind == kind)
        if region_prefix:
            statement = statement.where(Organization.region.startswith(region_prefix))  # type: ignore[attr-defined]
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(Organization.id).offset(offset).limit(limit)  # type: ignore[arg-type]
        return (await self.session.execute(page)).scalars().all(), total

    async def user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        statement = select(User).where(User.email == email.lower())
        return (await self.session.execute(statement)).scalars().first()

    async def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        statement = select(ApiKey).where(ApiKey.prefix == prefix)
        return (await self.session.execute(statement)).scalars().first()

    async def api_key(self, key_id: int) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def api_keys_of(self, user_id: int) -> Sequence[ApiKey]:
        statement = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)  # type: ignore[arg-type]
        return (await self.session.execute(statement)).scalars().all()
