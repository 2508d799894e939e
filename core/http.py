"""Outbound HTTP: one pooled httpx client per process, made in the lifespan.

Meilisearch leaves Nagle's algorithm on, so a keep-alive reply written in two pieces would wait
~40 ms for our delayed ACK; these transports set ``TCP_QUICKACK`` before every read (it is not sticky).
"""

from __future__ import annotations

import socket
from typing import Any

import httpcore
import httpx

from core.observability import REQUEST_ID_HEADER, current_request_id
from core.settings import Settings

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere the plain transport


class _QuickAckStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._socket is not None and _QUICKACK is not None:
            try:
                self._socket.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                self._socket = None  # not a TCP socket after all
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return await self._inner.start_tls(*args, **kwargs)  # TLS streams read through their own socket

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _QuickAckBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _QuickAckStream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(*args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def quick_ack_transport(limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections never wait for a delayed ACK (see the module doc)."""
    transport = httpx.AsyncHTTPTransport(limits=limits or httpx.Limits())
    if _QUICKACK is not None:  # httpx has no network_backend option; its pool keeps TLS and limits as built
        transport._pool._network_backend = _QuickAckBackend()
    return transport


class _RequestIdPool(httpcore.AsyncConnectionPool):
    """Adds the current request id to each request (what httpx clients get from ``forward_request_id``)."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        request_id = current_request_id.get()
        if request_id is not None:
            request.headers.append((b"X-Request-ID", request_id.encode()))
        return await super().handle_async_request(request)


async def forward_request_id(request: httpx.Request) -> None:
    """httpx request hook: the request (or worker round) being handled names itself to the callee."""
    request_id = current_request_id.get()
    if request_id is not None and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def quick_ack_pool(*, max_connections: int = 100, max_keepalive_connections: int = 20) -> httpcore.AsyncConnectionPool:
    """A bare connection pool with the same quick ACKs, for a hot path: httpx's client layer is
    about a third of the CPU of a small request. It forwards the request id too."""
    return _RequestIdPool(
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=5.0,
        network_backend=_QuickAckBackend() if _QUICKACK is not None else None,
    )


# what a request through a bare pool may raise instead of an answer
POOL_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    OSError,
)


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=min(3.0, settings.http_timeout_seconds))
    return httpx.AsyncClient(
        timeout=timeout,
        transport=quick_ack_transport(httpx.Limits(max_connections=50, max_keepalive_connections=10)),
        headers={"User-Agent": "techmarket/0.1"},
        follow_redirects=False,
        event_hooks={"request": [forward_request_id]},
    )
