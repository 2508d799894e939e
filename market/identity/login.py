"""Password login: throttled per account and per client address, argon2 verified off the event loop.

Every place that checks a password (``POST /api/v1/auth/token``, the dashboard's ``POST /admin/login``)
goes through ``LoginService.login``. It does not use the request's unit of work but two short ones of
its own around the verification:

1. spend one attempt from the client address's bucket, then from the account's, and read the account;
   committed at once, so a failed attempt stays counted although the request answers 401, and no
   transaction (nor SQLite's write lock) is held during the ~100 ms of argon2;
2. after a correct password, give both attempts back (a correct password ends the account's run of
   failures) and drop some expired buckets.

A refused attempt answers 429 ``login_throttled`` with Retry-After at once and runs no argon2 (no
timing path through the hash); the first refusal after an allowed attempt is audited. Unknown
accounts are throttled and verified exactly like real ones (against a dummy hash), so neither
timing nor throttling tells whether an e-mail is registered. The buckets live in the database
(``login_throttle``), shared by every process and host.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, security
from core.db import Database
from core.deps import SettingsDep, get_database
from core.settings import Settings
from market.identity import errors
from market.identity.models import User
from market.identity.repository import IdentityRepository, LoginThrottleRepository

log = structlog.get_logger("techmarket.identity.login")
MAX_EMAIL_LENGTH = 254  # as User.email: a longer name is no account, and its key is hashed to fit the table


def client_address(request: Request, settings: Settings) -> str:
    """Who is asking, for the throttle: the socket peer, unless it is a trusted proxy.

    Behind proxies listed in ``TECHMARKET_TRUSTED_PROXIES``, X-Forwarded-For is read from the right
    (the hops those proxies appended) to the first address that is not one of them; a hop that is
    not an address stops the walk at the last trusted one. Without that setting the header is
    ignored: any client can write it. IPv6 clients count per /64 (what one subscriber gets).
    """
    peer = _parse(request.client.host if request.client else "")
    if peer is None:
        return "unknown"
    trusted = settings.trusted_proxy_networks
    address = peer
    if trusted and _is_trusted(address, settings):
        hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:
                break
            address = parsed
            if not _is_trusted(parsed, settings):
                break
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPv4Address | IPv6Address, settings: Settings) -> bool:
    return any(address.version == network.version and address in network for network in settings.trusted_proxy_networks)


def account_key(email: str) -> str:
    normalized = email.strip().lower()
    if len(normalized) > MAX_EMAIL_LENGTH:
        return "account:sha256:" + hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()
    return f"account:{normalized}"


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int
    scope: str  # "address" | "account": said in the audit entry and the log


class LoginService:
    def __init__(self, database: Database, settings: Settings, *, client: str, via: str) -> None:
        self.database = database
        self.settings = settings
        self.client = client
        self.via = via

    async def login(self, email: str, password: str) -> str:
        """An access token for a correct password; 401, or 429 while this account or address is throttled."""
        email = email.strip()
        buckets = (
            Bucket(f"address:{self.client}", self.settings.login_address_failures, "address"),
            Bucket(account_key(email), self.settings.login_account_failures, "account"),
        )
        async with self.database.unit_of_work() as session:
            user = await IdentityRepository(session).user_by_email(email)  # before the buckets' row locks are taken
            refused = await self._spend(session, buckets, email, user)
        if refused is not None:
            raise refused
        correct = await security.verify_password(user.password_hash if user else None, password)
        if not correct or user is None:
            raise errors.InvalidCredentials()
        async with self.database.unit_of_work() as session:
            throttle = LoginThrottleRepository(session)
            await throttle.give_back(buckets[0].key, self._interval(buckets[0]))
            await throttle.forget(buckets[1].key)
            await throttle.prune(time.time())
        if not user.is_active:
            raise errors.AccountDisabled()
        return security.create_access_token(
            str(user.id), self.settings.secret_key, self.settings.access_token_minutes, role=user.role.value
        )

    def _interval(self, bucket: Bucket) -> float:
        return self.settings.login_window_seconds / bucket.limit

    async def _spend(
        self, session: AsyncSession, buckets: tuple[Bucket, ...], email: str, user: User | None
    ) -> errors.LoginThrottled | None:
        """One attempt from every bucket, or from none: the refusal (audited if it starts a run) otherwise."""
        throttle = LoginThrottleRepository(session)
        now = time.time()
        window = float(self.settings.login_window_seconds)
        spent = await throttle.take({bucket.key: self._interval(bucket) for bucket in buckets}, now=now, window=window)
        for bucket in buckets:
            if bucket.key in spent:
                continue
            for other in buckets:
                if other.key in spent:
                    await throttle.give_back(other.key, self._interval(other))
            busy_until, refusals = await throttle.refuse(bucket.key)
            retry_after = max(1, math.ceil(busy_until + self._interval(bucket) - window - now))
            if refusals == 1:
                await audit.record(
                    session,
                    "login",
                    (user.id or 0) if user and bucket.scope == "account" else 0,
                    "throttled",
                    actor_user_id=None,
                    reason=bucket.scope,
                    changes={
                        "email": email[:MAX_EMAIL_LENGTH],
                        "address": self.client,
                        "via": self.via,
                        "limit": bucket.limit,
                        "window_seconds": self.settings.login_window_seconds,
                        "retry_after": retry_after,
                    },
                )
            log.warning(
                "login_throttled", scope=bucket.scope, address=self.client, retry_after=retry_after, refusals=refusals
            )
            return errors.LoginThrottled(retry_after, detail=f"请在 {retry_after} 秒后重试")
        return None


async def get_login_service(
    request: Request, database: Annotated[Database, Depends(get_database)], settings: SettingsDep
) -> LoginService:
    return LoginService(database, settings, client=client_address(request, settings), via=request.url.path)


LoginServiceDep = Annotated[LoginService, Depends(get_login_service)]
