"""Load generation and its report: the machine line, closed-loop HTTP clients, percentiles, PASS/MISS.

The load generator shares the two cores with the server it measures, so ``Connection`` is a minimal
keep-alive HTTP/1.1 client on raw asyncio streams: it costs little CPU, and the same for the API and
for Meilisearch, so neither side of a ratio pays more for its client than the other.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


def machine(extra: str = "") -> str:
    """The line each bench prints first: figures from different hosts are not comparable."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    line = (
        f"machine: nproc={os.cpu_count()} ({cpu}), {memory} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    return line + (f", {extra}" if extra else "")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class HttpError(RuntimeError):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length or chunked replies)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("connection closed")
        status = int(status_line.split()[1])
        length, chunked = None, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length or 0)
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


@dataclass
class LoadResult:
    """One target's run: every latency kept, so any percentile can be read afterwards."""

    label: str
    latencies: list[float]  # seconds
    wall: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    def line(self) -> str:
        return (
            f"{self.label:38} {self.throughput:9.1f} req/s   p50 {self.ms(50):8.2f} ms   p95 {self.ms(95):8.2f} ms   "
            f"p99 {self.ms(99):8.2f} ms   ({len(self.latencies)} requests, {self.errors} errors)"
        )


async def run_load(
    label: str,
    base_url: str,
    requests: Sequence[tuple[str, str, bytes | None]],
    *,
    concurrency: int,
    headers: dict[str, str] | None = None,
    check: Any = None,
) -> LoadResult:
    """Send every request once from ``concurrency`` closed-loop clients; per-request latencies.

    ``check(status, body)`` may raise to count an error; by default any non-200 is an error.
    """
    queue: asyncio.Queue[tuple[str, str, bytes | None]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        connection = Connection(base_url, headers)
        try:
            while not queue.empty():
                method, path, body = queue.get_nowait()
                started = time.perf_counter()
                status, payload = await connection.request(method, path, body)
                latencies.append(time.perf_counter() - started)
                if status != 200 or (check is not None and not check(payload)):
                    errors += 1
                    if errors <= 3:
                        print(f"  ! {label}: HTTP {status} for {path}: {payload[:200]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return LoadResult(label, latencies, time.perf_counter() - started, errors)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
