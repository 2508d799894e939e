"""Field classification of every response: who may see each field of an object.

Each field of a response model carries one level (``id: Public[int]``, ``email: Org[str]``):

- ``public``: anyone who may see the object at all;
- ``parties``: both parties of a deal or contract (and the owning organization);
- ``organization``: members of the owning organization and its API keys (a user also for their own record);
- ``admin``: the platform admin and the region admin governing the object's regions (they see everything).

Objects say whom they concern (``Classified.visibility_subject``: owner, parties, governing regions,
a user). While a request is answered, ``VisibilityMiddleware`` holds the caller (the principal
dependency fills it in); every JSON rendering of a ``Classified`` model then drops the fields the
caller's relation to that object does not grant. Nested models without a subject of their own take
their parent's; a model with only public fields and no subject skips the step (``about`` refuses it:
name the subject on its items). No subject means the caller relates to the object as the public does (platform admins
excepted), so a response that forgets its subject shows less, never more. Python-mode dumps and
renderings outside a request are not filtered. OpenAPI shows each property's ``x-visibility``, and only
public properties are ``required`` in responses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, ClassVar, Self, TypeVar

from pydantic import (
    BaseModel,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from core.reference import region_contains

T = TypeVar("T")


class Visible(StrEnum):
    public = "public"
    parties = "parties"
    organization = "organization"
    admin = "admin"


Public = Annotated[T, Visible.public]
Parties = Annotated[T, Visible.parties]
Org = Annotated[T, Visible.organization]
AdminOnly = Annotated[T, Visible.admin]

PUBLIC: frozenset[Visible] = frozenset({Visible.public})
PARTY: frozenset[Visible] = frozenset({Visible.public, Visible.parties})
OWNER: frozenset[Visible] = frozenset({Visible.public, Visible.parties, Visible.organization})
ADMIN: frozenset[Visible] = frozenset(Visible)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom an object concerns: its owning organization, the parties, the regions whose admins govern it."""

    owner: int | None = None
    parties: frozenset[int] = frozenset()
    regions: tuple[str, ...] = ()
    user: int | None = None  # a user's own record: that user sees it as the organization does


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller as the response layer needs to know it."""

    user_id: int | None = None
    organization_id: int | None = None
    platform_admin: bool = False
    region_scope: str | None = None

    def grants(self, subject: Subject | None) -> frozenset[Visible]:
        if self.platform_admin:
            return ADMIN
        if subject is None:
            return PUBLIC
        scope = self.region_scope
        if scope is not None and any(region and region_contains(scope, region) for region in subject.regions):
            return ADMIN
        if subject.user is not None and subject.user == self.user_id:
            return OWNER
        if self.organization_id is not None:
            if self.organization_id == subject.owner:
                return OWNER
            if self.organization_id in subject.parties:
                return PARTY
        return PUBLIC


ANONYMOUS = Viewer()


@dataclass(slots=True)
class _Slot:
    viewer: Viewer = ANONYMOUS
    grants: list[frozenset[Visible]] = field(default_factory=list)  # of the enclosing objects while rendering


_SLOT: ContextVar[_Slot | None] = ContextVar("techmarket_visibility", default=None)


def set_viewer(viewer: Viewer) -> None:
    """Called once the request's caller is known; outside a request it does nothing."""
    slot = _SLOT.get()
    if slot is not None:
        slot.viewer = viewer


@contextmanager
def rendering_for(viewer: Viewer) -> Iterator[None]:
    """Render JSON for ``viewer`` outside an HTTP request (a push to an organization, a test)."""
    token = _SLOT.set(_Slot(viewer))
    try:
        yield
    finally:
        _SLOT.reset(token)


class VisibilityMiddleware:
    """Every HTTP request renders for an anonymous caller until the principal dependency says otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _SLOT.set(_Slot())
        try:
            await self.app(scope, receive, send)
        finally:
            _SLOT.reset(token)


_LEVELS: dict[type[BaseModel], dict[str, Visible | None]] = {}
_HIDDEN: dict[tuple[type[BaseModel], frozenset[Visible]], tuple[str, ...]] = {}


def field_level(model: type[BaseModel], name: str) -> Visible | None:
    levels = [item for item in model.__pydantic_fields__[name].metadata if isinstance(item, Visible)]
    return levels[-1] if levels else None


class Classified(BaseModel):
    """Base of every response model: each field classified, rendered for the caller."""

    _subject: Subject | None = PrivateAttr(default=None)
    __filters__: ClassVar[bool] = True  # set per class when its schema is built

    def about(self, subject: Subject | None) -> Self:
        """Name whom this object concerns when its own fields cannot tell."""
        if not type(self).__filters__:
            raise TypeError(f"{type(self).__name__} has only public fields: name the subject on its items")
        self._subject = subject
        return self

    def visibility_subject(self) -> Subject | None:
        private = self.__pydantic_private__
        return private.get("_subject") if private else None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> CoreSchema:
        """A model with only public fields and no subject of its own renders without the per-caller
        step (a page of search hits pays it once per hit, not per container)."""
        schema = handler(source)
        if source is cls:
            fields = cls.__pydantic_fields__
            public = all(field_level(cls, name) is Visible.public for name in fields)
            filters = not public or cls.visibility_subject.__qualname__ != "Classified.visibility_subject"
            type.__setattr__(cls, "__filters__", filters)
            if not filters:
                target = handler.resolve_ref_schema(schema)
                if isinstance(target, dict) and target.get("type") == "model":
                    target.pop("serialization", None)
        return schema

    @classmethod
    def visibility_levels(cls) -> dict[str, Visible | None]:
        """Level by rendered name (alias if any); None for an unclassified field."""
        levels = _LEVELS.get(cls)
        if levels is None:
            levels = {
                info.serialization_alias or info.alias or name: field_level(cls, name)
                for name, info in cls.model_fields.items()
            }
            _LEVELS[cls] = levels
        return levels

    @classmethod
    def _hidden_for(cls, grants: frozenset[Visible]) -> tuple[str, ...]:
        key = (cls, grants)
        hidden = _HIDDEN.get(key)
        if hidden is None:
            hidden = tuple(name for name, level in cls.visibility_levels().items() if level not in grants)
            _HIDDEN[key] = hidden
        return hidden

    @model_serializer(mode="wrap")
    def _render_for_caller(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        # No return annotation on purpose: pydantic would otherwise take it as the serialized schema.
        slot = _SLOT.get()
        if slot is None or not info.mode_is_json():
            return handler(self)
        subject = self.visibility_subject()
        if subject is None:
            grants = slot.grants[-1] if slot.grants else slot.viewer.grants(None)
            data = handler(self)
        else:
            grants = slot.viewer.grants(subject)
            slot.grants.append(grants)
            try:
                data = handler(self)
            finally:
                slot.grants.pop()
        hidden = type(self)._hidden_for(grants)
        if hidden and isinstance(data, dict):
            for name in hidden:
                data.pop(name, None)
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        levels = cls.visibility_levels()
        for name, prop in target.get("properties", {}).items():
            level = levels.get(name)
            if level is not None:
                prop["x-visibility"] = level.value
        if handler.mode == "serialization" and "required" in target:
            target["required"] = [name for name in target["required"] if levels.get(name) is Visible.public]
            if not target["required"]:
                del target["required"]
        return schema


def unclassified(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` without a level (for the test that every response field has one)."""
    return [name for name in model.model_fields if field_level(model, name) is None]
