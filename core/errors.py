"""Domain errors that carry their HTTP status, and the one problem+json shape (RFC 9457).

Hierarchy::

    DomainError (400)
    ├── ValidationFailed (422)   field-level ``errors``
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── TooManyRequests (429)    sent with Retry-After
    └── ServiceUnavailable (503)

Each domain package subclasses these with a stable ``code`` and a Chinese ``message``. Keyword
arguments beyond ``detail`` and ``errors`` become extension members at the top level of the problem
(RFC 9457 section 3.2), e.g. ``allowed`` or ``retry_after``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    field: str = Field(description="出错字段的路径, 如 `body.uscc`")
    code: str = Field(description="稳定的机器可读错误码")
    message: str = Field(description="中文说明")


PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details, extended with a stable ``code``, field ``errors`` and, at the top
    level, members particular to one problem (``allowed``, ``retry_after``, ``checks``...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="问题类型, `/problems/{code}`")
    title: str = Field(description="中文标题")
    status: int = Field(description="HTTP 状态码")
    code: str = Field(description="稳定的机器可读错误码")
    detail: str | None = Field(default=None, description="本次出错的中文说明")
    instance: str | None = Field(default=None, description="出错的请求路径")
    request_id: str | None = Field(default=None, description="请求编号, 联系管理员时请提供")
    errors: list[FieldError] = Field(default_factory=list, description="逐字段的校验错误")


_MEMBERS = frozenset(Problem.model_fields)


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "请求无效"

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        **extra: Any,
    ) -> None:
        self.title = message or self.message
        self.detail = detail
        self.errors = errors or []
        clash = _MEMBERS & extra.keys()
        if clash:  # an extension member must not overwrite a standard one
            raise TypeError(f"extension members reuse problem members: {sorted(clash)}")
        self.extra = extra
        super().__init__(self.title)

    def to_problem(self, *, instance: str | None = None, request_id: str | None = None) -> Problem:
        return Problem(
            type=f"/problems/{self.code}",
            title=self.title,
            status=self.status_code,
            code=self.code,
            detail=self.detail,
            instance=instance,
            request_id=request_id,
            errors=self.errors,
            **self.extra,
        )


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_error"
    message = "请求数据校验失败"

    @classmethod
    def on_field(cls, field: str, code: str, message: str) -> ValidationFailed:
        return cls(errors=[FieldError(field=field, code=code, message=message)])


class InvalidCharacters(ValidationFailed):
    """A control character (NUL, U+0001...) in any input: see core.characters."""

    code = "invalid_characters"
    message = "输入含有不允许的控制字符"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    message = "需要登录"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    message = "无权执行此操作"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    message = "资源不存在"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message = "与当前状态冲突"


class TooManyRequests(DomainError):
    """Refused for now: ``retry_after`` whole seconds, sent as the Retry-After header and in the body."""

    status_code = 429
    code = "too_many_requests"
    message = "请求过于频繁, 请稍后重试"

    def __init__(
        self, retry_after: int, message: str | None = None, *, detail: str | None = None, **extra: Any
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, detail=detail, retry_after=self.retry_after, **extra)


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    message = "服务暂时不可用, 请稍后重试"


def problem_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route, one entry per status, listing every code it may return."""
    by_status: dict[int, list[type[DomainError]]] = {}
    always: tuple[type[DomainError], ...] = (ValidationFailed, InvalidCharacters)  # every route refuses these
    for error in (*errors, *always):
        by_status.setdefault(error.status_code, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},  # FastAPI files the model under application/json; app.openapi moves it
            "description": "; ".join(f"`{e.code}`: {e.message}" for e in dict.fromkeys(group)),
        }
        for status, group in sorted(by_status.items())
    }
    if TooManyRequests.status_code in responses:
        responses[TooManyRequests.status_code]["headers"] = {
            "Retry-After": {"description": "多少秒后可以重试", "schema": {"type": "integer", "minimum": 1}}
        }
    return responses
