"""routing.pacing: token buckets in Redis, one atomic round trip per take."""

from __future__ import annotations

import threading

import pytest
import redis
import redis.asyncio as aioredis

from gateway.redis_launcher import EmbeddedRedis
from routing import pacing


def test_a_burst_goes_at_once_then_one_per_interval(sync_redis: redis.Redis,
                                                     namespace: str) -> None:
    key = f"rd:{{{namespace}}}:pace:slack:C1"
    now = 1000.0
    assert [pacing.take(sync_redis, key, 1.0, 3, now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacing.take(sync_redis, key, 1.0, 3, now) == pytest.approx(1.0)
    # Waiting takes nothing: asking again at once gives the same answer.
    assert pacing.take(sync_redis, key, 1.0, 3, now) == pytest.approx(1.0)
    assert pacing.take(sync_redis, key, 1.0, 3, now + 0.25) == pytest.approx(0.75)
    assert pacing.take(sync_redis, key, 1.0, 3, now + 1.0) == 0.0
    assert pacing.take(sync_redis, key, 1.0, 3, now + 1.0) == pytest.approx(1.0)
    # Refills up to the burst, never beyond.
    later = now + 100
    assert [pacing.take(sync_redis, key, 1.0, 3, later) for _ in range(4)][-1] > 0


def test_rates_below_one_per_second_and_separate_keys(sync_redis: redis.Redis,
                                                      namespace: str) -> None:
    a, b = f"rd:{{{namespace}}}:pace:a", f"rd:{{{namespace}}}:pace:b"
    bucket = pacing.Bucket(0.5, 1)
    assert bucket.take(sync_redis, a, 10.0) == 0.0
    assert bucket.take(sync_redis, a, 10.0) == pytest.approx(2.0)
    assert bucket.take(sync_redis, b, 10.0) == 0.0  # another key is another bucket


def test_an_idle_bucket_expires(sync_redis: redis.Redis, namespace: str) -> None:
    key = f"rd:{{{namespace}}}:pace:idle"
    pacing.take(sync_redis, key, 2.0, 4)
    assert 0 < sync_redis.pttl(key) <= 3000  # full again after burst / rate = 2 s, plus 1 s


def test_queued_callers_are_given_successive_slots(sync_redis: redis.Redis,
                                                  namespace: str) -> None:
    key = f"rd:{{{namespace}}}:pace:queue"
    now = 100.0
    assert pacing.take(sync_redis, key, 2.0, 1, now, queue=True) == 0.0
    waits = [pacing.take(sync_redis, key, 2.0, 1, now, queue=True) for _ in range(4)]
    assert waits == pytest.approx([0.5, 1.0, 1.5, 2.0])  # one per 1/rate s, in turn
    # Each comes back at its slot and finds its token.
    assert pacing.take(sync_redis, key, 2.0, 1, now + 0.5, queue=True) == 0.0
    assert pacing.take(sync_redis, key, 2.0, 1, now + 1.0, queue=True) == 0.0
    # Plain takes ignore the queue: they wait only for the next token.
    assert pacing.take(sync_redis, key, 2.0, 1, now + 1.0) == pytest.approx(0.5)


def test_several_buckets_give_a_token_each_or_none(sync_redis: redis.Redis,
                                                   namespace: str) -> None:
    """A Slack post takes its channel's token and the workspace's in one round trip; when the
    workspace holds it back, the channel's token is not spent."""
    channel, workspace = (f"rd:{{{namespace}}}:pace:slack:C1",
                          f"rd:{{{namespace}}}:pace:slack:workspace")
    both = [(channel, 1.0, 2, True), (workspace, 0.5, 1, False)]
    now = 500.0
    assert pacing.take_all(sync_redis, both, now) == 0.0
    assert pacing.take_all(sync_redis, both, now) == pytest.approx(2.0)  # the workspace's wait
    assert pacing.take(sync_redis, channel, 1.0, 2, now) == 0.0  # its second token is there
    assert pacing.take_all(sync_redis, both, now) == pytest.approx(2.0)  # longest of 1 and 2
    assert pacing.take_all(sync_redis, both, now + 2) == 0.0  # both refilled: one from each
    assert pacing.take(sync_redis, channel, 1.0, 2, now + 2) == 0.0
    assert pacing.take(sync_redis, workspace, 0.5, 1, now + 2) == pytest.approx(2.0)


def test_queued_slots_come_after_the_other_buckets_wait(sync_redis: redis.Redis,
                                                       namespace: str) -> None:
    """Callers the workspace holds back for 2 s are not all given channel slots inside those
    2 s (they would all come back at once): their slots start when the workspace allows."""
    channel, workspace = (f"rd:{{{namespace}}}:pace:slack:C2",
                          f"rd:{{{namespace}}}:pace:slack:workspace")
    both = [(channel, 1.0, 1, True), (workspace, 0.5, 1, False)]
    now = 700.0
    assert pacing.take_all(sync_redis, both, now) == 0.0
    waits = [pacing.take_all(sync_redis, both, now) for _ in range(3)]
    assert waits == pytest.approx([2.0, 3.0, 4.0])  # one by one, from the workspace's 2 s


def test_invalid_parameters_are_refused(sync_redis: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError):
        pacing.take(sync_redis, "pace:x", 0, 1)
    with pytest.raises(ValueError):
        pacing.Bucket(1.0, 0)


def test_concurrent_takers_never_exceed_the_bucket(namespace: str,
                                                   redis_server: EmbeddedRedis) -> None:
    """Eight clients racing on one bucket at one instant get exactly ``burst`` tokens."""
    key = f"rd:{{{namespace}}}:pace:race"
    got: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        waits = [pacing.take(client, key, 1.0, 5, 5000.0) for _ in range(10)]
        with lock:
            got.extend(waits)
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(0.0) == 5 and len(got) == 80


async def test_the_asyncio_client_works_the_same(async_redis: aioredis.Redis,
                                                 namespace: str) -> None:
    key = f"rd:{{{namespace}}}:pace:async"
    assert await pacing.take(async_redis, key, 1.0, 1, 50.0) == 0.0
    assert await pacing.take(async_redis, key, 1.0, 1, 50.0) == pytest.approx(1.0)
