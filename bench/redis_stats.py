"""Redis cost per message, read from the servers' own counters.

``INFO commandstats`` counts every command executed, including those a Lua script runs with
``redis.call``; ``total_reads_processed`` counts read events on client sockets, i.e. round
trips (a pipeline or MULTI block sent at once is one); ``usec`` in commandstats is the time
spent inside each command (a script's includes the commands it runs), and ``used_cpu_*`` the
whole server process's CPU, network I/O and protocol parsing included. The bench's own
CONFIG RESETSTAT and INFO calls are measured on an idle server first and subtracted.
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
    usec: dict[str, int] = field(default_factory=dict)  # time inside each command

    def __sub__(self, other: Counters) -> Counters:
        def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            diff = {n: a.get(n, 0) - b.get(n, 0) for n in a.keys() | b.keys()}
            return {n: c for n, c in diff.items() if c}

        return Counters(minus(self.commands, other.commands),
                        self.round_trips - other.round_trips, self.cpu - other.cpu,
                        minus(self.usec, other.usec))


def read(client: redis.Redis) -> Counters:
    info: dict[str, Any] = client.info("all")
    stats = {k.removeprefix("cmdstat_"): v for k, v in info.items() if k.startswith("cmdstat_")}
    cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return Counters({k: int(v["calls"]) for k, v in stats.items()},
                    int(info["total_reads_processed"]), cpu,
                    {k: int(v["usec"]) for k, v in stats.items()})


class Meter:
    """Counters of one Redis server over one measured window."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        first = read(client)
        self.overhead = read(client) - first  # what one of our own INFO calls adds
        self.overhead.cpu = 0.0
        self.overhead.usec = {}
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
    script_usec = sum(counters.usec.get(c, 0) for c in SCRIPT_COMMANDS)
    return {
        "round_trips": counters.round_trips / n,
        "script_us": script_usec / n,  # time inside the Lua scripts (INFO commandstats)
        "cpu_us": 1e6 * counters.cpu / n,  # the whole server process: scripts, I/O, parsing
        "commands": sum(counters.commands.values()) / n,
        "lua_calls": sum(counters.commands.get(c, 0) for c in SCRIPT_COMMANDS) / n,
        "by_command": by_command,
    }
