"""The payment provider spoken to over HTTP with httpx (the app's pooled client from the lifespan).

Errors::

    ProviderError
    ├── ProviderUnavailable   timeouts, connection errors and 5xx, after every retry
    └── ProviderRejected      a 4xx answer: the request itself is wrong; retrying will not help

Timeouts and 5xx are retried with exponential backoff and the *same* Idempotency-Key, so a request
the provider did carry out before the connection broke is answered from its idempotency store and
never done twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from contracts.settings import PaymentSettings
from core.observability import PROCESS_METRICS

log = structlog.get_logger("techmarket.payments")
CURRENCY = "cny"  # every intent the platform creates is in 人民币 fen


class ProviderError(Exception):
    pass


class ProviderUnavailable(ProviderError):
    pass


class ProviderRejected(ProviderError):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"{status} {code}: {message}")


@dataclass(frozen=True)
class RefundSnapshot:
    id: str
    amount: int


@dataclass(frozen=True)
class IntentSnapshot:
    """What the provider says about one payment intent; ``version`` grows with every change."""

    id: str
    amount: int
    currency: str
    status: str
    amount_received: int
    amount_refunded: int
    refunds: tuple[RefundSnapshot, ...]
    metadata: dict[str, str]
    version: int

    @classmethod
    def parse(cls, data: dict[str, Any]) -> IntentSnapshot:
        return cls(
            id=str(data["id"]),
            amount=int(data["amount"]),
            currency=str(data.get("currency", "")).lower(),
            status=str(data["status"]),
            amount_received=int(data.get("amount_received", 0)),
            amount_refunded=int(data.get("amount_refunded", 0)),
            refunds=tuple(RefundSnapshot(id=str(r["id"]), amount=int(r["amount"])) for r in data.get("refunds", [])),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            version=int(data.get("version", 0)),
        )


PAYOUT_STATUSES = ("pending", "in_transit", "paid", "failed")


@dataclass(frozen=True)
class PayoutSnapshot:
    """What the provider says about one payout (money the platform sends out); ``version`` grows."""

    id: str
    amount: int
    currency: str
    status: str  # pending → in_transit → paid | failed
    failure_code: str | None
    failure_message: str | None
    metadata: dict[str, str]
    version: int

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PayoutSnapshot:
        return cls(
            id=str(data["id"]),
            amount=int(data["amount"]),
            currency=str(data.get("currency", "")).lower(),
            status=str(data["status"]),
            failure_code=None if data.get("failure_code") is None else str(data["failure_code"]),
            failure_message=None if data.get("failure_message") is None else str(data["failure_message"]),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            version=int(data.get("version", 0)),
        )


class PaymentProvider:
    def __init__(self, http: httpx.AsyncClient, settings: PaymentSettings) -> None:
        self.http = http
        self.settings = settings
        self.base_url = settings.provider_url.rstrip("/")

    async def create_intent(self, amount: int, metadata: dict[str, str], idempotency_key: str) -> IntentSnapshot:
        data = await self._request(
            "POST",
            "/v1/payment_intents",
            {"amount": amount, "currency": CURRENCY, "metadata": metadata},
            idempotency_key,
        )
        return IntentSnapshot.parse(data)

    async def confirm(self, intent_id: str, idempotency_key: str) -> IntentSnapshot:
        return IntentSnapshot.parse(
            await self._request("POST", f"/v1/payment_intents/{intent_id}/confirm", {}, idempotency_key)
        )

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> dict[str, Any]:
        return await self._request(
            "POST", "/v1/refunds", {"payment_intent": intent_id, "amount": amount}, idempotency_key
        )

    async def get_intent(self, intent_id: str) -> IntentSnapshot:
        return IntentSnapshot.parse(await self._request("GET", f"/v1/payment_intents/{intent_id}"))

    async def list_intents(self) -> list[IntentSnapshot]:
        data = await self._request("GET", "/v1/payment_intents")
        return [IntentSnapshot.parse(item) for item in data.get("data", [])]

    async def create_payout(
        self, amount: int, destination: dict[str, str], metadata: dict[str, str], idempotency_key: str
    ) -> PayoutSnapshot:
        """Send ``amount`` fen to ``destination`` ({"name", "account"}); the outcome arrives by webhook.

        Retried with the same Idempotency-Key (see ``_request``), so one key is at most one payout.
        """
        data = await self._request(
            "POST",
            "/v1/payouts",
            {"amount": amount, "currency": CURRENCY, "destination": destination, "metadata": metadata},
            idempotency_key,
        )
        return PayoutSnapshot.parse(data)

    async def get_payout(self, payout_id: str) -> PayoutSnapshot:
        return PayoutSnapshot.parse(await self._request("GET", f"/v1/payouts/{payout_id}"))

    async def list_payouts(self) -> list[PayoutSnapshot]:
        data = await self._request("GET", "/v1/payouts")
        return [PayoutSnapshot.parse(item) for item in data.get("data", [])]

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.settings.provider_api_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        delay = self.settings.backoff_seconds
        last_error = "no attempt"
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                reply = await self.http.request(
                    method, self.base_url + path, json=body, headers=headers, timeout=self.settings.timeout_seconds
                )
            except httpx.TransportError as exc:  # includes timeouts
                last_error, reason = f"{type(exc).__name__}: {exc}", "transport"
            else:
                if reply.status_code < 400:
                    return reply.json()
                if reply.status_code < 500:
                    error = _error_of(reply)
                    raise ProviderRejected(reply.status_code, error.get("code", "rejected"), error.get("message", ""))
                last_error, reason = f"HTTP {reply.status_code}", "http_5xx"
            log.warning("provider_retry", method=method, path=path, attempt=attempt, error=last_error)
            PROCESS_METRICS.payment_provider_retries.labels(method, reason).inc()
            if attempt < self.settings.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise ProviderUnavailable(f"{method} {path}: {last_error}")


def _error_of(reply: httpx.Response) -> dict[str, str]:
    try:
        error = reply.json().get("error", {})
        return error if isinstance(error, dict) else {}
    except ValueError:
        return {}
