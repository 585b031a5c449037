"""The Redis store: every write that must be atomic is one Lua script.

``Store`` works with a sync or an asyncio redis-py client alike: each method returns what the
client returns (a value, or an awaitable for the asyncio client), so the gateway awaits and
the workers don't, and both share the same scripts and key names.
"""

from __future__ import annotations

import time
from functools import cache
from importlib import resources
from typing import Any

from routing.config import Workspace
from routing.keys import Keys
from routing.types import AgentReply, InboundMessage

SID_TTL = 30 * 24 * 3600  # provider ids are remembered (dedupe, status callbacks) for 30 days
EVENT_TTL = 7 * 24 * 3600  # Slack retries within hours; a week is plenty
WHATSAPP_WINDOW = 24 * 3600


@cache
def script_source(name: str) -> str:
    """A script with the shared library prepended."""
    lua = resources.files("routing") / "lua"
    return (lua / "lib.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


SCRIPTS = ("inbound", "agent_reply", "status", "sent", "settle")


class Store:
    """Scripts and reads over one namespace."""

    def __init__(self, redis: Any, namespace: str = "rd") -> None:
        self.redis = redis
        self.keys = Keys(namespace)
        self._scripts = {name: redis.register_script(script_source(name)) for name in SCRIPTS}

    def _run(self, name: str, *args: object, now: float | None = None) -> Any:
        stamp = time.time() if now is None else now
        return self._scripts[name](
            keys=[self.keys.seq], args=[self.keys.prefix, repr(stamp), *args]
        )

    # -- writes ---------------------------------------------------------------------------

    def inbound(self, msg: InboundMessage, campaign: str, default_department: str,
                now: float | None = None) -> Any:
        """Store a customer message; raw result for ``InboundResult.parse``."""
        return self._run(
            "inbound", msg.sid, msg.phone, msg.customer_addr, msg.campaign_addr, msg.channel,
            campaign, msg.body, msg.media_json(), msg.profile_name, default_department, SID_TTL,
            now=now,
        )

    def agent_reply(self, reply: AgentReply, now: float | None = None) -> Any:
        """Store an agent's thread reply if they may send it; raw for ``ReplyResult.parse``."""
        return self._run(
            "agent_reply", reply.event_id, reply.slack_channel, reply.thread_ts,
            reply.slack_user, reply.text, reply.ts, EVENT_TTL, WHATSAPP_WINDOW, now=now,
        )

    def status(self, sid: str, status: str, error_code: str = "", now: float | None = None) -> Any:
        """Apply a Twilio status callback monotonically; returns [outcome, message id]."""
        return self._run("status", sid, status, error_code, now=now)

    def sent(self, mid: str, vid: str, sid: str, status: str, error_code: str = "") -> Any:
        """Record the outcome of sending the head of a conversation's Twilio outbox."""
        return self._run("sent", mid, vid, sid, status, error_code, SID_TTL)

    def settle(self, member: str, started_at: float) -> Any:
        """Clear a pending entry once its work is done (see settle.lua)."""
        return self._run("settle", member, repr(started_at))

    def seed(self, workspace: Workspace) -> Any:
        """Load agents and departments from config in one MULTI. Presence set at first start
        only; capacity and membership always follow the config."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        for campaign in workspace.campaigns:
            for dept in campaign.departments:
                members = [a.id for a in workspace.members(campaign.id, dept.id)]
                pipe.delete(k.dept_members(campaign.id, dept.id))
                if members:
                    pipe.sadd(k.dept_members(campaign.id, dept.id), *members)
        pipe.delete(k.slack_users)
        for agent in workspace.agents:
            pipe.hsetnx(k.agent(agent.id), "presence", agent.presence)
            pipe.hsetnx(k.agent(agent.id), "load", 0)
            pipe.hset(k.agent(agent.id), mapping={"capacity": agent.capacity, "name": agent.name})
            pipe.hset(k.slack_users, agent.slack_user, agent.id)
        return pipe.execute()

    # -- reads ----------------------------------------------------------------------------

    def conversation_hash(self, vid: str) -> Any:
        return self.redis.hgetall(self.keys.conv(vid))

    def message_hash(self, mid: str) -> Any:
        return self.redis.hgetall(self.keys.msg(mid))

    def contact_hash(self, cid: str) -> Any:
        return self.redis.hgetall(self.keys.contact(cid))

    def events(self, vid: str, count: int = 1000) -> Any:
        return self.redis.xrange(self.keys.events(vid), count=count)
