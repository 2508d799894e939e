"""Search errors, all rendered by the one problem+json handler.

Hierarchy::

    ServiceUnavailable (503)
    └── SearchUnavailable        engine down, timed out or answered garbage (text never leaked)
        └── SearchRejected       the engine accepted a write, then its task failed (``reason``: its code)
    ValidationFailed (422)
    └── QueryTooLong             query text over MAX_QUERY_CHARS
"""

from __future__ import annotations

from core.errors import FieldError, ServiceUnavailable, ValidationFailed


class SearchUnavailable(ServiceUnavailable):
    code = "search_unavailable"
    message = "搜索服务暂时不可用, 请稍后重试"


class SearchRejected(SearchUnavailable):
    """A write the engine refused after accepting it: retrying at once cannot help, backing off can."""

    def __init__(self, reason: str) -> None:
        super().__init__(detail=reason)
        self.reason = reason


class QueryTooLong(ValidationFailed):
    code = "query_too_long"
    message = "搜索词过长"

    def __init__(self, limit: int) -> None:
        super().__init__(errors=[FieldError(field="query.q", code=self.code, message=f"搜索词不能超过 {limit} 个字符")])
