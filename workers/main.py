"""The worker process: RQ ``SimpleWorker``s (jobs run in-process, no fork per job), the
scheduler thread for retry backoff and rescheduled (throttled) jobs, and the sweeper thread.

Outbound work is mostly waiting on Twilio, Slack and bots over HTTP, so one process runs
``WORKER_THREADS`` workers (default 4), each taking jobs from the queue on its own thread: a
slow provider answer holds one thread, not the process. Jobs of one conversation still run one
at a time (its lock), so order is kept; more processes scale the same way.

Nothing here forks, so a ``kill -9`` of the worker leaves nothing behind. If Redis goes away,
RQ's work loop gives up; each worker's loop waits for Redis and starts a fresh worker, so the
process survives a Redis restart; only a signal (or ``--burst``) ends it.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from datetime import timedelta
from typing import Any

import redis
import structlog
from redis.client import Pipeline
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.utils import now as rq_now
from rq.worker import WorkerStatus

from routing.connection import sync_client
from workers import homes, metrics
from workers.context import Context, install
from workers.deadlines import WatchdogDeathPenalty
from workers.jobs import remind_waiting
from workers.scheduler import Scheduler
from workers.sweeper import Sweeper

log = structlog.get_logger("worker")

DEFAULT_THREADS = 4


class Worker(SimpleWorker):
    """Remembers that it was told to stop (SIGINT/SIGTERM), as opposed to losing Redis; and
    keeps RQ's bookkeeping to fewer round trips (27 -> 15 per job, measured with RQ 3.0; 7
    with ``dispatch.RESULT_TTL``), since each costs the worker 70-100 µs of CPU on a small
    machine:

    - a heartbeat is one round trip (RQ sends its three commands one by one), and is skipped
      when the last one is under ``HEARTBEAT_EVERY`` seconds old: between jobs RQ beats two or
      three times, while the worker key lives ``worker_ttl`` (minutes);
    - a state already written is not written again (``idle`` after a job, then ``idle`` again
      before the next dequeue), and ``idle`` after a job goes in the transaction that records
      the job's success (RQ writes it alone right after; a failure, rare, still does so);
    - a job that has returned is not beaten again before its success is recorded (RQ does so
      for success callbacks, which these jobs do not have); that is one write per job less;
    - whether ``rq suspend`` was run is checked at most once per ``SUSPENSION_CHECK_EVERY``
      seconds, not before every job (a suspension takes effect within that time).
    """

    signalled = False
    max_connection_wait_time = 2.0  # RQ's default backs off up to 60 s once Redis is back
    HEARTBEAT_EVERY = timedelta(seconds=5)
    SUSPENSION_CHECK_EVERY = 1.0
    PUBSUB_STOP_WAIT = 1.0  # seconds a stopping worker waits for its pubsub thread
    _written_state: str | None = None
    _suspension_checked: float | None = None

    def check_for_suspension(self, burst: bool) -> None:
        checked = time.monotonic()
        if (self._suspension_checked is not None
                and checked - self._suspension_checked < self.SUSPENSION_CHECK_EVERY):
            return
        self._suspension_checked = checked
        super().check_for_suspension(burst)

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.signalled = True
        super().request_stop(signum, frame)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if (timeout is None and self.last_heartbeat is not None
                and rq_now() - self.last_heartbeat < self.HEARTBEAT_EVERY):
            return
        with self.connection.pipeline() as own:
            super().heartbeat(timeout, own)
            own.execute()

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is None and state == self._written_state:
            self._state = state
            return
        super().set_state(state, pipeline)
        self._written_state = state

    def increment_successful_job_count(self, pipeline: Pipeline | None = None) -> None:
        super().increment_successful_job_count(pipeline)
        if pipeline is not None:  # the success's own transaction: idle with it
            self.set_state(WorkerStatus.IDLE, pipeline)

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any,
                           execution: Any) -> None:
        try:
            super().handle_job_success(job, queue, started_job_registry, execution)
        except BaseException:
            self._written_state = None  # idle went with a transaction that did not land
            raise

    def unsubscribe(self) -> None:
        """Leave the worker's command channel without waiting out RQ's pubsub thread. RQ
        unsubscribes and only then tells the thread to stop, and waits for it without a bound
        (redis-py 8): a thread that reads the unsubscription first goes back to wait up to its
        60 s sleep for a subscription that never comes, and the worker's stop (every burst
        worker's end, a warm shutdown) waited with it. The thread is told first, so it ends on
        the unsubscription's answer, and is waited for ``PUBSUB_STOP_WAIT`` at most."""
        thread = self.pubsub_thread
        if thread is None:
            return
        self._tell_pubsub_thread_to_stop()
        self.pubsub.unsubscribe()
        thread.join(timeout=self.PUBSUB_STOP_WAIT)
        if not thread.is_alive():  # else it may still be reading: it closes the pubsub itself
            self.pubsub.close()

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:  # RQ unsubscribes last: if Redis failed before, its thread still must end
            self._tell_pubsub_thread_to_stop()

    def _tell_pubsub_thread_to_stop(self) -> None:
        """It ends at its next wake-up (a message, the unsubscription's answer, its sleep)."""
        if self.pubsub_thread is not None:
            self.pubsub_thread._running.clear()  # redis-py's run flag; its stop() also waits

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        job.ended_at = rq_now()


