"""A throwaway local Meilisearch server: for tests, the eval command and benchmarks.

The binary comes from ``$TECHMARKET_MEILISEARCH_BIN`` or ``scripts/install-meilisearch.sh`` (which
verifies and caches the official 1.21.0 release); the server listens on a free loopback port with a
random master key and a temporary data directory, all removed by ``stop``.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-meilisearch.sh"
BIN_ENV_VAR = "TECHMARKET_MEILISEARCH_BIN"

STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
MAX_INDEXING_MEMORY = "1GiB"
_START_ATTEMPTS = 3  # retries only cover the (unlikely) free-port race


@dataclass
class MeiliServer:
    url: str
    master_key: str
    process: subprocess.Popen[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"}


class MeilisearchTaskError(RuntimeError):
    """Raised when a Meilisearch task fails or does not finish in time."""


def _resolve_binary() -> Path:
    override = os.environ.get(BIN_ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeError(f"{BIN_ENV_VAR}={override!r} is not an executable file")
        return path

    result = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{INSTALL_SCRIPT} failed with exit code {result.returncode}:\n{result.stderr.strip()}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{INSTALL_SCRIPT} printed no binary path")
    path = Path(lines[-1].strip())
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(f"{INSTALL_SCRIPT} reported {path}, which is not executable")
    return path


@functools.cache
def _help_text(binary: str) -> str:
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, check=False, timeout=30)
    return result.stdout + result.stderr


def _supports_flag(binary: Path, flag: str) -> bool:
    return flag in _help_text(str(binary))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log_path: Path, max_lines: int = 40) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"<could not read {log_path}: {exc}>"
    return "\n".join(lines[-max_lines:])


def _child_env() -> dict[str, str]:
    # Keep a developer's MEILI_* settings from leaking into the test server.
    return {k: v for k, v in os.environ.items() if not k.startswith("MEILI_")}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    else:
        process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = "no response yet"
    with httpx.Client(base_url=url, timeout=2.0, trust_env=False) as client:
        while True:
            code = process.poll()
            if code is not None:
                raise RuntimeError(
                    f"meilisearch exited with code {code} during startup; log tail:\n{_log_tail(log_path)}"
                )
            try:
                response = client.get("/health")
                if response.status_code == 200 and response.json().get("status") == "available":
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last_error = repr(exc)
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"meilisearch at {url} not healthy after {STARTUP_TIMEOUT:.0f}s "
                    f"(last error: {last_error}); log tail:\n{_log_tail(log_path)}"
                )
            time.sleep(0.1)


def _start(binary: Path, workdir: Path, master_key: str, attempt: int, port: int | None = None) -> MeiliServer:
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"meilisearch-{attempt}.log"
    cmd = [
        str(binary),
        "--http-addr",
        f"127.0.0.1:{port}",
        f"--master-key={master_key}",  # token_urlsafe may start with "-": never a separate argument
        "--no-analytics",
        "--env",
        "development",
        "--db-path",
        str(workdir / "data.ms"),
        "--dump-dir",
        str(workdir / "dumps"),
        "--snapshot-dir",
        str(workdir / "snapshots"),
        "--max-indexing-memory",
        MAX_INDEXING_MEMORY,
    ]
    if _supports_flag(binary, "--experimental-reduce-indexing-memory-usage"):
        cmd.append("--experimental-reduce-indexing-memory-usage")

    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,  # avoid picking up a stray ./config.toml
            env=_child_env(),
        )
    try:
        _wait_healthy(process, url, log_path)
    except BaseException:
        _stop(process)
        raise
    return MeiliServer(url=url, master_key=master_key, process=process)


def start_meilisearch() -> tuple[MeiliServer, Path]:
    """Start a server (retrying only the free-port race); returns it and its work directory."""
    binary = _resolve_binary()
    workdir = Path(tempfile.mkdtemp(prefix="techmarket-meili-"))
    master_key = secrets.token_urlsafe(24)
    try:
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                return _start(binary, workdir, master_key, attempt), workdir
            except RuntimeError as exc:
                if attempt == _START_ATTEMPTS or "already in use" not in str(exc).lower():
                    raise
                shutil.rmtree(workdir / "data.ms", ignore_errors=True)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    raise AssertionError("unreachable")


def restart_meilisearch(server: MeiliServer, workdir: Path) -> MeiliServer:
    """Start the server again on the same port, key and data directory (after a crash or a stop).

    Fault-injection tests kill the process (SIGKILL) and bring it back this way; what it had
    accepted before the kill must still be there.
    """
    _stop(server.process)
    port = int(server.url.rsplit(":", 1)[1])
    attempt = len(list(workdir.glob("meilisearch-*.log"))) + 1
    return _start(_resolve_binary(), workdir, server.master_key, attempt, port=port)


def stop_meilisearch(server: MeiliServer, workdir: Path) -> None:
    _stop(server.process)
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def running_meilisearch() -> Iterator[MeiliServer]:
    server, workdir = start_meilisearch()
    try:
        yield server
    finally:
        stop_meilisearch(server, workdir)
