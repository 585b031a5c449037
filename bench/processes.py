"""The servers under test, each in its own process so the load generator never shares their
event loop; started on 127.0.0.1 only, and always stopped, even on Ctrl-C or errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "relaydesk.yaml"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class StartupFailed(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process so far (Linux only, else None)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # aiohttp's graceful shutdown
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def spawn(name: str, args: list[str], port: int, log_dir: Path,
          env: dict[str, str] | None = None) -> Server:
    """Start a child in its own session, so a terminal's Ctrl-C reaches only the bench, which
    then stops the child itself."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return Server(name, port, process, log_path, log)


def gateway_env(port: int, redis_url: str, rq_redis_url: str) -> dict[str, str]:
    """The environment minus anything Settings would read (credentials above all, so the
    gateway runs in sandbox mode), plus what the bench chooses."""
    settings_vars = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in settings_vars}
    return env | {
        "HOST": "127.0.0.1", "PORT": str(port), "REDIS_URL": redis_url,
        "RQ_REDIS_URL": rq_redis_url, "GATEWAY_CONFIG": str(CONFIG), "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }


async def wait_ready(server: Server, timeout: float = 30.0) -> None:
    """Poll GET /healthz until it answers 200, or fail with the child's log."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise StartupFailed(f"{server.name} exited at start:\n{server.log_tail()}")
            try:
                async with http.get(server.base_url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise StartupFailed(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")
