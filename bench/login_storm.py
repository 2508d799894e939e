"""Login storm: GET /healthz p99 while 50 clients send wrong passwords, against the same server idle.

    .venv/bin/python -m bench.login_storm [--clients 50] [--seconds 10] [--workers 1]
    .venv/bin/python -m bench.login_storm --url http://127.0.0.1:8000   # a server started by hand (A/B)

`techmarket serve` on the server profile (a fresh PostgreSQL database with the demo accounts, a
throwaway Meilisearch) as a subprocess on a free loopback port. A probe on its own keep-alive
connection sends GET /healthz every 20 ms and records each latency:

1. idle: the probe alone (the anchor);
2. storm, every attempt verified: the throttle's limits raised to 10^6, so each wrong password
   costs a real argon2 verification, as a storm from many addresses would, which no per-address
   limit stops. This is what shows whether argon2 holds up the event loop;
3. storm, default throttle (a second server): all from one address (127.0.0.1), so after 100
   failures the attempts are refused with 429 without argon2; the probe starts at the first 429
   (waiting at most ``--engage-timeout``), so it measures the throttled state.

Each storm: ``--clients`` closed-loop clients on keep-alive connections, wrong passwords for the
demo accounts and for unknown e-mails, from one second before the probe until its ``--seconds``
end, at most ``--max-requests`` attempts in all; loopback only. Stopping closes the connections (the
server is stopped next). Prints p50/p99 of the probe per phase and the ratio of each storm's p99 to
the idle p99 of the same server, plus what the storm got (401/429, answers/s, login latency).
With ``--url`` nothing is started: the phases run against that server as it is configured.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from contextlib import ExitStack
from urllib.parse import urlencode

from bench.load import Connection, machine, percentile
from bench.servers import api_server, postgres_version, temp_database

FORM = "application/x-www-form-urlencoded"
DEMO_ACCOUNTS = [
    "admin@demo.techmarket.cn",
    "baotou-admin@demo.techmarket.cn",
    "univ@demo.techmarket.cn",
    "institute@demo.techmarket.cn",
    "enterprise@demo.techmarket.cn",
]
UNLIMITED = {"TECHMARKET_LOGIN_ACCOUNT_FAILURES": "1000000", "TECHMARKET_LOGIN_ADDRESS_FAILURES": "1000000"}


async def probe(base: str, seconds: float, interval: float = 0.02) -> list[float]:
    """/healthz latencies (s), one request every ``interval`` on one connection, for ``seconds``."""
    connection = Connection(base)
    latencies: list[float] = []
    try:
        await connection.request("GET", "/healthz")  # connect outside the measurement
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await connection.request("GET", "/healthz")
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"/healthz answered {status}")
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    finally:
        await connection.close()
    return latencies


class Storm:
    """Wrong passwords from ``clients`` closed-loop connections until stopped or ``max_requests`` are sent.

    Stopping closes the connections at once: the attempts still queued in the server are not waited
    for (the server is stopped next, or drains them by itself)."""

    def __init__(self, base: str, clients: int, max_requests: int) -> None:
        self.base, self.max_requests = base, max_requests
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.sent = 0
        self.began = time.perf_counter()
        self.tasks = [asyncio.create_task(self._client(n)) for n in range(clients)]

    async def _client(self, number: int) -> None:
        connection = Connection(self.base)
        try:
            while self.sent < self.max_requests:
                self.sent += 1
                n = self.sent
                email = DEMO_ACCOUNTS[n % len(DEMO_ACCOUNTS)] if n % 2 else f"nobody{n % 500}@example.cn"
                body = urlencode({"username": email, "password": f"wrong-{number}-{n}"}).encode()
                started = time.perf_counter()
                status, _ = await connection.request("POST", "/api/v1/auth/token", body, content_type=FORM)
                self.latencies.append(time.perf_counter() - started)
                self.statuses[status] += 1
        finally:
            await connection.close()

    async def stop(self) -> float:
        wall = time.perf_counter() - self.began
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return wall


def ms(samples: list[float], p: float) -> float:
    return percentile(samples, p) * 1000


async def phase(
    label: str, base: str, args: argparse.Namespace, idle_p99: float | None = None, *, wait_for_429: bool = False
) -> float:
    """The probe's p99 (ms): alone if ``idle_p99`` is None, else during a storm, compared with it."""
    if idle_p99 is None:
        samples = await probe(base, args.seconds)
        print(
            f"{label:34} /healthz p50 {ms(samples, 50):7.2f} ms   p99 {ms(samples, 99):7.2f} ms   "
            f"({len(samples)} probes)"
        )
        return ms(samples, 99)
    storm = Storm(base, args.clients, args.max_requests)
    await asyncio.sleep(1.0)  # the storm is at full strength before the probe starts
    if wait_for_429:  # the probe measures the throttled state: wait until the throttle has engaged
        deadline = time.perf_counter() + args.engage_timeout
        while 429 not in storm.statuses and time.perf_counter() < deadline and storm.sent < args.max_requests:
            await asyncio.sleep(0.2)
        print(
            f"{'':34} first 429 after {time.perf_counter() - storm.began:.1f} s"
            if 429 in storm.statuses
            else f"{'':34} no 429 within {args.engage_timeout:g} s"
        )
    samples = await probe(base, args.seconds)
    wall = await storm.stop()
    statuses, logins = storm.statuses, storm.latencies
    p99 = ms(samples, 99)
    ratio = f"{p99 / idle_p99:.2f}x idle"
    answered = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))
    print(f"{label:34} /healthz p50 {ms(samples, 50):7.2f} ms   p99 {p99:7.2f} ms   ({len(samples)} probes)   {ratio}")
    print(
        f"{'':34} storm: {sum(statuses.values())} answered in {wall:.1f} s ({sum(statuses.values()) / wall:.1f}/s; "
        f"{answered}); "
        + (f"login p50 {ms(logins, 50):.0f} ms, p99 {ms(logins, 99):.0f} ms" if logins else "no login answered")
    )
    return p99


