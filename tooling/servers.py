"""The app's own processes (``techmarket serve``, ``worker``, ``import``, the payment stub) as subprocesses.

One starter for the multi-process tests and the benches: a real uvicorn process on a free loopback
port, configured only by the environment it is given (its profile), and ready once ``/readyz``
answers 200. Each process runs in a session of its own, so ``serve --workers N`` is stopped with its
children by their group id, and every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ServerNotReady(RuntimeError):
    """A process exited or did not answer its health check in time (the message ends with its log)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def techmarket_command() -> list[str]:
    script = Path(sys.executable).with_name("techmarket")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def app_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``TECHMARKET_*`` or ``MEILI_*`` variable, plus ``settings``.

    A started process then runs on the profile its caller wrote down, whatever the shell exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHMARKET_", "MEILI_"))}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(settings)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """Also the process group id: each process starts a session of its own."""
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        """SIGKILL the process alone (its children, if any, are left to the group stop)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM to the process group, then SIGKILL to it after STOP_TIMEOUT; returns the exit code."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of the group (uvicorn's children)
        except ProcessLookupError:
            pass
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None


def start(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    """``techmarket <args>`` in its own session, output appended to ``log_dir/<name>.log``."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log_file:
        popen = subprocess.Popen(
            techmarket_command() + args,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log_path)


def wait_ready(proc: Proc, url: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Return once ``url`` answers 200; raise ``ServerNotReady`` if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise ServerNotReady(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            try:
                reply = client.get(url)
                if reply.status_code == 200:
                    return
                last = f"HTTP {reply.status_code}: {reply.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
    raise ServerNotReady(f"{proc.name} not ready at {url} after {timeout:.0f}s ({last}):\n{proc.log_tail()}")


def start_serve(
    env: dict[str, str],
    log_dir: Path,
    *,
    workers: int = 1,
    name: str = "serve",
    wait: bool = True,
    timeout: float = STARTUP_TIMEOUT,
) -> tuple[Proc, str]:
    """``techmarket serve`` on a free loopback port; with ``wait``, returns once /readyz answers 200."""
    port = free_port()
    proc = start(name, ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)], env, log_dir)
    base = f"http://127.0.0.1:{port}"
    if wait:
        try:
            wait_ready(proc, f"{base}/readyz", timeout)
        except BaseException:
            proc.stop()
            raise
    return proc, base


@contextmanager
def stopping(*procs: Proc) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            proc.stop()


@contextmanager
def serving(
    env: dict[str, str], log_dir: Path, *, workers: int = 1, timeout: float = STARTUP_TIMEOUT
) -> Iterator[tuple[Proc, str]]:
    """A ready ``techmarket serve`` (process, base URL), stopped with its workers at the end."""
    proc, base = start_serve(env, log_dir, workers=workers, timeout=timeout)
    with stopping(proc):
        yield proc, base
