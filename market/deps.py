"""Request dependencies: the unit of work, settings, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.db import Database
from core.settings import Settings
from market.identity.errors import AuthenticationRequired
from market.identity.service import IdentityService, Principal

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


async def get_session(database: Annotated[Database, Depends(get_database)]) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit once when the endpoint succeeds, else roll back.

    Declared with ``scope="function"`` so the commit happens before the response is sent: a failed
    commit becomes an error response instead of a success the client wrongly trusts.
    """
    async with database.unit_of_work() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_identity_service(session: SessionDep, settings: SettingsDep) -> IdentityService:
    return IdentityService(session, settings)


IdentityServiceDep = Annotated[IdentityService, Depends(get_identity_service)]


async def optional_principal(
    identity: IdentityServiceDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal | None:
    principal = None
    if api_key:
        principal = await identity.principal_from_api_key(api_key)
    elif token:
        principal = await identity.principal_from_token(token)
    if principal is not None:  # the response is rendered for this caller (core.visibility)
        visibility.set_viewer(principal.viewer)
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise AuthenticationRequired()
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
