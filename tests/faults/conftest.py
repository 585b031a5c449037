"""Fault injection with real processes: helpers to start, find and kill them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT


def gateway_process(kind: str, env: dict[str, str], log: Path | None = None
                    ) -> subprocess.Popen[bytes]:
    """``python -m gateway <kind>`` in its own session (so its leftovers can be found)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "gateway", kind], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                            start_new_session=True)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields after "pid (comm)"


def session_members(sid: int) -> list[int]:
    """Live processes of a session (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) and fields[0] != "Z" \
                and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def children_of(pid: int) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()
            and (fields := _stat(int(e))) and fields[0] != "Z" and int(fields[1]) == pid]


def wait_until(condition: Callable[[], object], timeout: float, every: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"not true after {timeout}s: {condition}")


def kill9(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
