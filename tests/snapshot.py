"""Compare Redis state by content (DUMP bytes of a hashtable change with rehashing)."""

from __future__ import annotations

from typing import Any

import redis


def snapshot(r: redis.Redis, prefix: str) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for key in r.keys(prefix + "*"):
        kind = r.type(key)
        out[key] = {
            b"string": lambda k: r.get(k),
            b"hash": lambda k: r.hgetall(k),
            b"list": lambda k: r.lrange(k, 0, -1),
            b"set": lambda k: r.smembers(k),
            b"zset": lambda k: r.zrange(k, 0, -1, withscores=True),
            b"stream": lambda k: r.xrange(k),
        }[kind](key)
    return out
