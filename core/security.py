"""Security primitives: argon2 password hashes, short-lived JWTs, API keys stored as digests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "tmk_"
T = TypeVar("T")

_hasher = PasswordHasher()
# A valid hash of nothing in particular: verifying against it costs the same time as a real user,
# so a login for an unknown email cannot be told apart by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# Every argon2 call of the process runs in this pool, never on the event loop (one costs ~100 ms of
# CPU and 64 MiB): a login storm then occupies at most these threads (half the cores) and their
# memory, while the event loop keeps serving every other request. argon2-cffi releases the GIL.
PASSWORD_THREADS = max(1, (os.cpu_count() or 2) // 2)
PASSWORD_POOL = ThreadPoolExecutor(max_workers=PASSWORD_THREADS, thread_name_prefix="argon2")
_password_jobs = 0


def password_jobs() -> int:
    """argon2 hashes and verifications of this process queued or running in ``PASSWORD_POOL``."""
    return _password_jobs


async def _in_pool(work: Callable[..., T], *args: object) -> T:
    global _password_jobs
    _password_jobs += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(PASSWORD_POOL, work, *args)
    finally:
        _password_jobs -= 1


async def hash_password(password: str) -> str:
    return await _in_pool(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)  # raises on a mismatch; a dummy hash keeps the time even
        return password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Unknown accounts (``None``) are verified against a dummy hash: the same work, the same time."""
    return await _in_pool(_verify, password_hash, password)


class TokenError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason  # "expired" | "invalid"
        super().__init__(reason)


def create_access_token(subject: str, secret: str, minutes: int, **claims: object) -> str:
    now = datetime.now(UTC)
    payload = {"sub": subject, "iat": now, "exp": now + timedelta(minutes=minutes), "typ": "access", **claims}
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict[str, object]:
    try:
        payload = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "iat", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid") from exc
    if payload.get("typ") != "access":
        raise TokenError("invalid")
    return payload


@dataclass(frozen=True)
class NewApiKey:
    prefix: str  # public lookup part, stored in clear
    secret: str  # the whole key, shown to the user once
    digest: str  # what is stored


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(prefix=prefix, secret=secret, digest=api_key_digest(secret))


def api_key_digest(secret: str) -> str:
    """SHA-256 suffices: keys carry 256 bits of entropy, unlike passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key_prefix(secret: str) -> str | None:
    if not secret.startswith(API_KEY_PREFIX):
        return None
    prefix, _, rest = secret.removeprefix(API_KEY_PREFIX).partition("_")
    return prefix if len(prefix) == 8 and rest else None


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
