"""Run the Procfile's processes and keep them running (what `make run` / `gateway up` does).

A process that exits or is killed is started again, so web never runs without a worker; one
that keeps crashing (more than ``max_restarts`` in ``window`` seconds) stops everything and
exits non-zero, saying which and why, rather than leaving half a service up. SIGINT/SIGTERM
stop every process (SIGTERM, then SIGKILL after ``grace`` seconds).
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path


def read_procfile(path: str | Path) -> dict[str, list[str]]:
    """``name: command`` lines; blank lines and ``#`` comments ignored."""
    processes = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = shlex.split(command)
    return processes


def say(message: str) -> None:
    print(f"[relaydesk up] {message}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, processes: dict[str, list[str]], env: dict[str, str],
                 max_restarts: int = 5, window: float = 60.0, grace: float = 10.0) -> None:
        self.commands, self.env = processes, env
        self.max_restarts, self.window, self.grace = max_restarts, window, grace
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.crashes: dict[str, deque[float]] = {name: deque() for name in processes}
        self.stopping = False

    def _start(self, name: str) -> None:
        self.running[name] = subprocess.Popen(self.commands[name], env=self.env)
        say(f"{name} started (pid {self.running[name].pid})")

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Until a signal (0) or a process that will not stay up (1)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT,
                                                                    signal.SIGTERM)}
        try:
            for name in self.commands:
                self._start(name)
            while not self.stopping:
                time.sleep(0.2)
                for name, process in list(self.running.items()):
                    code = process.poll()
                    if code is None or self.stopping:
                        continue
                    crashes = self.crashes[name]
                    now = time.monotonic()
                    crashes.append(now)
                    while crashes and crashes[0] < now - self.window:
                        crashes.popleft()
                    if len(crashes) > self.max_restarts:
                        say(f"{name} exited with {code} {len(crashes)} times in "
                            f"{self.window:.0f}s: giving up, stopping everything")
                        return 1
                    say(f"{name} exited with {code}; restarting it")
                    time.sleep(min(0.5 * len(crashes), 5))
                    self._start(name)
            return 0
        finally:
            self._terminate()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _terminate(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + self.grace
        for name, process in self.running.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in {self.grace:.0f}s: killing it")
                process.kill()
                process.wait()
