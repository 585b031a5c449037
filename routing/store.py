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
from routing.types import AgentReply, InboundMessage, media_json

SID_TTL = 30 * 24 * 3600  # provider ids are remembered (dedupe, status callbacks) for 30 days
EVENT_TTL = 7 * 24 * 3600  # Slack retries within hours; a week is plenty
WHATSAPP_WINDOW = 24 * 3600


@cache
def script_source(name: str) -> str:
    """A script with the shared library prepended."""
    lua = resources.files("routing") / "lua"
    return (lua / "lib.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


SCRIPTS = ("inbound", "agent_reply", "status", "sent", "settle", "presence", "close", "owner",
           "exclusive", "dry_run", "handoff", "outbound", "move", "escalate", "note",
           "contact_edit")


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
                has_bot: bool = False, now: float | None = None) -> Any:
        """Store a customer message, routing a new conversation; raw for
        ``InboundResult.parse``."""
        return self._run(
            "inbound", msg.sid, msg.phone, msg.customer_addr, msg.campaign_addr, msg.channel,
            campaign, msg.body, msg.media_json(), msg.profile_name, default_department, SID_TTL,
            "yes" if has_bot else "no", now=now,
        )

    def agent_reply(self, reply: AgentReply, now: float | None = None) -> Any:
        """Store an agent's thread reply if they may send it; raw for ``ReplyResult.parse``."""
        return self._run(
            "agent_reply", reply.event_id, reply.slack_channel, reply.thread_ts,
            reply.slack_user, reply.text, reply.ts, EVENT_TTL, WHATSAPP_WINDOW,
            media_json(reply.media), now=now,
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

    def set_presence(self, agent: str, presence: str, actor: str,
                     now: float | None = None) -> Any:
        """Returns [previous presence, conversations assigned as a result]."""
        return self._run("presence", agent, "presence", presence, actor, now=now)

    def set_capacity(self, agent: str, capacity: int, actor: str) -> Any:
        return self._run("presence", agent, "capacity", capacity, actor)

    def close(self, vid: str, actor: str, typification: str = "", subtypification: str = "",
              note: str = "", now: float | None = None) -> Any:
        """Returns [outcome, conversations assigned to the freed agent]."""
        return self._run("close", vid, actor, typification, subtypification, note, now=now)

    def set_owner(self, refs: list[str], owner_type: str, owner_id: str, actor: str) -> Any:
        """Owner of many contacts (ids or E.164 phones) at once; returns contact ids ('' for an
        unknown id). ``owner_type`` '' means unassigned."""
        return self._run("owner", actor, owner_type, owner_id, *refs)

    def set_exclusive(self, ref: str, campaign: str, agent: str, actor: str) -> Any:
        """Set ('' removes) the exclusive agent; returns the contact id or ''."""
        return self._run("exclusive", actor, ref, campaign, agent)

    def dry_run(self, ref: str, campaign: str, default_department: str, has_bot: bool) -> Any:
        """[rule, action, target, reason, skipped, contact id] without changing anything."""
        return self._run("dry_run", ref, campaign, default_department,
                         "yes" if has_bot else "no")

    def handoff(self, vid: str, idem_key: str, target_type: str, target_id: str,
                default_department: str, escalation: str, note: str, actor: str) -> Any:
        """[outcome, status, assignee]; outcome handed_off | not_bot | not_found."""
        return self._run("handoff", vid, idem_key, target_type, target_id, default_department,
                         escalation, note, actor)

    def outbound(self, vid: str, author: str, text: str, idem_key: str = "",
                 require_status: str = "") -> Any:
        """[outcome, message id or detail]; outcome queued | duplicate | not_found |
        wrong_status | window_closed."""
        return self._run("outbound", vid, author, text, idem_key, WHATSAPP_WINDOW,
                         require_status)

    def move(self, vid: str, actor: str, kind: str, target: str, note: str,
             default_department: str = "") -> Any:
        """Reassign / transfer; [outcome, new assignee or detail, conversations the freed agent
        took]. kind: reassign | transfer_agent | transfer_campaign."""
        return self._run("move", vid, actor, kind, target, note, default_department)

    def escalate(self, vid: str, actor: str, escalation: str, note: str) -> Any:
        return self._run("escalate", vid, actor, escalation, note)

    def note(self, vid: str, actor: str, text: str, dedupe_key: str = "") -> Any:
        return self._run("note", vid, actor, text, dedupe_key, EVENT_TTL)

    def edit_contact(self, cid: str, actor: str, changes: dict[str, str]) -> Any:
        """[outcome, changed fields...]; outcome edited | not_found | phone_taken."""
        flat = [x for pair in changes.items() for x in pair]
        return self._run("contact_edit", cid, actor, *flat)

    def set_grants(self, agents: list[str], campaign: str, grants: list[str],
                   actor: str) -> Any:
        """Per-campaign grants of many agents in one MULTI, each change audited."""
        pipe = self.redis.pipeline(transaction=True)
        for agent in agents:
            pipe.hset(self.keys.agent_grants(agent), campaign, ",".join(sorted(grants)))
            pipe.xadd(self.keys.agent(agent) + ":audit", {
                "at": repr(time.time()), "actor": actor, "field": f"grants:{campaign}",
                "new": ",".join(sorted(grants))})
        return pipe.execute()

    def grants(self, agent: str) -> Any:
        return self.redis.hgetall(self.keys.agent_grants(agent))

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
            pipe.delete(k.agent_depts(agent.id))
            if agent.departments:
                pipe.sadd(k.agent_depts(agent.id), *agent.departments)
            pipe.hsetnx(k.agent(agent.id), "presence", agent.presence)
            pipe.hsetnx(k.agent(agent.id), "load", 0)
            pipe.hset(k.agent(agent.id), mapping={"capacity": agent.capacity, "name": agent.name})
            pipe.hset(k.slack_users, agent.slack_user, agent.id)
        return pipe.execute()

    def add_token(self, token_sha256: str, principal_json: str) -> Any:
        return self.redis.hset(self.keys.tokens(), token_sha256, principal_json)

    def revoke_token(self, token_sha256: str) -> Any:
        return self.redis.hdel(self.keys.tokens(), token_sha256)

    # -- reads ----------------------------------------------------------------------------

    def token(self, token_sha256: str) -> Any:
        return self.redis.hget(self.keys.tokens(), token_sha256)

    def agent_hash(self, agent: str) -> Any:
        return self.redis.hgetall(self.keys.agent(agent))

    def conversation_hash(self, vid: str) -> Any:
        return self.redis.hgetall(self.keys.conv(vid))

    def message_hash(self, mid: str) -> Any:
        return self.redis.hgetall(self.keys.msg(mid))

    def contact_hash(self, cid: str) -> Any:
        return self.redis.hgetall(self.keys.contact(cid))

    def events(self, vid: str, count: int = 1000) -> Any:
        return self.redis.xrange(self.keys.events(vid), count=count)
