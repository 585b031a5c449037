"""Pacing of sends per sending number: a token bucket in Redis (``routing.pacing``) shared by
every worker, so that together they never exceed the number's rate (configurable per campaign;
WhatsApp 80/s, SMS long code 1/s by default). Agents' and bots' messages go before bulks.
"""

from __future__ import annotations

import threading
import time

from routing import pacing
from workers.context import Context

BURST_SECONDS = 0.25  # a sender's bucket holds this many seconds of its rate (at least 1)
REPLY_PRIORITY_TTL = 2.0  # seconds an agent's waiting reply holds bulks back on its number


def _bucket(ctx: Context, sender: str) -> str:
    return ctx.store.keys.pace(sender)


def take_token(ctx: Context, sender: str, rate: float, bulk: bool = True,
               stop: threading.Event | None = None) -> bool:
    """Wait for a token of the sender's bucket; True if it had to wait. A bulk send also waits
    while an agent's reply is waiting for a token on the same number (replies go first)."""
    redis, key = ctx.store.redis, _bucket(ctx, sender)
    burst = max(1.0, rate * BURST_SECONDS)
    waited = False
    while stop is None or not stop.is_set():
        if bulk and redis.exists(key + ":replies"):
            time.sleep(1.0 / rate)
            continue
        wait = pacing.take(redis, key, rate, burst)
        if not wait:
            return waited
        if not bulk:  # hold bulks back on this number until this reply has gone
            redis.set(key + ":replies", 1, px=int(REPLY_PRIORITY_TTL * 1000))
        waited = True
        time.sleep(wait)
    return waited


def pace_reply(ctx: Context, sender: str, campaign_id: str) -> None:
    """An agent's or bot's message takes a token of its sender's bucket, before any bulk."""
    campaign = ctx.workspace.campaign(campaign_id)
    if campaign is not None and take_token(ctx, sender, campaign.rate, bulk=False):
        ctx.store.redis.delete(_bucket(ctx, sender) + ":replies")
