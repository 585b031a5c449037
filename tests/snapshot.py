"""Compare Redis state by content (DUMP bytes of a hashtable change with rehashing)."""

from __future__ import annotations

from typing import Any

import redis


def snapshot(r: redis.Redis, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in r.keys(prefix + "*"):
        kind = r.type(key)
        out[key] = {
            "string": lambda k: r.get(k),
            "hash": lambda k: r.hgetall(k),
            "list": lambda k: r.lrange(k, 0, -1),
            "set": lambda k: r.smembers(k),
            "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
            "stream": lambda k: r.xrange(k),
        }[kind](key)
    return out
