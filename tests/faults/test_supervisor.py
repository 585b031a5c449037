"""`python -m gateway up` keeps web and worker running: a killed worker is started again, and
a process that will not stay up stops everything loudly instead of leaving half a service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.supervisor import Supervisor, read_procfile
from tests.conftest import ROOT
from tests.e2e.conftest import clean_env, wait_healthy
from tests.faults.conftest import children_of, wait_until


def worker_pid(up: int) -> int | None:
    for pid in children_of(up):
        if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    return None


async def test_up_restarts_a_killed_worker(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    port = free_port()
    env = clean_env(WEB_PORT=str(port), REDIS_URL=server.url, RQ_QUEUE="faults-up")
    up = subprocess.Popen([sys.executable, "-m", "gateway", "up"], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", up, timeout=30)
        first = wait_until(lambda: worker_pid(up.pid), 10)
        os.kill(first, signal.SIGKILL)
        second = wait_until(lambda: (p := worker_pid(up.pid)) and p != first and p, 10)
        assert second != first and up.poll() is None
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        server.stop()
    err = up.stderr.read().decode() if up.stderr else ""
    assert "worker exited with -9; restarting it" in err, err


def test_a_process_that_keeps_crashing_stops_everything_loudly(
        capsys: pytest.CaptureFixture[str]) -> None:
    processes = {"web": [sys.executable, "-c", "import time; time.sleep(60)"],
                 "worker": [sys.executable, "-c", "raise SystemExit(3)"]}
    start = time.monotonic()
    code = Supervisor(processes, dict(os.environ), max_restarts=2, grace=5).run()
    assert code == 1 and time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert "worker exited with 3 3 times" in err and "giving up" in err


def test_procfile_is_what_up_runs() -> None:
    assert read_procfile(ROOT / "Procfile") == {
        "web": ["python", "-m", "gateway", "web"],
        "worker": ["python", "-m", "gateway", "worker"]}
