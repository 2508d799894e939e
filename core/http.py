"""Outbound HTTP: one pooled httpx client per process, made in the lifespan."""

from __future__ import annotations

import httpx

from core.settings import Settings


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=min(3.0, settings.http_timeout_seconds))
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        headers={"User-Agent": "techmarket/0.1"},
        follow_redirects=False,
    )
