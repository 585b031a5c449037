"""The worker process: one RQ ``SimpleWorker`` (jobs run in-process, no fork per job) with
RQ's scheduler for retry backoff, and the sweeper thread."""

from __future__ import annotations

import redis
from rq import Queue, SimpleWorker

from workers.context import Context, install
from workers.jobs import remind_waiting
from workers.sweeper import Sweeper


def run(context: Context, rq_redis_url: str, queue: str = "relaydesk",
        burst: bool = False) -> None:
    install(context)
    connection = redis.Redis.from_url(rq_redis_url)
    sweeper = Sweeper(context.store, context.dispatcher,
                      also=lambda: remind_waiting(context))
    sweeper.start()
    try:
        worker = SimpleWorker([Queue(queue, connection=connection)], connection=connection)
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        sweeper.stopped.set()
