"""The worker process: one RQ ``SimpleWorker`` (jobs run in-process, no fork per job), the
scheduler thread for retry backoff, and the sweeper thread.

Nothing here forks, so a ``kill -9`` of the worker leaves nothing behind. If Redis goes away,
RQ's work loop gives up; this loop waits for Redis and starts a fresh worker, so the process
survives a Redis restart; only a signal (or ``--burst``) ends it.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from rq import Queue, SimpleWorker

from routing.connection import sync_client
from workers import homes, metrics
from workers.context import Context, install
from workers.jobs import remind_waiting
from workers.scheduler import Scheduler
from workers.sweeper import Sweeper

log = structlog.get_logger("worker")


class Worker(SimpleWorker):
    """Remembers that it was told to stop (SIGINT/SIGTERM), as opposed to losing Redis."""

    signalled = False
    max_connection_wait_time = 2.0  # RQ's default backs off up to 60 s once Redis is back

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.signalled = True
        super().request_stop(signum, frame)


def wait_for_redis(connection: redis.Redis, every: float = 0.5) -> None:
    while True:
        try:
            connection.ping()
            return
        except redis.RedisError:
            time.sleep(every)


def run(context: Context, rq_redis_url: str, queue: str = "relaydesk",
        burst: bool = False, sweeper_grace: float = 30.0, metrics_port: int = 0) -> None:
    install(context)
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
        sweeper.stopped.set()
        scheduler.stopped.set()
        if scheduler.is_alive():
            scheduler.join(timeout=2)  # releases the lease so the next worker need not wait
