"""The attendance history at size: search and open a contact, p50/p99 and Redis round trips.

A workspace of 100,000 contacts and 1,000,000 closed tickets is generated inside Redis (a Lua
loop, so generating is fast), with one agent who served 5,000 of the tickets, each of another
contact. The same agent's work is then measured again in a workspace ten times smaller: the
requests touch only the agent's own index and the contacts it names, so the figures should not
move with the workspace's size. Round trips are counted at the client (one per command, script
or pipeline). Run with ``python -m bench.history`` (``--quick``: both workspaces 2x smaller).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from gateway.redis_launcher import EmbeddedRedis
from routing import actions
from routing.config import Workspace, parse_config
from routing.permissions import Principal
from routing.store import Store

GENERATE = """
-- ARGV: prefix first_contact contacts tickets_per_contact agent_every now seed
local P, first, n, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local every, now = tonumber(ARGV[5]), tonumber(ARGV[6])
math.randomseed(tonumber(ARGV[7]))
local names = {'Lucía', 'José', 'María', 'Andrés', 'Sofía', 'Martín', 'Camila', 'Ángel'}
local served = 0
for i = first, first + n - 1 do
  local cid = 'c' .. i
  local phone = '+5255' .. string.format('%08d', i)
  redis.call('HSET', P .. 'contact:' .. cid, 'id', cid, 'phone', phone,
             'name', names[(i % #names) + 1] .. ' Pérez ' .. i, 'email', 'c' .. i .. '@example.com')
  redis.call('HSET', P .. 'ident', phone, cid)
  for j = 1, per do
    local vid = 'v' .. i .. '_' .. j
    local closed = now - 3 * 3600 - math.random() * 86 * 86400
    local agent = 'agent' .. (((i * per + j) % 50) + 1)
    if (i * per + j) % every == 0 then
      agent = 'ana'
    end
    redis.call('HSET', P .. 'conv:' .. vid, 'id', vid, 'contact', cid, 'campaign', 'care',
               'channel', 'whatsapp', 'status', 'closed', 'assignee', agent,
               'opened_at', closed - 900, 'first_assigned_at', closed - 800,
               'closed_at', closed, 'typification', 'Resolved')
    redis.call('ZADD', P .. 'contact:' .. cid .. ':convs', closed - 900, vid)
    redis.call('ZADD', P .. 'agent:' .. agent .. ':history', closed, cid .. '|' .. vid)
    redis.call('SADD', P .. 'conv:' .. vid .. ':people', agent)
    if agent == 'ana' then
      served = served + 1
    end
  end
end
return served
"""


def workspace() -> Workspace:
    return parse_config({
        "history": {"enabled": True},
        "campaigns": [{"id": "care", "channel": "whatsapp", "number": "+14155238886",
                       "slack_channel": "C0CARE", "departments": [{"id": "front"}]}],
        "agents": [{"id": "ana", "slack_user": "U0ANA", "departments": ["care/front"],
                    "grants": {"care": ["history"]}}],
    })


def generate(client: redis.Redis, prefix: str, contacts: int, tickets: int, served: int) -> int:
    per = tickets // contacts
    every = max(1, tickets // served)
    script = client.register_script(GENERATE)
    total, batch = 0, 500
    for first in range(1, contacts + 1, batch):
        total += int(script(keys=[prefix + "seq"], args=[
            prefix, first, min(batch, contacts - first + 1), per, every, repr(time.time()),
            first]))
    return total


class Counting(aioredis.Redis):
    """Counts round trips: every command, script call or pipeline sent."""

    trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        Counting.trips += 1
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> Any:
            Counting.trips += 1
            return await execute(raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


async def measure(url: str, namespace: str, rounds: int) -> dict[str, Any]:
    client = Counting.from_url(url, decode_responses=True)
    ctx = actions.Ctx(workspace(), Store(client, namespace))
    ana = Principal("agent", "ana", agent="ana")
    listed = await actions.history_contacts(ctx, ana)
    cids = [c["id"] for c in listed["contacts"]]
    queries = ["lucía pérez 1", "maria", "@example.com", "55 0000 12", "ángel"]
    out: dict[str, Any] = {"contacts_listed": listed["total"]}
    for name, op in (
        ("list", lambda i: actions.history_contacts(ctx, ana, page=1 + i % 5)),
        ("search", lambda i: actions.history_contacts(ctx, ana, queries[i % len(queries)])),
        ("open contact", lambda i: actions.history_contact(ctx, ana, cids[i % len(cids)])),
    ):
        await op(0)  # warm
        Counting.trips = 0
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            await op(i)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        out[name] = {"p50_ms": statistics.median(times),
                     "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
                     "round_trips": Counting.trips / rounds}
    await client.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2x smaller workspaces")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    scale = 2 if args.quick else 1
    contacts, tickets, served = 100_000 // scale, 1_000_000 // scale, 5_000
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), appendonly=False).start()
        try:
            sync = redis.Redis.from_url(server.url, socket_timeout=None)
            figures = {}
            for label, ns, size in (("small", "bench-hist-s", 10), ("large", "bench-hist-l", 1)):
                prefix = f"rd:{{{ns}}}:"
                started = time.perf_counter()
                got = generate(sync, prefix, contacts // size, tickets // size, served)
                made = time.perf_counter() - started
                figures[label] = asyncio.run(measure(server.url, ns, args.rounds))
                figures[label] |= {"contacts": contacts // size, "tickets": tickets // size,
                                   "served": got, "generated_s": made}
            sync.close()
        finally:
            server.stop()
    for label in ("small", "large"):
        f = figures[label]
        print(f"history, {f['contacts']:,} contacts / {f['tickets']:,} closed tickets, the "
              f"agent served {f['served']:,} ({f['contacts_listed']:,} contacts listed; "
              f"generated in {f['generated_s']:.0f} s):")
        for name in ("list", "search", "open contact"):
            m = f[name]
            print(f"  {name:12} p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms  "
                  f"{m['round_trips']:.1f} Redis round trips per request")
    for name in ("list", "search", "open contact"):
        ratio = figures["large"][name]["p50_ms"] / figures["small"][name]["p50_ms"]
        print(f"history {name}: p50 at 10x the workspace = {ratio:.2f}x (1.00 = independent "
              "of the workspace's size)")


if __name__ == "__main__":
    random.seed(1)
    main()
