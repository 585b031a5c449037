"""Token buckets in Redis, shared by every process that paces one provider resource.

``take(redis, key, rate_per_second, burst, now)`` takes one token from the bucket at ``key``
in one atomic round trip (one Lua call; ``take_all`` takes from several buckets at once, all
or none) and returns the seconds to wait: ``0.0`` means a token
was taken and the caller may go now; anything else means nothing was taken and the caller
should come back after that many seconds (reschedule the work rather than sleep on it).

A bucket holds up to ``burst`` tokens and refills at ``rate_per_second``; an idle bucket expires
once it would be full again, so keys cost nothing when unused. One key per paced resource:
a Slack channel (``…:pace:slack:C0SUPPORT``), a Twilio sender, a workspace. The key is used as
given: put the caller's namespace (and hash tag) in it.

``take(..., queue=True)`` is for many callers sharing a busy bucket (Slack: one channel, many
conversations): a caller told to wait is given the next free slot after those already waiting,
one per ``1 / rate`` seconds, so they come back one by one, not all at once to be told to wait
again. Without ``queue`` (the default) waiting callers are not counted.

Works with the sync and the asyncio redis-py clients alike: with the asyncio client ``take``
returns an awaitable. ``now`` defaults to this host's clock; pass one clock for every caller
of a bucket if hosts' clocks differ much.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Sequence
from functools import cache
from importlib import resources
from typing import Any


@cache
def source() -> str:
    return (resources.files("routing") / "lua" / "pacing.lua").read_text()


_scripts: dict[int, Any] = {}  # id(client) -> registered script (one SHA load per client)


def _script(redis: Any) -> Any:
    script = _scripts.get(id(redis))
    if script is None or script.registered_client is not redis:
        script = redis.register_script(source())
        _scripts[id(redis)] = script
    return script


async def _as_float(raw: Awaitable[Any]) -> float:
    return float(await raw)


def take(redis: Any, key: str, rate_per_second: float, burst: float,
         now: float | None = None, queue: bool = False) -> float | Awaitable[float]:
    """Take a token from ``key``; seconds to wait (0.0 = go, a token was taken). ``queue``:
    a waiting caller gets the next free slot after the callers already waiting."""
    return take_all(redis, [(key, rate_per_second, burst, queue)], now)


def take_all(redis: Any, buckets: Sequence[tuple[str, float, float, bool]],
             now: float | None = None) -> float | Awaitable[float]:
    """A token from each bucket ``(key, rate_per_second, burst, queue)``, all or none, in one
    round trip: 0.0 = go; else the longest wait of the buckets that lack one, and nothing was
    taken (a Slack channel's token is not spent on a post the workspace's bucket holds back).
    The keys must share a hash slot (one namespace's are)."""
    args = [repr(float(time.time() if now is None else now))]
    for _, rate_per_second, burst, queue in buckets:
        args += [repr(float(rate_per_second)), repr(float(burst)), "queue" if queue else ""]
    raw = _script(redis)(keys=[key for key, *_ in buckets], args=args)
    return _as_float(raw) if inspect.isawaitable(raw) else float(raw)


class Bucket:
    """One kind of bucket (a rate and a burst) over many keys: ``Bucket(1.0, 4).take(r, k)``."""

    def __init__(self, rate_per_second: float, burst: float) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a bucket needs rate_per_second > 0 and burst >= 1")
        self.rate, self.burst = rate_per_second, burst

    def take(self, redis: Any, key: str, now: float | None = None, queue: bool = False
             ) -> float | Awaitable[float]:
        return take(redis, key, self.rate, self.burst, now, queue)
