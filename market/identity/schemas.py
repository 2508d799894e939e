from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.pagination import Page
from core.validators import USCC, Email, Password, PrefectureCode, RegionCode
from core.visibility import Classified, Org, Public, Subject
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


class OrganizationRead(Classified):
    """The directory entry: public register data (name, 统一社会信用代码, region); the import key is internal."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    external_id: Org[str | None]
    kind: Public[OrganizationKind]
    name: Public[str]
    uscc: Public[str | None]
    region: Public[str]
    status: Public[OrganizationStatus]
    created_at: Public[datetime]
    verified_at: Public[datetime | None]

    def visibility_subject(self) -> Subject:
        return Subject(owner=self.id, regions=(self.region,))


class UserRead(Classified):
    """A person's account: only its organization, the person and the platform admin see who it is."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    email: Org[str]
    full_name: Org[str]
    role: Org[Role]
    organization_id: Public[int | None]
    region_scope: Org[str | None]
    is_active: Org[bool]
    created_at: Org[datetime]

    def visibility_subject(self) -> Subject:
        return Subject(owner=self.organization_id, user=self.id)


class RegistrationRead(Classified):
    organization: Public[OrganizationRead]
    admin: Public[UserRead]


class OrganizationPage(Page[OrganizationRead]):
    pass


class Token(Classified):
    """Answered only to whoever just proved the password."""

    access_token: Public[str]
    token_type: Public[str] = "bearer"
    expires_in: Public[int]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class ApiKeyRead(Classified):
    """An organization's key (its subject is named by the endpoint: the caller's own organization)."""

    model_config = ConfigDict(from_attributes=True)

    id: Public[int]
    name: Org[str]
    prefix: Org[str]
    created_at: Org[datetime]
    last_used_at: Org[datetime | None]
    revoked_at: Org[datetime | None]


class ApiKeyCreated(ApiKeyRead):
    key: Org[str] = Field(description="完整密钥, 只显示这一次")


class ApiKeyPage(Page[ApiKeyRead]):
    pass
