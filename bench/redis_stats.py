"""Redis cost per message, read from the servers' own counters.

``INFO commandstats`` counts every command executed, including those a Lua script runs with
``redis.call``; ``total_reads_processed`` counts read events on client sockets, i.e. round
trips (a pipeline or MULTI block sent at once is one). The bench's own CONFIG RESETSTAT and
INFO calls are measured on an idle server first and subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

SCRIPT_COMMANDS = ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro")


@dataclass
class Counters:
    commands: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    cpu: float = 0.0  # seconds, user + system

    def __sub__(self, other: Counters) -> Counters:
        names = self.commands.keys() | other.commands.keys()
        diff = {n: self.commands.get(n, 0) - other.commands.get(n, 0) for n in names}
        return Counters({n: c for n, c in diff.items() if c},
                        self.round_trips - other.round_trips, self.cpu - other.cpu)


def read(client: redis.Redis) -> Counters:
    info: dict[str, Any] = client.info("all")
    commands = {k.removeprefix("cmdstat_"): int(v["calls"])
                for k, v in info.items() if k.startswith("cmdstat_")}
    cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return Counters(commands, int(info["total_reads_processed"]), cpu)


class Meter:
    """Counters of one Redis server over one measured window."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        first = read(client)
        self.overhead = read(client) - first  # what one of our own INFO calls adds
        self.overhead.cpu = 0.0
        self.base = Counters()

    def start(self) -> None:
        self.client.config_resetstat()
        self.base = read(self.client)

    def stop(self) -> Counters:
        return read(self.client) - self.base - self.overhead


def per_message(counters: Counters, messages: int) -> dict[str, Any]:
    """The figures the report prints, divided by the number of messages."""
    n = max(messages, 1)
    by_command = dict(sorted(((name, calls / n) for name, calls in counters.commands.items()),
                             key=lambda item: (-item[1], item[0])))
    return {
        "round_trips": counters.round_trips / n,
        "commands": sum(counters.commands.values()) / n,
        "lua_calls": sum(counters.commands.get(c, 0) for c in SCRIPT_COMMANDS) / n,
        "by_command": by_command,
    }
