"""The bundled provider: the stub served on a loopback port inside ``serve`` (embedded profile).

The embedded default has no provider of its own to point at, so ``serve`` runs the stub beside the
API: same HTTP protocol, same signed webhooks, posted back to the API's own address. It runs in a
thread of the serving process (the supervisor when ``--workers`` > 1), so there is one stub whatever
the number of workers, and it stops when ``serve`` returns.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from contracts.payment.stub import create_stub_app
from contracts.settings import PaymentSettings

URL_VARIABLE = "TECHMARKET_PAYMENT_PROVIDER_URL"
WEBHOOK_PATH = "/api/v1/payments/webhook"
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def provider_url_is_set(settings: PaymentSettings) -> bool:
    return "provider_url" in settings.model_fields_set


def loopback_webhook_url(host: str, port: int) -> str:
    """The API's own webhook URL as seen from this machine (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{WEBHOOK_PATH}"


@contextmanager
def bundled_provider(webhook_url: str, settings: PaymentSettings) -> Iterator[str]:
    """Serve the stub on 127.0.0.1 (a free port) until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_stub_app(webhook_url, settings.webhook_secret, settings.provider_api_key)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="payment-provider", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the bundled payment provider did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
