"""Characters no input may carry: the ones XML 1.0 forbids (and NUL, which PostgreSQL text refuses).

Refused once, at the API root: ``reject_invalid_characters`` is an application-wide dependency, so
every route (and every route added later) checks its declared path, query, header and form values
and its whole JSON body before anything else runs, answering 422 ``invalid_characters`` field by
field. Imports check their rows with ``find_invalid``. Exports strip them anyway (``strip_illegal``),
for text stored before the rule or written outside the API.

Tab, line feed and carriage return are legal: multi-line text fields use them.
"""

from __future__ import annotations

import email.message
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from core.errors import FieldError, InvalidCharacters

# U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, lone surrogates, U+FFFE and U+FFFF.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MESSAGE = "含有不允许的控制字符 {char} (NUL 等不可见字符), 请删除后重试"


def strip_illegal(text: str) -> str:
    return ILLEGAL.sub("", text)


def first_illegal(text: str) -> str | None:
    found = ILLEGAL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def find_invalid(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, offending code point) for every string, or key, of a JSON-like value holding one.

    Iterative, so a body nested as deep as the JSON parser allows cannot exhaust the stack here."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if char := first_illegal(item):
                yield where, char
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and (char := first_illegal(key)):
                    yield child_path, char
                children.append((child, child_path))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(
                reversed([(child, f"{where}.{index}" if where else str(index)) for index, child in enumerate(item)])
            )


def field_errors(found: Iterable[tuple[str, str]]) -> list[FieldError]:
    first = dict(reversed(list(found)))  # one error per field: the first character found in it
    return [
        FieldError(field=path, code=InvalidCharacters.code, message=MESSAGE.format(char=char))
        for path, char in reversed(first.items())
    ]


class _Inputs:
    """What one route declares, read once per route."""

    def __init__(self, route: APIRoute) -> None:
        self.query: list[str] = []
        self.headers: list[str] = []
        self.cookies: list[str] = []
        self._collect(route.dependant, set())
        self.form = route.body_field is not None and isinstance(route.body_field.field_info, Form)
        self.json = route.body_field is not None and not self.form

    def _collect(self, dependant: Dependant, seen: set[int]) -> None:
        """The route's own parameters and those of every dependency it uses, by the name the client sends."""
        if id(dependant) in seen:
            return
        seen.add(id(dependant))
        for target, params in (
            (self.query, dependant.query_params),
            (self.headers, dependant.header_params),
            (self.cookies, dependant.cookie_params),
        ):
            for param in params:
                model = param.field_info.annotation
                if isinstance(model, type) and issubclass(
                    model, BaseModel
                ):  # a parameter model: its fields are the names
                    target.extend(f.alias or name for name, f in model.model_fields.items())
                else:
                    target.append(param.alias)
        for child in dependant.dependencies:
            self._collect(child, seen)


def _inputs(route: APIRoute) -> _Inputs:
    inputs = getattr(route, "_declared_inputs", None)
    if inputs is None:
        inputs = _Inputs(route)
        route._declared_inputs = inputs  # type: ignore[attr-defined]  # read once per route, kept with it
    return inputs


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _request_values(request: Request) -> list[tuple[str, str]]:
    found = list(find_invalid(dict(request.path_params), "path"))
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return found
    inputs = _inputs(route)
    declared = [
        *((f"query.{name}", request.query_params.getlist(name)) for name in inputs.query),
        *((f"header.{name}", request.headers.getlist(name.replace("_", "-"))) for name in inputs.headers),
        *((f"cookie.{name}", [request.cookies.get(name) or ""]) for name in inputs.cookies),
    ]
    for path, values in declared:
        chars = [char for value in values if (char := first_illegal(value))]
        if chars:
            found.append((path, chars[0]))
    if inputs.form:
        form = await request.form()  # parsed (and cached) by FastAPI before any dependency runs
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                found += find_invalid({key: value}, "body")
    elif inputs.json and _is_json(request) and await request.body():
        found += find_invalid(await request.json(), "body")  # FastAPI's own parse, cached on the request
    return found


async def reject_invalid_characters(request: Request) -> None:
    """App-wide dependency: 422 ``invalid_characters`` naming each field that carries one."""
    found = await _request_values(request)
    if found:
        raise InvalidCharacters(errors=field_errors(found))
