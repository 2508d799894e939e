"""Thin HTTP handlers for organizations, users, login and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.security import OAuth2PasswordRequestForm

from core import visibility
from core.deps import SettingsDep
from core.errors import problem_responses
from core.pagination import PageQuery
from core.visibility import Subject, Viewer
from market.identity import errors
from market.identity.deps import CurrentPrincipal, IdentityServiceDep, OptionalPrincipal
from market.identity.login import LoginServiceDep
from market.identity.models import OrganizationKind, OrganizationStatus
from market.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    MemberCreate,
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    RegionAdminCreate,
    RegistrationCreate,
    RegistrationRead,
    Token,
    UserRead,
)

AUTH_ERRORS = (
    errors.AuthenticationRequired,
    errors.TokenExpired,
    errors.TokenInvalid,
    errors.ApiKeyInvalid,
    errors.ApiKeyRevoked,
    errors.AccountDisabled,
)

router = APIRouter(prefix="/api/v1")


@router.post(
    "/auth/token",
    response_model=Token,
    tags=["auth"],
    summary="登录 (OAuth2 密码模式: username = 邮箱)",
    responses=problem_responses(errors.InvalidCredentials, errors.AccountDisabled, errors.LoginThrottled),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], logins: LoginServiceDep, settings: SettingsDep
) -> Token:
    token = await logins.login(form.username, form.password)
    return Token(access_token=token, expires_in=settings.access_token_minutes * 60)


@router.get(
    "/users/me", response_model=UserRead, tags=["auth"], summary="当前用户", responses=problem_responses(*AUTH_ERRORS)
)
async def me(principal: CurrentPrincipal) -> UserRead:
    return UserRead.model_validate(principal.user)


@router.post(
    "/organizations/register",
    response_model=RegistrationRead,
    status_code=status.HTTP_201_CREATED,
    tags=["organizations"],
    summary="单位自助注册 (待平台审核)",
    responses=problem_responses(errors.DuplicateOrganization, errors.DuplicateEmail),
)
async def register(data: RegistrationCreate, identity: IdentityServiceDep) -> RegistrationRead:
    organization, admin = await identity.register(data)
    # The caller is the person who just created this account: the reply is rendered for them.
    visibility.set_viewer(Viewer(user_id=admin.id, organization_id=organization.id))
    return RegistrationRead(
        organization=OrganizationRead.model_validate(organization), admin=UserRead.model_validate(admin)
    )


@router.post(
    "/organizations",
    response_model=OrganizationRead,
    status_code=status.HTTP_201_CREATED,
    tags=["organizations"],
    summary="平台管理员直接创建已认证单位",
    responses=problem_responses(*AUTH_ERRORS, errors.NotPlatformAdmin, errors.DuplicateOrganization),
)
async def create_organization(
    data: OrganizationCreate, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> OrganizationRead:
    return OrganizationRead.model_validate(await identity.create_organization(principal, data))


@router.get(
    "/organizations",
    response_model=OrganizationPage,
    tags=["organizations"],
    summary="单位名录 (公众仅见已认证单位; 管理员可见其辖区全部)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_organizations(
    principal: OptionalPrincipal,
    identity: IdentityServiceDep,
    page: PageQuery,
    status_filter: Annotated[OrganizationStatus | None, Query(alias="status")] = None,
    kind: OrganizationKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> OrganizationPage:
    items, total = await identity.list_organizations(
        principal, status=status_filter, kind=kind, region=region, offset=page.offset, limit=page.limit
    )
    return OrganizationPage.of([OrganizationRead.model_validate(o) for o in items], total, page)


@router.get(
    "/organizations/{organization_id}",
    response_model=OrganizationRead,
    tags=["organizations"],
    responses=problem_responses(*AUTH_ERRORS, errors.OrganizationNotFound),
)
async def get_organization(
    organization_id: int, principal: OptionalPrincipal, identity: IdentityServiceDep
) -> OrganizationRead:
    return OrganizationRead.model_validate(await identity.get_organization(principal, organization_id))


_STATUS_ERRORS = problem_responses(
    *AUTH_ERRORS, errors.NotPlatformAdmin, errors.OrganizationNotFound, errors.InvalidStatusChange
)


@router.post(
    "/organizations/{organization_id}/verify",
    response_model=OrganizationRead,
    tags=["organizations"],
    summary="审核通过",
    responses=_STATUS_ERRORS,
)
async def verify_organization(
    organization_id: int, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> OrganizationRead:
    return OrganizationRead.model_validate(
        await identity.set_status(principal, organization_id, OrganizationStatus.verified)
    )


@router.post(
    "/organizations/{organization_id}/suspend",
    response_model=OrganizationRead,
    tags=["organizations"],
    summary="暂停单位",
    responses=_STATUS_ERRORS,
)
async def suspend_organization(
    organization_id: int, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> OrganizationRead:
    return OrganizationRead.model_validate(
        await identity.set_status(principal, organization_id, OrganizationStatus.suspended)
    )


@router.post(
    "/organizations/{organization_id}/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    tags=["organizations"],
    summary="单位管理员添加成员",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.OtherOrganization,
        errors.NotOrganizationAdmin,
        errors.OrganizationNotFound,
        errors.DuplicateEmail,
    ),
)
async def add_member(
    organization_id: int, data: MemberCreate, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> UserRead:
    return UserRead.model_validate(await identity.add_member(principal, organization_id, data))


@router.post(
    "/admin/region-admins",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    tags=["admin"],
    summary="创建盟市管理员",
    responses=problem_responses(*AUTH_ERRORS, errors.NotPlatformAdmin, errors.DuplicateEmail),
)
async def create_region_admin(
    data: RegionAdminCreate, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> UserRead:
    return UserRead.model_validate(await identity.create_region_admin(principal, data))


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["auth"],
    summary="创建 API 密钥 (完整密钥只显示一次)",
    responses=problem_responses(*AUTH_ERRORS),
)
async def create_api_key(
    data: ApiKeyCreate, principal: CurrentPrincipal, identity: IdentityServiceDep
) -> ApiKeyCreated:
    record, secret = await identity.create_api_key(principal, data.name)
    return ApiKeyCreated(**ApiKeyRead.model_validate(record).model_dump(), key=secret).about(
        Subject(user=record.user_id)
    )


@router.get("/api-keys", response_model=ApiKeyPage, tags=["auth"], responses=problem_responses(*AUTH_ERRORS))
async def list_api_keys(principal: CurrentPrincipal, identity: IdentityServiceDep, page: PageQuery) -> ApiKeyPage:
    keys, total = await identity.list_api_keys(principal, page.offset, page.limit)
    return ApiKeyPage.of([ApiKeyRead.model_validate(k).about(Subject(user=k.user_id)) for k in keys], total, page)


@router.delete(
    "/api-keys/{key_id}",
    response_model=ApiKeyRead,
    tags=["auth"],
    summary="吊销 API 密钥",
    responses=problem_responses(*AUTH_ERRORS, errors.ApiKeyNotFound),
)
async def revoke_api_key(key_id: int, principal: CurrentPrincipal, identity: IdentityServiceDep) -> ApiKeyRead:
    record = await identity.revoke_api_key(principal, key_id)
    return ApiKeyRead.model_validate(record).about(Subject(user=record.user_id))