class ThreadWorker(Worker):
    """A worker on a thread other than the main one: no signal handlers (only the main thread
    may set them; the main worker's shutdown stops these), timeouts by the process's watchdog
    (``workers.deadlines``) rather than RQ's timer thread per job."""

    death_penalty_class = WatchdogDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def worker_threads() -> int:
    return max(1, int(os.environ.get("WORKER_THREADS", DEFAULT_THREADS)))


def wait_for_redis(connection: redis.Redis, every: float = 0.5,
                   stopped: threading.Event | None = None) -> None:
    while not (stopped and stopped.is_set()):
        try:
            connection.ping()
            return
        except redis.RedisError:
            time.sleep(every)


def _serve(queue: str, connection: redis.Redis, burst: bool, stopped: threading.Event,
           current: list[Worker]) -> None:
    """A thread's worker loop: like the main one, restarted after Redis comes back."""
    while not stopped.is_set():
        worker = ThreadWorker([Queue(queue, connection=connection)], connection=connection)
        current[:] = [worker]
        try:
            worker.work(burst=burst, logging_level="WARNING")
        except redis.RedisError as exc:
            log.warning("worker.redis_error", error=type(exc).__name__)
        if burst or stopped.is_set():
            return
        wait_for_redis(connection, stopped=stopped)


def run(context: Context, rq_redis_url: str, queue: str = "relaydesk",
        burst: bool = False, sweeper_grace: float = 30.0, metrics_port: int = 0,
        threads: int | None = None) -> None:
    install(context)
    gc.freeze()  # what start-up built lives on: no full collection walks it again
    metrics.serve(metrics_port)
    connection = sync_client(rq_redis_url, socket_timeout=None)  # RQ sets its own
    sweeper = Sweeper(context.store, context.dispatcher, grace=sweeper_grace,
                      also=lambda: (remind_waiting(context), homes.refresh(context)))
    scheduler = Scheduler(queue, connection)
    if burst:
        scheduler.tick()  # what is due now, once
    else:
        sweeper.start()
        scheduler.start()
    stopped = threading.Event()
    others: list[list[Worker]] = [[] for _ in range((threads or worker_threads()) - 1)]
    running = [threading.Thread(target=_serve, name=f"worker-{i + 1}", daemon=True,
                                args=(queue, connection, burst, stopped, current))
               for i, current in enumerate(others)]
    for thread in running:
        thread.start()
    try:
        while True:
            worker = Worker([Queue(queue, connection=connection)], connection=connection)
            try:
                worker.work(burst=burst, logging_level="WARNING")
            except redis.RedisError as exc:  # registering or tearing down without Redis
                log.warning("worker.redis_error", error=type(exc).__name__)
            if burst or worker.signalled:
                return
            log.warning("worker.restarting", reason="redis unreachable")
            wait_for_redis(connection)
    finally:
        stopped.set()
        for current in others:  # warm stop: each finishes the job it is running
            for w in current:
                w._stop_requested = True
        for thread in running:
            thread.join(timeout=None if burst else 10)
        sweeper.stopped.set()
        scheduler.stopped.set()
        if scheduler.is_alive():
            scheduler.join(timeout=2)  # releases the lease so the next worker need not wait
