"""Request body limit: an oversized body is refused with 413 before the app reads it into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import Problem
from core.problems import problem_response


class BodySizeLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_bytes: int,
        per_prefix: dict[str, int] | None = None,
        per_suffix: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.per_prefix = per_prefix or {}
        self.per_suffix = per_suffix or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.per_prefix.items():
            if path.startswith(prefix):
                return limit
        for suffix, limit in self.per_suffix.items():
            if path.endswith(suffix):
                return limit
        return self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        received = 0
        started = rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer now and tell the app the client left: frameworks turn errors raised
                    # while reading the body into a generic 400.
                    rejected = True
                    await self._reject(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        problem = Problem(
            type="/problems/payload_too_large",
            title=f"请求体过大 (上限 {limit // 1024} KB)",
            status=413,
            code="payload_too_large",
            instance=scope["path"],
            request_id=scope.get("state", {}).get("request_id"),
        )
        await problem_response(problem)(scope, receive, send)
