"""Organizations, users and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, str_enum, utcnow


class OrganizationKind(StrEnum):
    university = "university"
    institute = "institute"
    enterprise = "enterprise"
    agency = "agency"
    government = "government"


class OrganizationStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    suspended = "suspended"


class Role(StrEnum):
    member = "member"
    org_admin = "org_admin"
    platform_admin = "platform_admin"
    region_admin = "region_admin"


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=64, unique=True)
    kind: OrganizationKind = Field(sa_type=str_enum(OrganizationKind, 16), nullable=False)
    name: str = Field(max_length=200, unique=True)
    uscc: str | None = Field(
        default=None, max_length=18, unique=True, description="统一社会信用代码 (null only for registry imports)"
    )
    region: str = Field(max_length=6, index=True, description="GB/T 2260")
    status: OrganizationStatus = Field(
        default=OrganizationStatus.pending, sa_type=str_enum(OrganizationStatus, 16), nullable=False, index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    full_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.member, sa_type=str_enum(Role, 16), nullable=False)
    organization_id: int | None = Field(default=None, foreign_key="organizations.id", index=True, ondelete="RESTRICT")
    region_scope: str | None = Field(default=None, max_length=6, description="盟市 code of a region admin")
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=8, unique=True)
    digest: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """A token bucket of failed logins per key (``account:<email>``, ``address:<client>``), one row each.

    ``busy_until`` (epoch seconds) is when the bucket would be full again: each attempt moves it
    window/limit seconds on from max(itself, now), and an attempt that would put it more than a
    window ahead is refused. One row per key, changed by single atomic statements, so every API
    process and host shares it. A row whose ``busy_until`` has passed says nothing and may go.
    """

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=300)
    busy_until: float = Field(index=True)
    refused: int = Field(default=0, description="attempts refused since the last one allowed (the first is audited)")
