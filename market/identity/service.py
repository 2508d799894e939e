"""Identity rules: who an organization is, who may act for it, and how callers prove who they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import reference, security
from core.settings import Settings
from core.types import utcnow
from core.visibility import Viewer
from market.identity import errors
from market.identity.models import ApiKey, Organization, OrganizationKind, OrganizationStatus, Role, User
from market.identity.repository import IdentityRepository
from market.identity.schemas import (
    AccountCreate,
    MemberCreate,
    OrganizationCreate,
    RegionAdminCreate,
    RegistrationCreate,
)


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user, and the organization they act for (none for admins)."""

    user: User
    organization: Organization | None
    via_api_key: bool = False

    @property
    def is_platform_admin(self) -> bool:
        return self.user.role == Role.platform_admin

    @property
    def region_scope(self) -> str | None:
        return self.user.region_scope if self.user.role == Role.region_admin else None

    @property
    def viewer(self) -> Viewer:
        """This caller as the response layer's field classification sees it."""
        return Viewer(
            user_id=self.user.id,
            organization_id=self.organization.id if self.organization is not None else None,
            platform_admin=self.is_platform_admin,
            region_scope=self.region_scope,
        )

    def governs_region(self, region_code: str) -> bool:
        """Platform admins govern everything; region admins their 盟市."""
        if self.is_platform_admin:
            return True
        scope = self.region_scope
        return scope is not None and reference.region_contains(scope, region_code)

    def belongs_to(self, organization_id: int) -> bool:
        return self.organization is not None and self.organization.id == organization_id

    def require_platform_admin(self) -> None:
        if not self.is_platform_admin:
            raise errors.NotPlatformAdmin()

    def require_member_of(self, organization_id: int) -> None:
        if not self.belongs_to(organization_id):
            raise errors.OtherOrganization()

    def require_can_publish(self) -> Organization:
        """The caller's organization, if it is verified: pending or suspended ones cannot publish."""
        if self.organization is None:
            raise errors.OtherOrganization("平台或区域管理员账号不代表任何单位, 不能发布")
        self.require_may_write()
        return self.organization

    def require_may_write(self, *, pending_allowed: bool = False) -> None:
        """The one write guard, applied to every write request by the principal dependency.

        A suspended organization writes nothing (its members and API keys may still read); a pending
        one only what ``pending_allowed`` routes offer (its own drafts). Admin accounts have no
        organization and are not concerned.
        """
        status = self.organization.status if self.organization is not None else None
        if status == OrganizationStatus.suspended:
            raise errors.OrganizationSuspended()
        if status == OrganizationStatus.pending and not pending_allowed:
            raise errors.OrganizationNotVerified()

    def may_act_for(self, organization: Organization) -> bool:
        """Whether rows may be attached to ``organization`` on this caller's word (imports).

        Platform admins: any organization; region admins: those whose own region is in their 盟市;
        an organization's admin: their own. The organization must also be verified (checked apart,
        so the refusal can say which rule failed).
        """
        if self.is_platform_admin:
            return True
        if self.region_scope is not None:
            return self.governs_region(organization.region)
        return self.user.role == Role.org_admin and self.belongs_to(organization.id or 0)


