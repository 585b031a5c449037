"""Routing decisions per second, and Redis round trips per decision.

Each decision is a customer's first message in a campaign: one ``inbound.lua`` call that finds
or creates the contact, opens the conversation, runs the policy (exclusive, owner, department:
the department rule scans its members) and stores the message. The dry run is the same policy
without writes. The ceiling is Redis answering PING at the same concurrency, from the same
client: what one round trip costs here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from bench.redis_stats import Meter
from routing.config import Workspace
from routing.store import Store
from routing.types import InboundMessage

NAMESPACE = "bench-routing"


async def _rate(n: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> float:
    """Operations per second for n operations, ``concurrency`` in flight."""
    counter = iter(range(n))

    async def lane() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def measure(url: str, workspace: Workspace, n: int, concurrency: int) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url, max_connections=concurrency)
    sync = redis.Redis.from_url(url)
    store = Store(client, NAMESPACE)
    campaign = workspace.campaigns[0]
    try:
        await store.seed(workspace)
        for agent in workspace.agents:  # room for every conversation: each one is routed
            await store.set_capacity(agent.id, n, "bench")
            await store.set_presence(agent.id, "online", "bench")

        def first_message(i: int) -> Awaitable[Any]:
            phone = f"+5255{i:08d}"
            msg = InboundMessage(f"SMbench{i:026d}", campaign.channel, phone,
                                 f"whatsapp:{phone}", campaign.address, "hola")
            return store.inbound(msg, campaign.id, campaign.default_department or "", False)

        def dry_run(i: int) -> Awaitable[Any]:
            return store.dry_run(f"+5255{i:08d}", campaign.id,
                                 campaign.default_department or "", False)

        ping = await _rate(n, concurrency, lambda _: client.ping())
        meter = Meter(sync)
        meter.start()
        decisions = await _rate(n, concurrency, first_message)
        counted = meter.stop()
        dry = await _rate(n, concurrency, dry_run)
        opened = await client.hlen(store.keys.open)
    finally:
        await client.aclose()
        sync.close()
    return {
        "decisions": n, "conversations_opened": opened,
        "decisions_per_s": round(decisions), "dry_runs_per_s": round(dry),
        "ping_per_s": round(ping), "percent_of_ping": round(100 * decisions / ping, 1),
        "round_trips_per_decision": counted.round_trips / n,
        "commands_per_decision": sum(counted.commands.values()) / n,
    }


def render(r: dict[str, Any]) -> str:
    return (f"routing: {r['decisions_per_s']} decisions/s ({r['percent_of_ping']}% of Redis PING "
            f"at {r['ping_per_s']}/s), {r['dry_runs_per_s']} dry runs/s; "
            f"{r['round_trips_per_decision']:.2f} round trips and "
            f"{r['commands_per_decision']:.1f} commands per decision "
            f"({r['conversations_opened']} conversations opened)")
