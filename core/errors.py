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

Each domain package subclasses these with a stable ``code`` and a Chinese ``message``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="出错字段的路径, 如 `body.uscc`")
    code: str = Field(description="稳定的机器可读错误码")
    message: str = Field(description="中文说明")


class Problem(BaseModel):
    """RFC 9457 problem details, extended with a stable ``code`` and field ``errors``."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


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
            extra=self.extra,
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
    for error in (*errors, ValidationFailed, InvalidCharacters):  # every route refuses control characters
        by_status.setdefault(error.status_code, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {
        status: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": "; ".join(f"`{e.code}`: {e.message}" for e in dict.fromkeys(group)),
        }
        for status, group in sorted(by_status.items())
    }
    if TooManyRequests.status_code in responses:
        responses[TooManyRequests.status_code]["headers"] = {
            "Retry-After": {"description": "多少秒后可以重试", "schema": {"type": "integer", "minimum": 1}}
        }
    return responses