class IdentityService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repository = IdentityRepository(session)
        self.settings = settings

    # --- organizations -------------------------------------------------------------------------

    async def register(self, data: RegistrationCreate) -> tuple[Organization, User]:
        """Self-registration: the organization stays pending until a platform admin verifies it.

        Anyone may call it, so the password is hashed before the first query: no transaction (nor
        SQLite's write lock) waits on argon2.
        """
        password_hash = await security.hash_password(data.admin.password)
        organization = await self._new_organization(data.organization, OrganizationStatus.pending)
        admin = await self._new_user(
            data.admin, Role.org_admin, organization_id=organization.id, password_hash=password_hash
        )
        return organization, admin

    async def create_organization(
        self, principal: Principal, data: OrganizationCreate, status: OrganizationStatus = OrganizationStatus.verified
    ) -> Organization:
        principal.require_platform_admin()
        return await self._new_organization(data, status)

    async def _new_organization(self, data: OrganizationCreate, status: OrganizationStatus) -> Organization:
        if await self.repository.organization_clashing(data.name, data.uscc):
            raise errors.DuplicateOrganization()
        organization = Organization(
            **data.model_dump(), status=status, verified_at=utcnow() if status == OrganizationStatus.verified else None
        )
        try:
            await self.repository.add(organization)
        except IntegrityError as exc:  # a concurrent registration won the race
            raise errors.DuplicateOrganization() from exc
        return organization

    async def get_organization(self, principal: Principal | None, organization_id: int) -> Organization:
        organization = await self.repository.organization(organization_id)
        if organization is None or not self._may_see(principal, organization):
            raise errors.OrganizationNotFound()
        return organization

    @staticmethod
    def _may_see(principal: Principal | None, organization: Organization) -> bool:
        if organization.status == OrganizationStatus.verified:
            return True
        if principal is None:
            return False
        return principal.belongs_to(organization.id or 0) or principal.governs_region(organization.region)

    async def list_organizations(
        self,
        principal: Principal | None,
        *,
        status: OrganizationStatus | None,
        kind: OrganizationKind | None,
        region: str | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[Organization], int]:
        """The public directory lists verified organizations; admins also see the rest of their scope."""
        region_prefix = reference.region_prefix(region) if region else None
        if principal is not None and principal.is_platform_admin:
            pass
        elif principal is not None and principal.region_scope and status != OrganizationStatus.verified:
            scope_prefix = reference.region_prefix(principal.region_scope)
            if region_prefix and not region_prefix.startswith(scope_prefix):
                return [], 0
            region_prefix = region_prefix or scope_prefix
        else:
            status = OrganizationStatus.verified
        return await self.repository.organizations(
            status=status, kind=kind, region_prefix=region_prefix, offset=offset, limit=limit
        )

    async def set_status(self, principal: Principal, organization_id: int, target: OrganizationStatus) -> Organization:
        principal.require_platform_admin()
        organization = await self.repository.organization(organization_id)
        if organization is None:
            raise errors.OrganizationNotFound()
        allowed = {
            OrganizationStatus.verified: {OrganizationStatus.pending, OrganizationStatus.suspended},
            OrganizationStatus.suspended: {OrganizationStatus.pending, OrganizationStatus.verified},
        }
        if organization.status not in allowed.get(target, set()):
            raise errors.InvalidStatusChange(
                detail=f"单位当前状态为 {organization.status.value}, 不能变为 {target.value}",
                allowed_from=sorted(s.value for s in allowed.get(target, set())),
            )
        organization.status = target
        if target == OrganizationStatus.verified:
            organization.verified_at = utcnow()
        await self.repository.add(organization)
        return organization

    # --- users ---------------------------------------------------------------------------------

    async def add_member(self, principal: Principal, organization_id: int, data: MemberCreate) -> User:
        if not principal.is_platform_admin:
            principal.require_member_of(organization_id)
            if principal.user.role != Role.org_admin:
                raise errors.NotOrganizationAdmin()
        if data.role not in (Role.member, Role.org_admin):
            raise errors.NotPlatformAdmin("单位成员只能是普通成员或单位管理员")
        if await self.repository.organization(organization_id) is None:
            raise errors.OrganizationNotFound()
        return await self._new_user(data, data.role, organization_id=organization_id)

    async def create_region_admin(self, principal: Principal, data: RegionAdminCreate) -> User:
        principal.require_platform_admin()
        return await self._new_user(data, Role.region_admin, region_scope=data.region_scope)

    async def ensure_platform_admin(
        self, email: str, password: str, full_name: str = "平台管理员"
    ) -> tuple[User, bool]:
        """Idempotent bootstrap: (user, created). An existing account keeps its password."""
        account = AccountCreate(email=email, password=password, full_name=full_name)
        existing = await self.repository.user_by_email(account.email)
        if existing is not None:
            if existing.role != Role.platform_admin:
                raise errors.DuplicateEmail(detail="该邮箱已属于一个非平台管理员账号")
            return existing, False
        return await self._new_user(account, Role.platform_admin), True

    async def _new_user(
        self,
        data: AccountCreate,
        role: Role,
        *,
        organization_id: int | None = None,
        region_scope: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        if await self.repository.user_by_email(data.email):
            raise errors.DuplicateEmail()
        user = User(
            email=data.email,
            full_name=data.full_name,
            password_hash=password_hash or await security.hash_password(data.password),
            role=role,
            organization_id=organization_id,
            region_scope=region_scope,
        )
        try:
            await self.repository.add(user)
        except IntegrityError as exc:
            raise errors.DuplicateEmail() from exc
        return user

    # --- authentication ------------------------------------------------------------------------

    async def principal_from_token(self, token: str) -> Principal:
        try:
            claims = security.decode_access_token(token, self.settings.secret_key)
        except security.TokenError as exc:
            raise (errors.TokenExpired() if exc.reason == "expired" else errors.TokenInvalid()) from exc
        subject = claims["sub"]
        user = await self.repository.user(int(subject)) if isinstance(subject, str) and subject.isdigit() else None
        if user is None:
            raise errors.TokenInvalid()
        return await self._principal(user)

    async def principal_from_api_key(self, key: str) -> Principal:
        prefix = security.parse_api_key_prefix(key)
        record = await self.repository.api_key_by_prefix(prefix) if prefix else None
        if record is None or not security.digests_match(record.digest, security.api_key_digest(key)):
            raise errors.ApiKeyInvalid()
        if record.revoked_at is not None:
            raise errors.ApiKeyRevoked()
        user = await self.repository.user(record.user_id)
        if user is None:
            raise errors.ApiKeyInvalid()
        record.last_used_at = utcnow()
        return await self._principal(user, via_api_key=True)

    async def _principal(self, user: User, *, via_api_key: bool = False) -> Principal:
        if not user.is_active:
            raise errors.AccountDisabled()
        organization = await self.repository.organization(user.organization_id) if user.organization_id else None
        return Principal(user=user, organization=organization, via_api_key=via_api_key)

    # --- API keys ------------------------------------------------------------------------------

    async def create_api_key(self, principal: Principal, name: str) -> tuple[ApiKey, str]:
        """The full key is returned once; only its digest is stored."""
        new_key = security.generate_api_key()
        record = ApiKey(user_id=principal.user.id or 0, name=name, prefix=new_key.prefix, digest=new_key.digest)
        await self.repository.add(record)
        return record, new_key.secret

    async def list_api_keys(self, principal: Principal, offset: int, limit: int) -> tuple[list[ApiKey], int]:
        return await self.repository.api_keys_of(principal.user.id or 0, offset, limit)

    async def revoke_api_key(self, principal: Principal, key_id: int) -> ApiKey:
        record = await self.repository.api_key(key_id)
        if record is None or record.user_id != principal.user.id:
            raise errors.ApiKeyNotFound()
        if record.revoked_at is None:
            record.revoked_at = utcnow()
            await self.repository.add(record)
        return record
