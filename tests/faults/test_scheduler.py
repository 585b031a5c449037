"""The RQ scheduler survives a kill -9 of the worker and a Redis restart: scheduled retries
still run on time, and a killed worker leaves nothing behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import JobStatus

from gateway.redis_launcher import EmbeddedRedis
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import clean_env, stop
from tests.faults.conftest import gateway_process, kill9, session_members, wait_until

# lease (5 s) + scheduler tick (1 s) + the job's own delay (1 s) + slack for a busy machine
ON_TIME = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    s = EmbeddedRedis(tmp_path / "redis").start()
    yield s
    s.stop()


def run_scheduled(queue: Queue, timeout: float = ON_TIME) -> float:
    """Schedule a job 1 s ahead (as RQ schedules a retry) and return how long it took to run."""
    start = time.monotonic()
    job = queue.enqueue_in(timedelta(seconds=1), "os.getpid", result_ttl=600)
    wait_until(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout)
    return time.monotonic() - start


def test_scheduled_jobs_run_after_a_worker_kill_and_a_redis_restart(
        server: EmbeddedRedis, tmp_path: Path) -> None:
    env = clean_env(REDIS_URL=server.url, RQ_QUEUE="faults-sched",
                    GATEWAY_CONFIG=str(EXAMPLE_CONFIG))
    client = redis.Redis.from_url(server.url)
    queue = Queue("faults-sched", connection=client)
    first = gateway_process("worker", env, tmp_path / "worker.log")
    second = None
    try:
        assert run_scheduled(queue) < ON_TIME

        kill9(first)  # nothing of it may survive (RQ's forked scheduler child used to)
        time.sleep(0.3)
        assert session_members(first.pid) == [], "a killed worker left processes behind"

        second = gateway_process("worker", env, tmp_path / "worker.log")
        took = run_scheduled(queue)
        print(f"\nscheduled job after a worker kill -9 ran in {took:.1f}s")

        server.process.kill()  # kill -9 Redis, then the same server back on its AOF
        server.process.wait()
        time.sleep(0.5)
        server.start()
        client.connection_pool.disconnect()
        took = run_scheduled(queue)
        print(f"scheduled job after a Redis restart ran in {took:.1f}s")
        assert second.poll() is None, "the worker died with Redis"
    finally:
        for process in (first, second):
            if process:
                stop(process)
        client.close()
