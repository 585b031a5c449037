"""The worker keeps RQ's bookkeeping to fewer round trips (workers.main.Worker) without losing
what RQ's monitoring shows: the worker's heartbeat and state, failed jobs and retries, job
timeouts; and its Redis clients have room for every job it runs at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.suspension import resume, suspend
from rq.utils import now

from bench.redis_stats import Meter
from gateway.redis_launcher import EmbeddedRedis
from routing.connection import sync_client
from workers.bulk import CONCURRENCY
from workers.dispatch import RESULT_TTL
from workers.main import DEFAULT_THREADS, ThreadWorker

JOBS = 40
#: RQ 3.0 itself needs 27 round trips per job; with the worker's cuts and a finished job left
#: to expire (RESULT_TTL) rather than deleted at once, 7 (and the worker's start, spread).
MAX_ROUND_TRIPS_PER_JOB = 8


@pytest.fixture
def rq_redis(tmp_path: Path) -> redis.Redis:
    """A Redis of its own, so that its round-trip counter sees only this worker."""
    with EmbeddedRedis(tmp_path / "rq", appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        yield client
        client.close()


def test_a_job_costs_fewer_round_trips_and_still_runs(rq_redis: redis.Redis) -> None:
    queue = Queue("q", connection=rq_redis)
    queue.enqueue_many([Queue.prepare_data("builtins.len", ("ab",), result_ttl=RESULT_TTL,
                                           failure_ttl=86400) for _ in range(JOBS)])
    meter = Meter(rq_redis)
    meter.start()
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    counted = meter.stop()
    assert queue.count == 0
    assert FailedJobRegistry(queue=queue).count == 0
    assert counted.round_trips / JOBS <= MAX_ROUND_TRIPS_PER_JOB


def test_a_failing_job_is_still_retried_then_failed(rq_redis: redis.Redis) -> None:
    queue = Queue("q", connection=rq_redis)
    later = queue.enqueue("builtins.int", "not a number", retry=Retry(max=1, interval=[60]))
    now_again = queue.enqueue("builtins.int", "nor this", retry=Retry(max=1))
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert later.id in ScheduledJobRegistry(queue=queue).get_job_ids()  # retried in 60 s
    assert now_again.id in FailedJobRegistry(queue=queue).get_job_ids()  # retried, failed
    now_again.refresh()
    assert now_again.retries_left == 0


@pytest.mark.parametrize("arg", ["12", "not a number"])
def test_rq_shows_the_worker_idle_once_a_job_has_succeeded_or_failed(
        rq_redis: redis.Redis, arg: str) -> None:
    """``idle`` rides the transaction that records a success (a failure's is written after
    it, as RQ does): either way RQ must show the worker idle."""
    queue = Queue("q", connection=rq_redis)
    worker = ThreadWorker([queue], connection=rq_redis)
    worker.register_birth()
    job = queue.enqueue("builtins.int", arg)
    worker.execute_job(job, queue)
    assert rq_redis.hget(worker.key, "state") == b"idle"
    assert job.get_status(refresh=True) in ("finished", "failed")
    worker.register_death()


def test_rq_shows_the_worker_idle_when_recording_a_success_failed(
        rq_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """The success's transaction (which carried ``idle``) does not land: RQ records a failure
    instead, and ``idle`` is still written."""
    queue = Queue("q", connection=rq_redis)
    worker = ThreadWorker([queue], connection=rq_redis)
    worker.register_birth()
    calls = []

    def broken_once(*args: object) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise redis.ConnectionError("lost while recording the success")

    monkeypatch.setattr(worker, "increment_total_working_time", broken_once)
    job = queue.enqueue("builtins.len", "ab")
    worker.execute_job(job, queue)
    assert job.get_status(refresh=True) == "failed"
    assert rq_redis.hget(worker.key, "state") == b"idle"
    worker.register_death()


def test_a_worker_whose_redis_fails_at_teardown_still_stops_its_pubsub_thread(
        rq_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = ThreadWorker([Queue("q", connection=rq_redis)], connection=rq_redis)
    worker.register_birth()
    worker.subscribe()

    def gone() -> None:
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(worker, "register_death", gone)
    with pytest.raises(redis.ConnectionError):
        worker.teardown()  # RQ would unsubscribe after this: never, here
    worker.pubsub.unsubscribe()  # its answer wakes the thread, which must now end
    worker.pubsub_thread.join(timeout=10)
    assert not worker.pubsub_thread.is_alive()


def test_a_worker_stops_without_waiting_out_its_pubsub_thread(rq_redis: redis.Redis) -> None:
    """RQ's pubsub thread sleeps up to 60 s for a subscription once it has read the
    unsubscription; the worker's stop must not wait that out (every burst worker stops so)."""
    worker = ThreadWorker([Queue("q", connection=rq_redis)], connection=rq_redis)
    worker.subscribe()
    worker.pubsub.unsubscribe()  # the thread reads the answer before it is told to stop
    deadline = time.monotonic() + 5
    while worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not worker.pubsub.subscribed
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 10  # RQ's own stop waits 60 s here


