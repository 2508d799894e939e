"""Requests to addresses that users choose (webhook receivers): one guard, at saving and at sending.

``check_url`` is the static rule, run when a URL is saved (a 422 naming the field) and again before
every request: https only, the default port or an allowed one, no user info, no control characters,
no internal or numeric-looking host names, no literal address outside the public unicast ranges.
``EgressClient`` sends through a transport that resolves the host itself (the event loop's
getaddrinfo), refuses the name if any of its addresses is loopback, private, link-local, CGNAT,
multicast, reserved or unspecified (IPv4-mapped, 6to4 and NAT64 forms read through), and connects
to an address it has just checked, so a name that re-binds between check and connection reaches
nothing. TLS still verifies the certificate of the URL's host (SNI and Host stay the URL's).
Redirects are never followed; environment proxies and .netrc are ignored; bodies are not read.

``allow_insecure`` (``TECHMARKET_WEBHOOK_ALLOW_INSECURE``, refused in production) admits http, any
port and private or loopback targets, for development and tests; malformed URLs and user info stay
refused in every mode.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpcore
import httpx

from core.http import forward_request_id
from core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")  # parsers disagree on these; no real URL needs them
_HOST_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")  # 2130706433, 0x7f.1, 127.1: IPv4 in disguise
INTERNAL_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "arpa",
    "test",
    "invalid",
)
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class EgressRefused(Exception):
    """A destination the guard refuses; ``code`` is stable, ``message`` is for people (Chinese).

    ``permanent``: the URL itself is refused (retrying cannot help); otherwise it depends on what
    the name resolves to now."""

    def __init__(self, code: str, message: str, *, detail: str = "", permanent: bool = True) -> None:
        self.code, self.message, self.detail, self.permanent = code, message, detail, permanent
        super().__init__(f"{code}: {detail or message}")


@dataclass(frozen=True)
class EgressPolicy:
    allow_insecure: bool = False
    allowed_ports: frozenset[int] = frozenset({443})
    timeout_seconds: float = 5.0
    resolver: Resolver | None = field(default=None, compare=False)  # default: the running loop's getaddrinfo

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        return cls(
            allow_insecure=settings.webhook_allow_insecure,
            allowed_ports=frozenset(settings.webhook_allowed_ports),
            timeout_seconds=settings.webhook_timeout_seconds,
        )


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    host: str  # ASCII (IDNA), lower case, no brackets, no trailing dot
    port: int


def address_problem(address: Address) -> str | None:
    """Why ``address`` is not a public unicast destination (Chinese), or None if it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped if address.ipv4_mapped is not None else address.sixtofour
        if embedded is None and any(address in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
        if address.teredo is not None:
            return "Teredo 隧道地址"
        if address.is_site_local:
            return "站点本地地址"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "运营商级 NAT 地址 (CGNAT)"
    checks = (
        ("回环地址", address.is_loopback),
        ("未指定地址", address.is_unspecified),
        ("链路本地地址", address.is_link_local),
        ("组播地址", address.is_multicast),
        ("保留地址", address.is_reserved),
        ("私有地址", address.is_private),
        ("非公网地址", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, policy: EgressPolicy) -> Target:
    """The static rule (see the module doc); raises ``EgressRefused`` with a stable code."""
    if _FORBIDDEN_CHARACTERS.search(url):
        raise EgressRefused("invalid_url", "网址不能含空白、控制字符或反斜杠")
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise EgressRefused("invalid_url", "网址格式无效") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise EgressRefused("invalid_url", "网址须为 https://主机/路径 的形式")
    if parsed.scheme == "http" and not policy.allow_insecure:
        raise EgressRefused("https_required", "须使用 https:// 地址")
    authority = _AUTHORITY.match(url)
    if parsed.userinfo or (authority is not None and "@" in authority.group(1)):
        raise EgressRefused("userinfo_not_allowed", "网址不能包含用户名或密码")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise EgressRefused("invalid_url", "端口无效")
    host = host.removesuffix(".")
    address = _literal(host)
    if address is None and not _HOST_NAME.match(host):
        raise EgressRefused("invalid_url", "主机名无效")
    if not policy.allow_insecure:
        if port not in policy.allowed_ports:
            allowed = "、".join(str(p) for p in sorted(policy.allowed_ports))
            raise EgressRefused("port_not_allowed", f"不允许的端口 {port} (允许: {allowed})")
        if address is not None:
            reason = address_problem(address)
            if reason is not None:
                raise EgressRefused("address_not_allowed", f"不能指向{reason}", detail=f"{address} ({reason})")
        else:
            labels = host.split(".")
            if _NUMERIC_LABEL.match(labels[-1]):
                raise EgressRefused("host_not_allowed", "主机名不能是数字形式的地址")
            if len(labels) == 1 or any(host == suffix or host.endswith("." + suffix) for suffix in INTERNAL_SUFFIXES):
                raise EgressRefused("host_not_allowed", "不能指向内部主机名")
    return Target(url=parsed, host=host, port=port)


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def resolve(host: str, port: int, policy: EgressPolicy, *, timeout: float | None = None) -> list[str]:
    """Every address of ``host``, each checked; one refused address refuses the name."""
    literal = _literal(host.strip("[]"))
    if literal is not None:
        names: Iterable[str] = [str(literal)]
    else:
        try:
            names = await asyncio.wait_for((policy.resolver or _getaddrinfo)(host, port), timeout)
        except TimeoutError:
            raise EgressRefused("unresolvable", "域名解析超时", detail=host, permanent=False) from None
        except OSError as exc:
            raise EgressRefused("unresolvable", "域名无法解析", detail=f"{host}: {exc}", permanent=False) from None
    addresses = list(dict.fromkeys(names))
    if not addresses:
        raise EgressRefused("unresolvable", "域名无法解析", detail=host, permanent=False)
    if not policy.allow_insecure:
        for text in addresses:
            reason = address_problem(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                raise EgressRefused(
                    "address_not_allowed",
                    f"域名解析到{reason}",
                    detail=f"{host} → {text} ({reason})",
                    permanent=literal is not None,
                )
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it resolved and checked itself (no second lookup to re-bind)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await resolve(host, port, self.policy, timeout=timeout):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("invalid_url", "不允许本地套接字")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class EgressClient:
    """HTTP to user-chosen destinations, guarded (module doc). Answers carry the status only."""

    def __init__(self, policy: EgressPolicy, *, max_connections: int = 50) -> None:
        self.policy = policy
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10), retries=0
        )
        transport._pool._network_backend = _GuardedBackend(policy)  # httpx has no network_backend option
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(policy.timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "techmarket-webhook/0.1"},
            event_hooks={"request": [forward_request_id]},  # the worker round's id, as in its logs
        )

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> int:
        """POST ``content``; the status code (the body is never read: a receiver cannot make us buffer it)."""
        target = check_url(url, self.policy)
        async with self._http.stream("POST", target.url, content=content, headers=dict(headers)) as reply:
            return reply.status_code

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EgressClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()
