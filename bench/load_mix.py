"""Load test: a realistic mix against `techmarket serve` on the server profile.

    .venv/bin/python -m bench.load_mix [--n 5000] [--requests 3000] [--concurrency 8] [--workers 2]

N published achievements (and N/20 demands) in a fresh PostgreSQL database, indexed in a throwaway
Meilisearch; the API as a subprocess. Every client logs in as a demo organization and sends, from a
seeded shuffle: 40% search, 25% listing reads, 10% matches, 15% new listings (drafts), 10% contract
reads. Prints throughput, p50/p99 per kind and overall, errors, and the resident memory of the
server processes after the run. Anchor: GET /healthz (no database, no engine) at the same
concurrency, in the same run, so the ratio shows what the real work costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx

from bench.corpus import Corpus
from bench.load import Connection, machine, percentile
from bench.seed import copy_published, fill_index, search_documents
from bench.servers import api_server, postgres_version, temp_database

MIX = (("search", 40), ("read", 25), ("match", 10), ("create", 15), ("contract", 10))


def server_rss_mib(port: int) -> float:
    """Resident memory of the serve process and its uvicorn workers (found by their command line)."""
    parents, rss = set(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if f"--port {port}" in cmdline or ppid in parents:
            parents.add(int(pid))
            rss += int(next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0"))
    return rss / 1024


async def load(base: str, plan: list[tuple[str, str, str, bytes | None]], headers: dict[str, str], concurrency: int):  # type: ignore[no-untyped-def]
    queue: asyncio.Queue[tuple[str, str, str, bytes | None]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)

    async def client() -> None:
        connection = Connection(base, headers)
        try:
            while not queue.empty():
                kind, method, path, body = queue.get_nowait()
                started = time.perf_counter()
                status, payload = await connection.request(method, path, body)
                latencies[kind].append(time.perf_counter() - started)
                if status >= 400:
                    errors[kind] += 1
                    if errors[kind] <= 2:
                        print(f"  ! {kind}: HTTP {status} {path}: {payload[:160]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def report(label: str, latencies: dict[str, list[float]], errors: dict[str, int], wall: float) -> float:
    everything = [x for values in latencies.values() for x in values]
    throughput = len(everything) / wall
    print(
        f"{label}: {len(everything)} requests in {wall:.1f} s = {throughput:.1f} req/s, "
        f"p50 {percentile(everything, 50) * 1000:.1f} ms, p99 {percentile(everything, 99) * 1000:.1f} ms, "
        f"errors {sum(errors.values())}"
    )
    for kind, values in sorted(latencies.items()):
        print(
            f"    {kind:9} {len(values):6} req  p50 {percentile(values, 50) * 1000:8.1f} ms  "
            f"p99 {percentile(values, 99) * 1000:8.1f} ms  errors {errors.get(kind, 0)}"
        )
    return throughput


async def main(args: argparse.Namespace) -> None:
    from app.demo import load_demo
    from app.models import install_listeners
    from core.db import Database
    from core.settings import Settings
    from market.demo import DEMO_PASSWORD
    from search.adapters.meilisearch import MeilisearchEngine
    from tooling.meili_process import running_meilisearch

    corpus = Corpus()
    achievements, demands = corpus.achievements(args.n), corpus.demands(max(20, args.n // 20))
    queries = corpus.queries(200)
    async with temp_database() as (dsn, url):
        print(machine(f"PostgreSQL {await postgres_version(dsn)}"))
        print(
            f"bench: mixed load on {args.n:,} achievements, {len(demands):,} demands; {args.requests} requests "
            f"at {args.concurrency} clients; API with {args.workers} worker(s)\n"
        )
        install_listeners()  # the demo writes a contract, as the root does it
        database = Database.from_settings(Settings(database_url=url))
        try:
            async with database.unit_of_work() as session:
                await load_demo(session, Settings(database_url=url))  # demo users log in; the demo contract is read
        finally:
            await database.dispose()
        await copy_published(dsn, corpus, achievements, demands)
        connection = await asyncpg.connect(dsn)
        try:
            achievement_ids = [
                r[0] for r in await connection.fetch("SELECT id FROM achievements WHERE status = 'published'")
            ]
            demand_ids = [r[0] for r in await connection.fetch("SELECT id FROM demands WHERE status = 'published'")]
            contract_ids = [r[0] for r in await connection.fetch("SELECT id FROM contracts")]
        finally:
            await connection.close()
        with running_meilisearch() as meili:
            engine = MeilisearchEngine(
                meili.url, api_key=meili.master_key, index_prefix="techmarket", timeout_seconds=30
            )
            await engine.ensure_ready()
            await engine.aclose()
            await fill_index(
                meili.url,
                meili.master_key,
                "techmarket_achievement",
                await search_documents(dsn, "achievement", achievements),
            )
            await fill_index(
                meili.url, meili.master_key, "techmarket_demand", await search_documents(dsn, "demand", demands)
            )
            with api_server(url, meili.url, meili.master_key, workers=args.workers) as base:
                port = int(base.rsplit(":", 1)[1])
                token = httpx.post(
                    f"{base}/api/v1/auth/token",
                    trust_env=False,
                    data={"username": "institute@demo.techmarket.cn", "password": DEMO_PASSWORD},
                ).json()
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                rng = random.Random(7)
                kinds = [kind for kind, weight in MIX for _ in range(weight)]
                plan: list[tuple[str, str, str, bytes | None]] = []
                for i in range(args.requests):
                    kind = rng.choice(kinds)
                    if kind == "search":
                        plan.append((kind, "GET", f"/api/v1/search/achievements?q={quote(rng.choice(queries))}", None))
                    elif kind == "read":
                        plan.append((kind, "GET", f"/api/v1/achievements/{rng.choice(achievement_ids)}", None))
                    elif kind == "match":
                        plan.append((kind, "GET", f"/api/v1/demands/{rng.choice(demand_ids)}/matches?limit=10", None))
                    elif kind == "create":
                        row = dict(achievements[rng.randrange(len(achievements))])
                        body = {
                            k: row[k]
                            for k in (
                                "title",
                                "summary",
                                "field",
                                "keywords",
                                "maturity",
                                "trl",
                                "ip_type",
                                "transaction_modes",
                                "region",
                                "advantages",
                            )
                        }
                        body["title"] = f"{row['title']} (load {i})"
                        plan.append(
                            (kind, "POST", "/api/v1/achievements", json.dumps(body, ensure_ascii=False).encode())
                        )
                    else:
                        plan.append((kind, "GET", f"/api/v1/contracts/{rng.choice(contract_ids)}", None))
                anchor = await load(
                    base, [("healthz", "GET", "/healthz", None)] * args.requests, headers, args.concurrency
                )
                base_throughput = report("anchor GET /healthz", *anchor)
                rss_before = server_rss_mib(port)
                mixed = await load(base, plan, headers, args.concurrency)
                throughput = report("mixed load", *mixed)
                print(f"\nratio mixed/anchor throughput {throughput / base_throughput:.3f}x")
                print(
                    f"server memory (RSS, all processes): {rss_before:.0f} MiB before, "
                    f"{server_rss_mib(port):.0f} MiB after the run"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
