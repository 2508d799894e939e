"""The payment provider stub: a small, separate ASGI app with a Stripe-like surface.

Run it with ``techmarket payments-stub`` (docker-compose service ``payments``); the embedded profile's
``serve`` runs it itself (``contracts.payment.bundled``); tests serve it with uvicorn on a loopback
port. It keeps its state in memory.

API (``Authorization: Bearer <key>``)::

    POST /v1/payment_intents                 {amount, currency, metadata}   Idempotency-Key required
    POST /v1/payment_intents/{id}/confirm    -> processing, then succeeded after ``settle_delay``
    POST /v1/refunds                         {payment_intent, amount}       Idempotency-Key required
    GET  /v1/payment_intents/{id}            the intent (with its refunds and a ``version``)
    GET  /v1/payment_intents                 every intent, for reconciliation
    POST /v1/payouts                         {amount, currency, destination: {name, account}, metadata}
                                             Idempotency-Key required; pending → paid (or failed)
                                             after ``settle_delay``, events payout.created / .paid / .failed
    GET  /v1/payouts/{id}, GET /v1/payouts   one payout, every payout

Every change of an intent emits an event ``{id, type, created, data: {object: <intent>}}`` POSTed to
the webhook URL, signed with HMAC-SHA256 over ``timestamp.body`` (header ``Techmarket-Signature``),
retried on connection errors and 5xx. ``version`` grows with each change, so a receiver can tell an
old snapshot from a new one whatever order deliveries arrive in.

Fault knobs (``POST /_stub/faults``, JSON, any subset)::

    fail_next: N          the next N API calls answer 500 without doing anything
    delay_next: N         the next N API calls do their work, then wait ``delay_seconds`` to answer
    delay_seconds: S
    duplicate: N          deliver every event N times
    hold_webhooks: bool   queue events instead of sending them; ``POST /_stub/webhooks/release``
                          {"order": "reverse"|"forward"} sends the queue
    drop_webhooks: bool   never deliver (a provider that lost its webhooks; reconcile must notice)
    settle_delay: S       seconds from confirm to success (and from a payout to paid / failed)
    fail_payouts: N       the next N payouts are accepted, then fail (``account_closed``); a destination
                          account starting with ``fail`` always fails
    decline_payments: N   the next N confirmed intents fail (``card_declined``) instead of succeeding

``GET /_stub/state`` shows counters; ``POST /_stub/reset`` forgets everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts.payment.signature import HEADER, sign


@dataclass
class Faults:
    fail_next: int = 0
    delay_next: int = 0
    delay_seconds: float = 0.0
    duplicate: int = 1
    hold_webhooks: bool = False
    drop_webhooks: bool = False
    settle_delay: float = 0.05
    fail_payouts: int = 0
    decline_payments: int = 0


@dataclass
class StubState:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    failed_on_purpose: int = 0
    deliveries: int = 0
    delivery_failures: int = 0


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class StubProvider:
    """State, fault knobs and webhook delivery of the stub; ``.app`` is the ASGI app."""

    def __init__(self, *, webhook_url: str | None, webhook_secret: str, api_key: str | None = None) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.faults = Faults()
        self.state = StubState()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/payment_intents", self.create_intent, methods=["POST"]),
                Route("/v1/payment_intents", self.list_intents, methods=["GET"]),
                Route("/v1/payment_intents/{intent_id}", self.get_intent, methods=["GET"]),
                Route("/v1/payment_intents/{intent_id}/confirm", self.confirm_intent, methods=["POST"]),
                Route("/v1/refunds", self.create_refund, methods=["POST"]),
                Route("/v1/payouts", self.create_payout, methods=["POST"]),
                Route("/v1/payouts", self.list_payouts, methods=["GET"]),
                Route("/v1/payouts/{payout_id}", self.get_payout, methods=["GET"]),
                Route("/_stub/faults", self.set_faults, methods=["POST"]),
                Route("/_stub/state", self.show_state, methods=["GET"]),
                Route("/_stub/reset", self.reset, methods=["POST"]),
                Route("/_stub/webhooks/release", self.release, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- API guards ----------------------------------------------------------------------------

    async def _guard(self, request: Request) -> JSONResponse | None:
        self.state.requests += 1
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "unauthorized", "invalid API key")
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            self.state.failed_on_purpose += 1
            return _error(500, "injected_failure", "stub: injected failure")
        return None

    async def _answer(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        if self.faults.delay_next > 0:
            self.faults.delay_next -= 1
            await asyncio.sleep(self.faults.delay_seconds)
        return JSONResponse(body, status_code=status)

    async def _idempotent(self, request: Request, scope: str, work: Any) -> JSONResponse:
        """Run ``work(payload)`` once per Idempotency-Key; replays get the first answer."""
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "idempotency_key_required", "Idempotency-Key header is required")
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return _error(400, "invalid_json", "body is not JSON")
        fingerprint = hashlib.sha256(scope.encode() + b"|" + raw).hexdigest()
        async with self._lock:
            stored = self.state.idempotency.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    return _error(400, "idempotency_key_reused", "key was used with different parameters")
                return await self._answer(stored[2], stored[1])
            status, body = work(payload)
            if status < 500:
                self.state.idempotency[key] = (fingerprint, status, body)
        return await self._answer(body, status)

    # --- intents -------------------------------------------------------------------------------

    async def create_intent(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused

        def work(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            amount = payload.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return 400, {"error": {"code": "invalid_amount", "message": "amount must be a positive integer (fen)"}}
            intent = {
                "id": _new_id("pi"),
                "object": "payment_intent",
                "amount": amount,
                "currency": payload.get("currency", "cny"),
                "status": "requires_confirmation",
                "amount_received": 0,
                "amount_refunded": 0,
                "refunds": [],
                "metadata": dict(payload.get("metadata") or {}),
                "created": int(time.time()),
                "version": 1,
            }
            self.state.intents[intent["id"]] = intent
            self._emit("payment_intent.created", intent)
            return 200, dict(intent)

        return await self._idempotent(request, "create", work)

    async def confirm_intent(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused
        intent = self.state.intents.get(request.path_params["intent_id"])
        if intent is None:
            return _error(404, "not_found", "no such payment intent")
        if intent["status"] == "requires_confirmation":
            intent["status"] = "processing"
            intent["version"] += 1
            self._emit("payment_intent.processing", intent)
            self._spawn(self._settle(intent["id"]))
        return await self._answer(self._snapshot(intent))

    async def _settle(self, intent_id: str) -> None:
        await asyncio.sleep(self.faults.settle_delay)
        intent = self.state.intents.get(intent_id)
        if intent is not None and intent["status"] == "processing":
            if self.faults.decline_payments > 0:
                self.faults.decline_payments -= 1
                intent["status"] = "failed"
                intent["version"] += 1
                self._emit("payment_intent.payment_failed", intent)
                return
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            intent["version"] += 1
            self._emit("payment_intent.succeeded", intent)

    async def create_refund(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused

        def work(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent = self.state.intents.get(str(payload.get("payment_intent")))
            if intent is None:
                return 404, {"error": {"code": "not_found", "message": "no such payment intent"}}
            if intent["status"] != "succeeded":
                return 400, {"error": {"code": "not_refundable", "message": "payment has not succeeded"}}
            amount = payload.get("amount", intent["amount_received"] - intent["amount_refunded"])
            if (
                not isinstance(amount, int)
                or amount <= 0
                or intent["amount_refunded"] + amount > intent["amount_received"]
            ):
                return 400, {"error": {"code": "invalid_amount", "message": "refund exceeds what is left"}}
            refund = {
                "id": _new_id("re"),
                "object": "refund",
                "amount": amount,
                "payment_intent": intent["id"],
                "created": int(time.time()),
            }
            intent["refunds"].append(refund)
            intent["amount_refunded"] += amount
            intent["version"] += 1
            self._emit("charge.refunded", intent)
            return 200, refund

        return await self._idempotent(request, "refund", work)

    async def get_intent(self, request: Request) -> JSONResponse:
        return await self._one(request, self.state.intents, "intent_id", "no such payment intent")

    async def list_intents(self, request: Request) -> JSONResponse:
        return await self._all(request, self.state.intents)

    async def _one(self, request: Request, store: dict[str, dict[str, Any]], key: str, missing: str) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused
        item = store.get(request.path_params[key])
        if item is None:
            return _error(404, "not_found", missing)
        return await self._answer(self._snapshot(item))

    async def _all(self, request: Request, store: dict[str, dict[str, Any]]) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused
        data = [self._snapshot(item) for item in store.values()]
        return await self._answer({"object": "list", "data": data, "has_more": False})

    # --- payouts -------------------------------------------------------------------------------

    async def create_payout(self, request: Request) -> JSONResponse:
        if (refused := await self._guard(request)) is not None:
            return refused

        def work(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            amount = payload.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return 400, {"error": {"code": "invalid_amount", "message": "amount must be a positive integer (fen)"}}
            destination = payload.get("destination")
            if not isinstance(destination, dict) or not destination.get("account"):
                return 400, {"error": {"code": "invalid_destination", "message": "destination.account is required"}}
            payout = {
                "id": _new_id("po"),
                "object": "payout",
                "amount": amount,
                "currency": payload.get("currency", "cny"),
                "status": "pending",
                "destination": {str(k): str(v) for k, v in destination.items()},
                "failure_code": None,
                "failure_message": None,
                "metadata": dict(payload.get("metadata") or {}),
                "created": int(time.time()),
                "version": 1,
            }
            fails = str(destination["account"]).startswith("fail") or self.faults.fail_payouts > 0
            if self.faults.fail_payouts > 0:
                self.faults.fail_payouts -= 1
            self.state.payouts[payout["id"]] = payout
            self._emit("payout.created", payout)
            self._spawn(self._settle_payout(payout["id"], fails))
            return 200, self._snapshot(payout)

        return await self._idempotent(request, "payout", work)

    async def _settle_payout(self, payout_id: str, fails: bool) -> None:
        await asyncio.sleep(self.faults.settle_delay)
        payout = self.state.payouts.get(payout_id)
        if payout is None or payout["status"] != "pending":
            return
        if fails:
            payout["status"], payout["failure_code"] = "failed", "account_closed"
            payout["failure_message"] = "收款账户已销户"
        else:
            payout["status"] = "paid"
        payout["version"] += 1
        self._emit(f"payout.{payout['status']}", payout)

    async def get_payout(self, request: Request) -> JSONResponse:
        return await self._one(request, self.state.payouts, "payout_id", "no such payout")

    async def list_payouts(self, request: Request) -> JSONResponse:
        return await self._all(request, self.state.payouts)

    @staticmethod
    def _snapshot(intent: dict[str, Any]) -> dict[str, Any]:
        snapshot: dict[str, Any] = json.loads(json.dumps(intent))
        return snapshot

    # --- webhooks ------------------------------------------------------------------------------

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        event = {
            "id": _new_id("evt"),
            "type": kind,
            "created": int(time.time()),
            "data": {"object": self._snapshot(obj)},
        }
        self.state.events.append(event)
        if self.faults.drop_webhooks or not self.webhook_url:
            return
        if self.faults.hold_webhooks:
            self.state.held.append(event)
            return
        self._spawn(self._deliver_all(event))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self, event: dict[str, Any]) -> None:
        for _ in range(max(1, self.faults.duplicate)):
            await self._deliver(event)

    async def _deliver(self, event: dict[str, Any], attempts: int = 6) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
        body = json.dumps(event, ensure_ascii=False).encode()
        delay = 0.05
        for _ in range(attempts):
            try:
                reply = await self._http.post(
                    str(self.webhook_url),
                    content=body,
                    headers={"content-type": "application/json", HEADER: sign(self.webhook_secret, body)},
                )
                self.state.deliveries += 1
                if reply.status_code < 500:
                    return  # 2xx delivered; 4xx refused for good (bad signature, replay)
            except httpx.HTTPError:
                pass
            self.state.delivery_failures += 1
            await asyncio.sleep(delay)
            delay *= 2

    # --- control -------------------------------------------------------------------------------

    async def set_faults(self, request: Request) -> JSONResponse:
        changes = await request.json()
        for name, value in changes.items():
            if not hasattr(self.faults, name):
                return _error(400, "unknown_fault", f"unknown knob {name}")
            setattr(self.faults, name, value)
        return JSONResponse(self.faults.__dict__)

    async def release(self, request: Request) -> JSONResponse:
        order = (await request.json() if await request.body() else {}).get("order", "forward")
        held, self.state.held = self.state.held, []
        if order == "reverse":
            held.reverse()
        for event in held:  # sequentially, in the order asked for
            await self._deliver_all(event)
        return JSONResponse({"released": len(held)})

    async def show_state(self, _request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "intents": len(self.state.intents),
                "payouts": len(self.state.payouts),
                "events": len(self.state.events),
                "held": len(self.state.held),
                "requests": self.state.requests,
                "failed_on_purpose": self.state.failed_on_purpose,
                "deliveries": self.state.deliveries,
                "delivery_failures": self.state.delivery_failures,
                "faults": self.faults.__dict__,
            }
        )

    async def reset(self, _request: Request) -> JSONResponse:
        self.state = StubState()
        self.faults = Faults()
        return JSONResponse({"reset": True})

    async def healthz(self, _request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})


def create_stub_app(webhook_url: str | None, webhook_secret: str, api_key: str | None = None) -> Starlette:
    return StubProvider(webhook_url=webhook_url, webhook_secret=webhook_secret, api_key=api_key).app