def test_burst_workers_on_an_empty_queue_each_stop_at_once(rq_redis: redis.Redis) -> None:
    queue = Queue("q", connection=rq_redis)
    started = time.monotonic()
    for _ in range(20):  # RQ's own stop sometimes waited 60 s for the pubsub thread
        ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert time.monotonic() - started < 30


def test_the_heartbeat_is_one_round_trip_and_skipped_only_while_fresh(
        rq_redis: redis.Redis) -> None:
    worker = ThreadWorker([Queue("q", connection=rq_redis)], connection=rq_redis)
    worker.register_birth()
    meter = Meter(rq_redis)
    meter.start()
    worker.heartbeat()  # just born: fresh, nothing written
    assert meter.stop().round_trips == 0
    worker.last_heartbeat = now() - timedelta(seconds=60)
    meter.start()
    worker.heartbeat()
    assert meter.stop().round_trips == 1
    beat = rq_redis.hget(worker.key, "last_heartbeat").decode()
    assert beat.startswith(now().strftime("%Y-%m-%dT%H:%M"))
    assert rq_redis.ttl(worker.key) > 60
    worker.set_state("busy")
    assert rq_redis.hget(worker.key, "state") == b"busy"


def test_a_worker_client_holds_every_send_of_its_bulk_chunks_at_once(
        redis_server: EmbeddedRedis) -> None:
    """Every worker thread may run a bulk chunk with ``CONCURRENCY`` sends in flight, each on
    its own connection (redis-py 8's default pool stops at 100 and fails the rest)."""
    client = sync_client(redis_server.url)
    in_flight = DEFAULT_THREADS * CONCURRENCY
    held = [client.connection_pool.get_connection() for _ in range(in_flight)]
    try:
        assert all(conn.send_command("PING") is None for conn in held)
        assert all(conn.read_response() in (b"PONG", "PONG") for conn in held)
    finally:
        for conn in held:
            client.connection_pool.release(conn)
        client.close()


def spin(seconds: float) -> float:
    """A job that runs Python code for ``seconds`` (where a timeout can land)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(0.01)
    return seconds


SPIN = f"{__name__}.spin"


def test_a_job_past_its_timeout_fails_and_the_thread_goes_on(rq_redis: redis.Redis) -> None:
    queue = Queue("q", connection=rq_redis)
    quick = queue.enqueue(SPIN, 0.05, job_timeout=1)  # its deadline passes during `slow`
    slow = queue.enqueue(SPIN, 1.5, job_timeout=10)
    stuck = queue.enqueue(SPIN, 30, job_timeout=1)
    after = queue.enqueue(SPIN, 0.05, job_timeout=1)
    started = time.monotonic()
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert time.monotonic() - started < 10  # `stuck` was stopped after its second
    for job in (quick, slow, stuck, after):
        job.refresh()
    assert (quick.get_status(), slow.get_status(), after.get_status()) == ("finished",) * 3
    assert stuck.get_status() == "failed"
    assert stuck.id in FailedJobRegistry(queue=queue).get_job_ids()
    assert ("rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (1 seconds)"
            in stuck.latest_result().exc_string)  # as RQ's own timer reports it


def test_no_thread_is_started_per_job(rq_redis: redis.Redis,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    real = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start",
                        lambda thread: started.append(thread.name) or real(thread))
    queue = Queue("q", connection=rq_redis)
    queue.enqueue_many([Queue.prepare_data(SPIN, (0.0,), result_ttl=RESULT_TTL)
                        for _ in range(20)])
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert queue.count == 0
    assert len(started) <= 1  # at most the process's watchdog, once


def test_a_suspended_worker_takes_no_job_and_resumes(rq_redis: redis.Redis) -> None:
    queue = Queue("q", connection=rq_redis)
    suspend(rq_redis)
    job = queue.enqueue(SPIN, 0.0)
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert job.get_status(refresh=True) == "queued"  # `rq suspend` held it back
    resume(rq_redis)
    ThreadWorker([queue], connection=rq_redis).work(burst=True, logging_level="WARNING")
    assert job.get_status(refresh=True) == "finished"
