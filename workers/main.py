"""The worker process: RQ ``SimpleWorker``s (jobs run in-process, no fork per job) with RQ's
scheduler for retry backoff and rescheduled (throttled) jobs, and the sweeper thread.

Outbound work is mostly waiting on Twilio, Slack and bots over HTTP, so one process runs
``WORKER_THREADS`` workers (default 4), each taking jobs from the queue on its own thread: a
slow provider answer holds one thread, not the process. Jobs of one conversation still run one
at a time (its lock), so order is kept; more processes scale the same way.
"""

from __future__ import annotations

import os
import threading

import redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from workers.context import Context, install
from workers.jobs import remind_waiting
from workers.sweeper import Sweeper

DEFAULT_THREADS = 4


class ThreadWorker(SimpleWorker):
    """A worker on a thread other than the main one: no signal handlers (only the main thread
    may set them; the main worker's shutdown stops these), timeouts by timer."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def worker_threads() -> int:
    return max(1, int(os.environ.get("WORKER_THREADS", DEFAULT_THREADS)))


def run(context: Context, rq_redis_url: str, queue: str = "relaydesk",
        burst: bool = False, threads: int | None = None) -> None:
    install(context)
    connection = redis.Redis.from_url(rq_redis_url)
    sweeper = Sweeper(context.store, context.dispatcher,
                      also=lambda: remind_waiting(context))
    sweeper.start()
    others = [ThreadWorker([Queue(queue, connection=connection)], connection=connection)
              for _ in range((threads or worker_threads()) - 1)]
    running = [threading.Thread(target=w.work, name=f"worker-{i + 1}", daemon=True,
                                kwargs={"burst": burst, "logging_level": "WARNING"})
               for i, w in enumerate(others)]
    for thread in running:
        thread.start()
    try:
        worker = SimpleWorker([Queue(queue, connection=connection)], connection=connection)
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        for w in others:  # warm stop: each finishes the job it is running
            w._stop_requested = True
        for thread in running:
            thread.join(timeout=None if burst else 10)
        sweeper.stopped.set()