async def main(args: argparse.Namespace) -> None:
    from app.demo import load_demo
    from app.models import install_listeners
    from core.db import Database
    from core.settings import Settings
    from tooling.meili_process import running_meilisearch

    print(
        f"bench: /healthz every 20 ms for {args.seconds:g} s, idle and during a storm of {args.clients} clients "
        f"sending wrong passwords (at most {args.max_requests} attempts per storm)"
    )
    if args.url:
        print(machine(f"server at {args.url} as started by hand") + "\n")
        idle = await phase("idle", args.url, args)
        await phase("storm (server as configured)", args.url, args, idle)
        return
    async with temp_database() as (dsn, url):
        print(machine(f"PostgreSQL {await postgres_version(dsn)}; serve --workers {args.workers}") + "\n")
        install_listeners()  # the demo writes a contract, as the root does it
        database = Database.from_settings(Settings(database_url=url))
        try:
            async with database.unit_of_work() as session:
                await load_demo(session, Settings(database_url=url))
        finally:
            await database.dispose()
        with running_meilisearch() as meili, ExitStack() as servers:
            unlimited = servers.enter_context(
                api_server(url, meili.url, meili.master_key, workers=args.workers, settings=UNLIMITED)
            )
            idle = await phase("idle", unlimited, args)
            verified = await phase("storm, every attempt verified", unlimited, args, idle)
            servers.close()
            throttled = servers.enter_context(api_server(url, meili.url, meili.master_key, workers=args.workers))
            idle_again = await phase("idle (default throttle)", throttled, args)
            limited = await phase("storm, default throttle", throttled, args, idle_again, wait_for_429=True)
        print(
            f"\nratio /healthz p99 storm / idle: every attempt verified {verified / idle:.2f}x "
            f"({verified:.2f} / {idle:.2f} ms); default throttle {limited / idle_again:.2f}x "
            f"({limited:.2f} / {idle_again:.2f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="probe window per phase")
    parser.add_argument("--max-requests", type=int, default=20_000, help="attempts per storm, at most")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--engage-timeout",
        type=float,
        default=120.0,
        help="default-throttle storm: seconds to wait for the first 429 before probing",
    )
    parser.add_argument("--url", help="measure a running server instead of starting one (loopback only)")
    parsed = parser.parse_args()
    if parsed.url and not parsed.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("--url must be a loopback address")
    asyncio.run(main(parsed))
