"""Pacing per sending number (issue 9, item 5): one token bucket in Redis shared by every
worker, agents' replies before bulks on the same number."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import redis

from routing.store import Store
from workers.pace import BURST_SECONDS, pace_reply, take_token


def ctx_for(sync_redis: redis.Redis, namespace: str, rate: float) -> SimpleNamespace:
    campaign = SimpleNamespace(rate=rate)
    return SimpleNamespace(store=Store(sync_redis, namespace),
                           workspace=SimpleNamespace(campaign=lambda _id: campaign))


def test_two_workers_together_keep_the_senders_rate(sync_redis: redis.Redis,
                                                    namespace: str) -> None:
    rate, per_worker = 40.0, 30
    stamps: list[float] = []

    def worker() -> None:
        ctx = ctx_for(redis.Redis(connection_pool=sync_redis.connection_pool), namespace, rate)
        for _ in range(per_worker):
            take_token(ctx, "whatsapp:+14155238886", rate)
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    burst = max(1.0, rate * BURST_SECONDS)
    # 60 sends at 40/s with a burst of 10 take at least (60 - 10) / 40 s, together.
    assert time.monotonic() - started >= (2 * per_worker - burst) / rate - 0.05
    # Another number has its own bucket: not slowed by this one.
    ctx = ctx_for(sync_redis, namespace, rate)
    t0 = time.monotonic()
    for _ in range(int(burst)):
        take_token(ctx, "+15005550006", rate)
    assert time.monotonic() - t0 < 0.2


def test_a_waiting_reply_goes_before_the_bulk(sync_redis: redis.Redis, namespace: str) -> None:
    rate = 5.0  # burst 1: one token at a time
    ctx = ctx_for(sync_redis, namespace, rate)
    sender = "+15005550006"
    take_token(ctx, sender, rate)  # the bucket is empty now
    order: list[str] = []

    def bulk() -> None:
        time.sleep(0.02)  # the reply is already waiting
        take_token(ctx, sender, rate)
        order.append("bulk")

    def reply() -> None:
        pace_reply(ctx, sender, "texts")
        order.append("reply")

    threads = [threading.Thread(target=reply), threading.Thread(target=bulk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order == ["reply", "bulk"]
