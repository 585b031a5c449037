"""Re-enqueue work whose job was lost (a process died between storing and enqueuing, a job
failed for good, Redis restarted under RQ).

Every piece of work is marked in the store's ``pending`` sorted set with the time it was marked;
jobs clear their mark when done. Marks older than ``grace`` seconds are enqueued again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from routing.store import Store
from workers.dispatch import Dispatcher

log = structlog.get_logger("sweeper")


def sweep_once(store: Store, dispatcher: Dispatcher, grace: float = 30.0,
               now: float | None = None, limit: int = 500) -> list[str]:
    now = time.time() if now is None else now
    stale = list(store.redis.zrangebyscore(
        store.keys.pending, "-inf", now - grace, start=0, num=limit))
    if stale:
        # Re-mark first so a slow job is not enqueued again on the next pass.
        store.redis.zadd(store.keys.pending, dict.fromkeys(stale, now), xx=True)
        dispatcher.enqueue(*stale)
        log.info("sweeper.requeued", count=len(stale))
    return stale


class Sweeper(threading.Thread):
    def __init__(self, store: Store, dispatcher: Dispatcher, every: float = 5.0,
                 grace: float = 30.0, also: Callable[[], object] | None = None) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.store, self.dispatcher, self.every, self.grace = store, dispatcher, every, grace
        self.also = also  # periodic work that rides along (reminders)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                sweep_once(self.store, self.dispatcher, self.grace)
                if self.also:
                    self.also()
            except Exception:  # keep sweeping through a Redis blip
                log.exception("sweeper.error")
