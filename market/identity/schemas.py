from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.validators import USCC, Email, Password, PrefectureCode, RegionCode
from market.identity.models import OrganizationKind, OrganizationStatus, Role


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OrganizationKind
    name: str = Field(min_length=2, max_length=200)
    uscc: USCC
    region: RegionCode
    external_id: str | None = Field(default=None, max_length=64)


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    full_name: str = Field(min_length=1, max_length=100)
    password: Password


class RegistrationCreate(BaseModel):
    """Self-registration: the organization and its first administrator, pending review."""

    model_config = ConfigDict(extra="forbid")

    organization: OrganizationCreate
    admin: AccountCreate


class MemberCreate(AccountCreate):
    role: Role = Role.member


class RegionAdminCreate(AccountCreate):
    region_scope: PrefectureCode


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    kind: OrganizationKind
    name: str
    uscc: str | None
    region: str
    status: OrganizationStatus
    created_at: datetime
    verified_at: datetime | None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    organization_id: int | None
    region_scope: str | None
    is_active: bool
    created_at: datetime


class RegistrationRead(BaseModel):
    organization: OrganizationRead
    admin: UserRead


class OrganizationPage(BaseModel):
    items: list[OrganizationRead]
    total: int


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="完整密钥, 只显示这一次")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]
    total: int
