"""The per-conversation lock jobs run under (workers.jobs.locked): renewed while held, so a
long job keeps it; freed on exit; a job waiting for it goes as soon as it is free, not a
polling interval later."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import redis

from routing.store import Store
from workers.jobs import LOCK_POLL, locked


def _ctx(sync_redis: redis.Redis, namespace: str) -> SimpleNamespace:
    return SimpleNamespace(store=Store(sync_redis, namespace))


def test_a_held_lock_outlives_its_lease_while_the_job_runs(sync_redis: redis.Redis,
                                                           namespace: str) -> None:
    ctx = _ctx(sync_redis, namespace)
    key = ctx.store.keys.lock("slack:v1")
    with locked(ctx, "slack:v1", lease=0.6):
        time.sleep(1.5)  # two and a half leases
        assert sync_redis.pttl(key) > 0
        other = sync_redis.lock(key, timeout=1, blocking_timeout=0)
        assert not other.acquire()  # still ours
    assert not sync_redis.exists(key)


def test_two_jobs_hold_their_locks_at_once_and_each_is_renewed(sync_redis: redis.Redis,
                                                               namespace: str) -> None:
    ctx = _ctx(sync_redis, namespace)
    with locked(ctx, "slack:v1", lease=0.6), locked(ctx, "twilio:v1", lease=0.9):
        time.sleep(1.5)
        assert sync_redis.pttl(ctx.store.keys.lock("slack:v1")) > 0
        assert sync_redis.pttl(ctx.store.keys.lock("twilio:v1")) > 0


def test_a_waiting_job_goes_as_soon_as_the_lock_is_free(sync_redis: redis.Redis,
                                                         namespace: str) -> None:
    ctx = _ctx(sync_redis, namespace)
    waited: list[float] = []

    def second() -> None:
        with locked(ctx, "status:m1"):
            waited.append(time.monotonic() - released_at[0])

    released_at = [0.0]
    with locked(ctx, "status:m1"):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.02)  # the waiter has tried once and waits for its next try
        released_at[0] = time.monotonic()
    waiter.join(5)
    assert waited and waited[0] < 0.04  # redis-py's default poll (0.1 s) would fail this
    assert LOCK_POLL <= 0.01


def test_settling_gives_up_the_lock_in_the_same_call(sync_redis: redis.Redis,
                                                     namespace: str) -> None:
    ctx = _ctx(sync_redis, namespace)
    store, key = ctx.store, ctx.store.keys.lock("card:v1")
    sync_redis.zadd(store.keys.pending, {"card:v1": 10.0})
    with locked(ctx, "card:v1") as held:
        assert held.settle("card:v1", started=20.0)
        assert not sync_redis.exists(key)  # free for the next job at once
        assert sync_redis.zscore(store.keys.pending, "card:v1") is None
    # A lock that expired and went to another job is left to that job.
    sync_redis.zadd(store.keys.pending, {"card:v1": 30.0})
    with locked(ctx, "card:v1", lease=0.6) as held:
        sync_redis.set(key, "another job's token")
        assert not held.settle("card:v1", started=20.0)  # marked again after it started
    assert sync_redis.get(key) == "another job's token"
