"""Every identity query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.pagination import paged
from market.identity.models import ApiKey, LoginThrottle, Organization, OrganizationKind, OrganizationStatus, User


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: Organization | User | ApiKey) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def organization(self, organization_id: int) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def organization_clashing(self, name: str, uscc: str) -> Organization | None:
        statement = (
            select(Organization).where(or_(col(Organization.name) == name, col(Organization.uscc) == uscc)).limit(1)
        )
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
            statement = statement.where(col(Organization.status) == status)
        if kind is not None:
            statement = statement.where(col(Organization.kind) == kind)
        if region_prefix:
            statement = statement.where(col(Organization.region).startswith(region_prefix))
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        page = statement.order_by(col(Organization.id)).offset(offset).limit(limit)
        return (await self.session.execute(page)).scalars().all(), total

    async def user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        statement = select(User).where(col(User.email) == email.lower())
        return (await self.session.execute(statement)).scalars().first()

    async def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        statement = select(ApiKey).where(col(ApiKey.prefix) == prefix)
        return (await self.session.execute(statement)).scalars().first()

    async def api_key(self, key_id: int) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def api_keys_of(self, user_id: int, offset: int, limit: int) -> tuple[list[ApiKey], int]:
        statement = select(ApiKey).where(col(ApiKey.user_id) == user_id).order_by(col(ApiKey.id))
        return await paged(self.session, statement, offset, limit)


_THROTTLE = LoginThrottle.__table__  # type: ignore[attr-defined]


class LoginThrottleRepository:
    """The login throttle's buckets: each change is one statement, atomic on both dialects."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, intervals: dict[str, float], *, now: float, window: float) -> set[str]:
        """Spends one attempt from each key's bucket that can afford it; the keys spent from.

        One upsert for all keys (a key's interval travels as its inserted ``busy_until - now``), whose
        update only applies under its WHERE: concurrent attempts on a key queue on its row
        (PostgreSQL, rows locked in the order given) or on the write lock (SQLite), so no two can
        spend the last attempt, and the hot row is held for one statement and the commit.
        """
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        rows = insert(_THROTTLE).values(
            [{"key": key, "busy_until": now + interval, "refused": 0} for key, interval in intervals.items()]
        )
        start = case((_THROTTLE.c.busy_until > now, _THROTTLE.c.busy_until), else_=now)
        then = start + (rows.excluded.busy_until - now)
        statement = rows.on_conflict_do_update(
            index_elements=[_THROTTLE.c.key], set_={"busy_until": then, "refused": 0}, where=then <= now + window
        ).returning(_THROTTLE.c.key)
        return set((await self.session.execute(statement)).scalars())

    async def refuse(self, key: str) -> tuple[float, int]:
        """Counts a refused attempt: (busy_until, refusals since the last allowed attempt)."""
        statement = (
            update(_THROTTLE)
            .where(_THROTTLE.c.key == key)
            .values(refused=_THROTTLE.c.refused + 1)
            .returning(_THROTTLE.c.busy_until, _THROTTLE.c.refused)
        )
        busy_until, refused = (await self.session.execute(statement)).one()
        return float(busy_until), int(refused)

    async def give_back(self, key: str, interval: float) -> None:
        await self.session.execute(
            update(_THROTTLE).where(_THROTTLE.c.key == key).values(busy_until=_THROTTLE.c.busy_until - interval)
        )

    async def forget(self, key: str) -> None:
        await self.session.execute(delete(_THROTTLE).where(_THROTTLE.c.key == key))

    async def prune(self, now: float, limit: int = 100) -> None:
        """Drops up to ``limit`` full buckets (their rows say nothing), skipping rows another login holds."""
        stale = (
            select(_THROTTLE.c.key).where(_THROTTLE.c.busy_until < now).limit(limit).with_for_update(skip_locked=True)
        )
        await self.session.execute(delete(_THROTTLE).where(_THROTTLE.c.key.in_(stale.scalar_subquery())))
