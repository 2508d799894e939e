"""Upload memory: the server's RSS while it receives (and serves back) a 100 MB attachment.

    .venv/bin/python -m bench.upload_memory [--mb 100] [--store files|s3]

`techmarket serve` on the embedded profile (a fresh SQLite file and search file in a scratch data
directory, migrated, the demo accounts) as a subprocess on a free loopback port; with ``--store s3``
the attachment store is a moto_server (S3-compatible) started beside it. The client logs in as the
demo institute, creates a draft achievement and warms the upload path with a 1 MB file; then it
streams a ``--mb`` MB PDF (generated chunk by chunk, never whole in the client either) as one
multipart request while a sampler reads the server's RSS (its whole process group, /proc) every
20 ms, and downloads it back through the signed link the same way.

Prints the RSS before, the peak during and after each transfer, the peak growth, and the ratio of
that growth to the file's size (the anchor of the same run: a server that held the file in memory
would show >= 1.0); and the time against writing the same bytes to a local file (second anchor).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.load import machine
from tooling.servers import app_env, free_port, serving

MB = 1024 * 1024
CHUNK = MB
BOUNDARY = "techmarket-bench-" + secrets.token_hex(8)
INSTITUTE = "institute@demo.techmarket.cn"
PASSWORD = "Demo2026-techmarket"


def group_rss(group: int) -> int:
    """Resident bytes of every process in the group (serve and any child it started)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
            if int(raw[raw.rindex(")") + 2 :].split()[2]) != group:
                continue
            status = Path(entry.path, "status").read_text()
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


class Sampler:
    """The group's RSS every ``interval`` seconds in a thread; ``peak`` since the last ``reset``."""

    def __init__(self, group: int, interval: float = 0.02) -> None:
        self.group, self.interval = group, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, group_rss(self.group))
            time.sleep(self.interval)

    def reset(self) -> int:
        self.peak = now = group_rss(self.group)
        return now

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def content_chunks(size: int, seed: bytes) -> Iterator[bytes]:
    """A PDF-headed body of ``size`` bytes, chunk by chunk (deterministic: a SHA-256 counter stream)."""
    sent = 0
    first = b"%PDF-1.7\n"
    yield first
    sent += len(first)
    block = hashlib.sha256(seed).digest() * (CHUNK // 32)
    counter = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        counter += 1
        yield piece[:-8] + counter.to_bytes(8, "big") if len(piece) > 8 else piece
        sent += len(piece)


def multipart(size: int, seed: bytes) -> tuple[int, AsyncIterator[bytes], hashlib._Hash]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for chunk in content_chunks(size, seed):
            digest.update(chunk)
            yield chunk
        yield tail

    return len(head) + size + len(tail), body(), digest


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def disk_anchor(size: int) -> float:
    """Seconds to write the same bytes to a local file (and fsync): what storing costs at least."""
    with tempfile.NamedTemporaryFile() as handle:
        started = time.perf_counter()
        for chunk in content_chunks(size, b"anchor"):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
        return time.perf_counter() - started


async def run(base: str, group: int, size: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=600, trust_env=False) as client:
        token = (await client.post("/api/v1/auth/token", data={"username": INSTITUTE, "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        body = {
            "title": "上传基准: 科技成果评价报告",
            "summary": "用于测量大文件上传时服务端内存占用的草稿成果。",
            "field": "new_materials",
            "maturity": "pilot",
            "trl": 6,
            "ip_type": "invention_patent",
            "keywords": ["钕铁硼"],
            "transaction_modes": ["license"],
            "inventors": [{"name": "王磊", "share": 1}],
        }
        created = await client.post("/api/v1/achievements", json=body, headers=headers)
        assert created.status_code == 201, created.text[:500]
        url = f"/api/v1/achievements/{created.json()['id']}/attachments"

        async def upload(nbytes: int, seed: bytes) -> tuple[dict[str, object], str, float]:
            length, stream, digest = multipart(nbytes, seed)
            started = time.perf_counter()
            reply = await client.post(
                url,
                content=stream,
                headers={
                    **headers,
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                    "Content-Length": str(length),
                },
                params={"category": "evaluation_report"},
            )
            elapsed = time.perf_counter() - started
            assert reply.status_code == 201, reply.text[:300]
            return reply.json(), digest.hexdigest(), elapsed

        await upload(MB, b"warm-up")  # imports, pools, first object: outside the measurement
        with Sampler(group) as sampler:
            before = sampler.reset()
            item, sent_sha, upload_s = await upload(size, b"bench")
            upload_peak = sampler.peak
            after_upload = sampler.reset()
            assert item["sha256"] == sent_sha and item["size"] == size, item
            received, digest = 0, hashlib.sha256()
            started = time.perf_counter()
            async with client.stream("GET", str(item["download_url"])) as reply:
                assert reply.status_code == 200
                async for chunk in reply.aiter_bytes(CHUNK):
                    received += len(chunk)
                    digest.update(chunk)
            download_s = time.perf_counter() - started
            download_peak = sampler.peak
            after_download = group_rss(group)
        assert received == size and digest.hexdigest() == sent_sha
    anchor_s = disk_anchor(size)
    mib = size / MB

    def line(name: str, start: int, peak: int, end: int, seconds: float) -> None:
        growth = peak - start
        print(
            f"{name:9} RSS {start / MB:7.1f} MiB before, {peak / MB:7.1f} peak, {end / MB:7.1f} after: "
            f"growth {growth / MB:6.1f} MiB = {growth / size:.3f}x the file; "
            f"{seconds:5.2f} s ({mib / seconds:6.1f} MiB/s) = {seconds / anchor_s:.2f}x the local write"
        )

    print(f"file {mib:.0f} MiB; anchor: the same bytes written to a local file {anchor_s:.2f} s")
    line("upload", before, upload_peak, after_upload, upload_s)
    line("download", after_upload, download_peak, after_download, download_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="file size in MiB (PDF limit: 200)")
    parser.add_argument("--store", choices=("files", "s3"), default="files")
    args = parser.parse_args()
    print(machine(f"store={args.store}"))
    with tempfile.TemporaryDirectory(prefix="techmarket-bench-upload-") as scratch:
        data = Path(scratch, "data")
        data.mkdir()
        settings = {
            "TECHMARKET_DATA_DIR": str(data),
            "TECHMARKET_SECRET_KEY": secrets.token_urlsafe(48),
            "TECHMARKET_LOG_LEVEL": "WARNING",
        }
        with moto_server() if args.store == "s3" else _nothing() as s3_url:
            if s3_url:
                settings |= {
                    "TECHMARKET_STORAGE_S3_URL": s3_url,
                    "TECHMARKET_STORAGE_S3_ACCESS_KEY": "bench",
                    "TECHMARKET_STORAGE_S3_SECRET_KEY": "bench-secret",
                }
            env = app_env(**settings)
            subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "migrate"], env=env, check=True)
            subprocess.run(
                [sys.executable, "-c", "from app.cli import main; main()", "demo"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            with serving(env, Path(scratch), timeout=180) as (proc, base):
                asyncio.run(run(base, proc.pid, args.mb * MB))


@contextmanager
def _nothing() -> Iterator[str | None]:
    yield None


if __name__ == "__main__":
    main()
