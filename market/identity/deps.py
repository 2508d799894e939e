"""Request dependencies for the caller: who is asking, and the write guard every write route passes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from core import visibility
from core.deps import SessionDep, SettingsDep
from core.errors import PROBLEM_MEDIA_TYPE, DomainError
from market.identity.errors import AuthenticationRequired, OrganizationNotVerified, OrganizationSuspended
from market.identity.service import IdentityService, Principal

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_identity_service(session: SessionDep, settings: SettingsDep) -> IdentityService:
    return IdentityService(session, settings)


IdentityServiceDep = Annotated[IdentityService, Depends(get_identity_service)]


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def optional_principal(
    request: Request,
    identity: IdentityServiceDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal | None:
    """Every caller is resolved here, so every write passes the suspension guard, whatever the route."""
    principal = None
    if api_key:
        principal = await identity.principal_from_api_key(api_key)
    elif token:
        principal = await identity.principal_from_token(token)
    if principal is not None and request.method in WRITE_METHODS:
        principal.require_may_write(pending_allowed=True)
    if principal is not None:  # the response is rendered for this caller (core.visibility)
        visibility.set_viewer(principal.viewer)
    return principal


async def current_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    """A signed-in caller; on a write, one whose organization (if any) is verified."""
    if principal is None:
        raise AuthenticationRequired()
    if request.method in WRITE_METHODS:
        principal.require_may_write()
    return principal


async def drafting_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """A signed-in caller whose organization may also be pending: for the few writes a pending organization
    may make (its own drafts). Suspended organizations are refused by ``optional_principal``."""
    if principal is None:
        raise AuthenticationRequired()
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
DraftingPrincipal = Annotated[Principal, Depends(drafting_principal)]

WRITE_GUARD_ERRORS: tuple[type[DomainError], ...] = (OrganizationSuspended, OrganizationNotVerified)


def declare_write_guard(app: FastAPI) -> None:
    """Documents the write guard's 403 codes on every write route that resolves a caller.

    The guard lives in the principal dependency, not in each route, so its documentation is derived
    here, once, from the same dependency graph: a new write route is covered and documented without
    anyone remembering to (FastAPI's documented way of extending the generated schema).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI until the routes change; the additions below are idempotent
        for route in iter_route_contexts(app.routes):
            methods = (route.methods or set()) & WRITE_METHODS
            dependant = getattr(route, "dependant", None)
            if not methods or dependant is None or not getattr(route, "include_in_schema", True):
                continue
            calls = _calls(dependant)
            if optional_principal not in calls:
                continue
            errors = [e for e in WRITE_GUARD_ERRORS if e is not OrganizationNotVerified or current_principal in calls]
            for method in methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _add_403(operation["responses"], errors)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_403(responses: dict[str, Any], errors: list[type[DomainError]]) -> None:
    entry = responses.setdefault(
        "403",
        {
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    )
    described = entry.get("description", "")
    extra = [f"`{e.code}`: {e.message}" for e in errors if f"`{e.code}`" not in described]
    entry["description"] = "; ".join(part for part in (described, *extra) if part)


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found
