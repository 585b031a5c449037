"""Keep supervisors' App Homes live: the worker's sweeper thread calls ``refresh`` on each pass
(every 5 s); when the supervisors' board (queues, agents, unassigned, escalations) differs from
the one last published, every supervisor's and admin's Home is republished.

Why here and not on every change: a change is made by many scripts (inbound, presence, close,
move, escalate, handoff...); marking a ``home`` work in each would touch all of them, while one
read of the board costs three round trips whatever the traffic. The board holds start times, not
durations (Slack shows "5 minutes ago" itself), so it only differs when something happened. With
several workers, a short lease lets one of them do it per pass, and the last board's digest is
kept in Redis so they agree on what was published. A republished Home shows the history's first
page (a supervisor who was paging through it starts again there).
"""

from __future__ import annotations

import asyncio
import hashlib
import json

import redis.asyncio as aioredis
import structlog

from channels.slack import app_home
from routing.actions import supervision
from routing.actions.context import Ctx
from routing.store import Store
from workers.context import Context

log = structlog.get_logger("homes")


def supervisors(context: Context) -> list[str]:
    return [a.slack_user for a in context.workspace.agents
            if set(a.roles) & supervision.SUPERVISING]


def refresh(context: Context) -> list[str]:
    """Republish supervisors' Homes if the board changed; returns whose were published."""
    users = supervisors(context)
    if not users or not context.redis_url:
        return []
    keys = context.store.keys
    if not context.store.redis.set(keys.lock("homes"), "1", nx=True, px=4000):
        return []  # another worker is at it
    return asyncio.run(_refresh(context, users))


async def _refresh(context: Context, users: list[str]) -> list[str]:
    client = aioredis.Redis.from_url(context.redis_url, decode_responses=True)
    try:
        ctx = Ctx(context.workspace, Store(client, context.store.keys.namespace))
        board = await supervision.read_board(ctx)
        digest = hashlib.sha256(json.dumps(board, sort_keys=True).encode()).hexdigest()
        key = context.store.keys.prefix + "homes:board"
        if await client.get(key) == digest:
            return []
        for user in users:
            context.slack.views_publish(user_id=user, view=await app_home.compose(ctx, user))
        await client.set(key, digest, ex=86400)
        log.info("homes.republished", count=len(users))
        return users
    finally:
        await client.aclose()
