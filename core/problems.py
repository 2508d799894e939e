"""Render every error as problem+json: domain errors, request validation, HTTP errors, crashes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import reference
from core.errors import PROBLEM_MEDIA_TYPE, DomainError, FieldError, Problem, ServiceUnavailable, TooManyRequests

log = structlog.get_logger("techmarket.errors")

# Chinese messages for pydantic's built-in error types; custom validators bring their own.
_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "必填字段缺失",
    "string_type": "应为字符串",
    "string_too_short": "长度不能少于 {min_length} 个字符",
    "string_too_long": "长度不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "decimal_max_places": "小数位数不能超过 {decimal_places} 位",
    "decimal_max_digits": "数字位数不能超过 {max_digits} 位",
    "bool_parsing": "应为布尔值",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "literal_error": "取值应为 {expected} 之一",
    "enum": "取值应为 {expected} 之一",
    "list_type": "应为列表",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "json_invalid": "JSON 格式错误",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 ISO 8601",
    "value_error": "取值无效",
    "extra_forbidden": "不允许的字段",
    "url_parsing": "应为有效的网址",
    "url_scheme": "网址协议应为 {expected_schemes}",
    "uuid_parsing": "应为 UUID",
}


_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _choices(context: dict[str, Any]) -> dict[str, Any]:
    """An enum's or literal's choices as a person reads them: ``研发阶段(research)、小试(lab)…``,
    labelled from ``core.reference``'s code lists; unlabelled codes are listed as themselves."""
    values = _QUOTED.findall(str(context.get("expected", "")))
    if not values:
        return context
    return {**context, "expected": reference.choices_zh(values) or "、".join(values)}


def field_errors_from_pydantic(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        kind = error.get("type", "value_error")
        template = _PYDANTIC_MESSAGES.get(kind)
        context = error.get("ctx") or {}
        if kind in ("enum", "literal_error"):
            context = _choices(context)
        if template is None or kind == "value_error":
            # Custom validators (PydanticCustomError) already speak Chinese.
            message = str(error.get("msg", "取值无效")).removeprefix("Value error, ")
        else:
            try:
                message = template.format(**context)
            except (KeyError, IndexError):
                message = template
        field = ".".join(str(part) for part in error.get("loc", ()))
        result.append(FieldError(field=field, code=kind, message=message))
    return result


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求无效"),
    401: ("unauthorized", "需要登录"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("too_many_requests", "请求过于频繁"),
}


_BODY_PARSE_ERROR = "There was an error parsing the body"  # fastapi.routing: the body could not be decoded at all
# How the drivers refuse an integer parameter too large for its column: aiosqlite (int64), asyncpg (int32/int64).
_OVERFLOW_MESSAGES = ("int too large to convert", "out of int32 range", "out of int64 range")


def _integer_overflow(exc: Exception) -> bool:
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc)
    return any(message in text for message in _OVERFLOW_MESSAGES)


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    message = "数据库暂时不可用, 请稍后重试"


# Raised by asyncpg itself while connecting (SQLAlchemy only wraps errors on an open connection).
_DRIVER_UNAVAILABLE = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # "the database system is shutting down / starting up"
    asyncpg.exceptions.InterfaceError,  # "connection is closed"
)


def _unavailable(exc: Exception) -> bool:
    transient = (ConnectionError, PoolTimeout, *_DRIVER_UNAVAILABLE)
    orig = getattr(exc, "orig", None)  # SQLAlchemy's error → its DBAPI adapter's error → asyncpg's own
    if any(isinstance(e, transient) for e in (exc, orig, getattr(orig, "__cause__", None))):
        return True
    return isinstance(exc, OperationalError | InterfaceError) or getattr(exc, "connection_invalidated", False)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem_response(exc.to_problem(instance=request.url.path, request_id=_request_id(request)), headers)

    def _validation_problem(request: Request, errors: list[FieldError]) -> JSONResponse:
        problem = Problem(
            type="/problems/validation_error",
            title="请求数据校验失败",
            status=422,
            code="validation_error",
            instance=request.url.path,
            request_id=_request_id(request),
            errors=errors,
        )
        return problem_response(problem)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(request, field_errors_from_pydantic(list(exc.errors())))

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # An id or number no column can hold (e.g. /contracts/99999999999999999999) is the caller's error, not a crash.
        if _integer_overflow(exc):
            return _validation_problem(
                request, [FieldError(field="", code="number_out_of_range", message="数值超出范围 (编号或数量过大)")]
            )
        if _unavailable(exc):
            # The database is restarting or unreachable: tell clients to retry, do not page anyone per request.
            log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
            problem = DatabaseUnavailable().to_problem(instance=request.url.path, request_id=_request_id(request))
            return problem_response(problem, {"Retry-After": "2"})
        raise exc

    app.add_exception_handler(DBAPIError, _database)  # asyncpg: DataError wrapped by SQLAlchemy
    app.add_exception_handler(OverflowError, _database)  # aiosqlite: raised as is while binding parameters
    app.add_exception_handler(ConnectionError, _database)  # a refused or reset connection while (re)connecting
    app.add_exception_handler(PoolTimeout, _database)  # every pooled connection busy for db_timeout_seconds
    for driver_error in _DRIVER_UNAVAILABLE:
        app.add_exception_handler(driver_error, _database)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
            # A body FastAPI cannot even decode (JSON that is not UTF-8): the documented 422, as for malformed JSON.
            return _validation_problem(
                request,
                field_errors_from_pydantic([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]),
            )
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "请求失败"))
        problem = Problem(
            type=f"/problems/{code}",
            title=title,
            status=exc.status_code,
            code=code,
            instance=request.url.path,
            request_id=_request_id(request),
        )
        return problem_response(problem, getattr(exc, "headers", None))


def internal_error_response(path: str, request_id: str | None) -> JSONResponse:
    """What a client sees of a crash: a code and the request id to quote, never the trace."""
    problem = Problem(
        type="/problems/internal_error",
        title="服务器内部错误, 请稍后重试或联系管理员",
        status=500,
        code="internal_error",
        instance=path,
        request_id=request_id,
    )
    return problem_response(problem)
