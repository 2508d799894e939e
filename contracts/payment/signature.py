"""Webhook signatures: HMAC-SHA256 over ``timestamp.body``, sent as ``Techmarket-Signature: t=...,v1=...``.

Several ``v1=`` values may be present (secret rotation); any match is enough. The timestamp must be
within the tolerance of our clock (default 5 minutes), so a captured delivery cannot be replayed
later; replays inside the window are caught by the inbox's unique event id.
"""

from __future__ import annotations

import hmac
import time

from core.security import hmac_sha256_hex

HEADER = "Techmarket-Signature"


class SignatureError(ValueError):
    reason = "signature_invalid"


class SignatureMalformed(SignatureError):
    reason = "signature_malformed"


class SignatureMismatch(SignatureError):
    reason = "signature_invalid"


class TimestampOutsideWindow(SignatureError):
    reason = "timestamp_outside_window"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed at ``timestamp`` (now by default)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac_sha256_hex(secret, f'{t}.'.encode() + body)}"


def verify(
    secret: str, header: str | None, body: bytes, *, tolerance_seconds: int = 300, now: float | None = None
) -> int:
    """The signed timestamp, if the header is well-formed, fresh and matches; else a SignatureError."""
    if not header:
        raise SignatureMalformed("missing signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureMalformed("signature header needs t= and v1=")
    expected = hmac_sha256_hex(secret, f"{timestamp}.".encode() + body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureMismatch("signature does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise TimestampOutsideWindow("timestamp outside the tolerance window")
    return timestamp
