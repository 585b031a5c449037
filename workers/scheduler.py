"""RQ's scheduler (retry backoff, ``enqueue_in``) as a thread of the worker process.

RQ's own ``with_scheduler=True`` forks a scheduler child that holds a 61 s lock: a ``kill -9``
of the worker leaves that child orphaned (or, once it dies, a lock that keeps any new worker
from scheduling for a minute), and a Redis restart can end it for good. Here the scheduler
lives and dies with the worker, holds the same lock key as RQ's (so the two exclude each
other) on a short lease renewed every tick, and keeps ticking through Redis errors: after a
kill -9 another worker takes over within ``lease`` seconds; after a Redis restart the next
tick carries on.
"""

from __future__ import annotations

import contextlib
import threading
from uuid import uuid4

import redis
import structlog
from rq.scheduler import RQScheduler

log = structlog.get_logger("scheduler")

# Take the lock if free, or renew it if ours: one scheduler per queue across all workers.
LEASE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Scheduler(threading.Thread):
    def __init__(self, queue: str, connection: redis.Redis, interval: float = 1.0,
                 lease: float = 5.0) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.queue, self.connection = queue, connection
        self.interval, self.lease = interval, lease
        self.name_ = uuid4().hex
        self.rq = RQScheduler([queue], connection=connection, name=self.name_)
        self.key = RQScheduler.get_locking_key(queue)
        self.stopped = threading.Event()
        self.held = False
        self._lease = connection.register_script(LEASE)
        self._release = connection.register_script(RELEASE)

    def tick(self) -> bool:
        """Move due scheduled jobs to the queue if this worker holds the lease."""
        held = bool(self._lease(keys=[self.key],
                                args=[self.name_, int(self.lease * 1000)]))
        if held != self.held:
            log.info("scheduler.lease", held=held, queue=self.queue)
            self.held = held
        if held:
            self.rq._acquired_locks = {self.queue}  # the lease above is the lock
            self.rq.enqueue_scheduled_jobs()
        return held

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.tick()
            except Exception as exc:  # Redis down or restarting: try again next tick
                log.warning("scheduler.error", error=type(exc).__name__)
            self.stopped.wait(self.interval)
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.key], args=[self.name_])
