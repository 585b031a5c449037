"""The Redis store: every write that must be atomic is one Lua script.

``Store`` works with a sync or an asyncio redis-py client alike: each method returns what the
client returns (a value, or an awaitable for the asyncio client), so the gateway awaits and
the workers don't, and both share the same scripts and key names.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from types import CoroutineType
from typing import Any, TypeVar

from routing.config import Workspace
from routing.keys import Keys
from routing.lualib import prune
from routing.results import (
    ActiveSent,
    AgentChanged,
    BulkChanged,
    BulkClaim,
    ContactChanged,
    Decision,
    HistoryContacts,
    Inbound,
    Moved,
    Recorded,
    Replied,
    Result,
    Sent,
    StatusApplied,
)
from routing.types import AgentReply, InboundMessage, Work, media_json

SID_TTL = 30 * 24 * 3600  # provider ids are remembered (dedupe, status callbacks) for 30 days
EVENT_TTL = 7 * 24 * 3600  # Slack retries within hours; a week is plenty
WHATSAPP_WINDOW = 24 * 3600
NOTICE = "e:"  # a Slack outbox entry that is an event to show (not a message): "e:<event id>"


def _lua(name: str) -> str:
    return (resources.files("routing") / "lua" / f"{name}.lua").read_text()


@cache
def library_source() -> str:
    """The shared helpers (keys, marks, replies) and the routing policy."""
    return _lua("lib") + "\n" + _lua("policy")


@cache
def script_source(name: str) -> str:
    """A script with the part of the library it uses prepended (routing/lualib.py)."""
    return prune(library_source(), _lua(name))


SCRIPTS = ("inbound", "agent_reply", "status", "sent", "settle", "presence", "close", "owner",
           "exclusive", "dry_run", "handoff", "outbound", "move", "escalate", "note",
           "contact_edit", "remind", "history", "history_contact", "active_message",
           "bulk_create", "bulk_claim", "bulk_sent", "bulk_cancel", "slack_failed")

T = TypeVar("T")
#: What a store method gives: the value itself with a sync client, an awaitable with asyncio.
Maybe = T | Awaitable[T]


async def _parsed(raw: Awaitable[Any], parse: Callable[[Any], T]) -> T:
    return parse(await raw)


def _awaitable(raw: Any) -> bool:
    """An asyncio client's answer (a coroutine: checked first, it is the webhooks' case and
    ``inspect.isawaitable`` alone is an ABC check) rather than a sync client's value."""
    return type(raw) is CoroutineType or inspect.isawaitable(raw)


def _after(raw: Any, parse: Callable[[Any], T]) -> Maybe[T]:
    """Parse a command's answer, now (sync client) or once awaited (asyncio client)."""
    return _parsed(raw, parse) if _awaitable(raw) else parse(raw)


def _rows(rows: list[Any], fields: list[str] | None) -> list[dict[str, str]]:
    if not fields:
        return rows
    return [{f: v for f, v in zip(fields, row, strict=True) if v is not None} for row in rows]


class Store:
    """Scripts and reads over one namespace. The client must decode responses to ``str``."""

    def __init__(self, redis: Any, namespace: str = "rd") -> None:
        self.redis = redis
        self.keys = Keys(namespace)
        self._scripts = {name: redis.register_script(script_source(name)) for name in SCRIPTS}
        self._script_keys, self._prefix = (self.keys.seq,), self.keys.prefix

    def _run(self, name: str, parse: Callable[[Any], T], *args: object,
             now: float | None = None) -> Maybe[T]:
        stamp = time.time() if now is None else now
        raw = self._scripts[name](keys=self._script_keys,
                                  args=(self._prefix, repr(stamp), *args))
        return _after(raw, parse)

    # -- writes ---------------------------------------------------------------------------

    def inbound(self, msg: InboundMessage, campaign: str, default_department: str,
                has_bot: bool = False, now: float | None = None, help_text: str = ""
                ) -> Maybe[Inbound]:
        """Store a customer message, routing a new conversation; opt-out keywords are recorded
        and HELP answered with ``help_text``."""
        return self._run(
            "inbound", Inbound.parse, msg.sid, msg.phone, msg.customer_addr, msg.campaign_addr,
            msg.channel, campaign, msg.body, msg.media_json(), msg.profile_name,
            default_department, SID_TTL, "yes" if has_bot else "no", help_text,
            msg.choice_json(), now=now,
        )

    def agent_reply(self, reply: AgentReply, agent: str, now: float | None = None
                    ) -> Maybe[Replied]:
        """Store an agent's thread reply if they may send it."""
        return self._run(
            "agent_reply", Replied.parse, reply.event_id, reply.slack_channel, reply.thread_ts,
            agent, reply.text, reply.ts, EVENT_TTL, WHATSAPP_WINDOW, media_json(reply.media),
            now=now,
        )

    def status(self, sid: str, status: str, error_code: str = "", now: float | None = None
               ) -> Maybe[StatusApplied]:
        """Apply a Twilio status callback monotonically."""
        return self._run("status", StatusApplied.parse, sid, status, error_code, now=now)

    def sent(self, mid: str, vid: str, sid: str, status: str, error_code: str = "",
             reason: str = "") -> Maybe[Recorded]:
        """Record the outcome of sending the head of a conversation's Twilio outbox."""
        return self._run("sent", Recorded.parse, mid, vid, sid, status, error_code, SID_TTL,
                         reason)

    def settle(self, member: str, started_at: float, lock: tuple[str, Any] | None = None
               ) -> Any:
        """Clear a work mark once its work is done (see settle.lua); 1 if cleared. ``lock``:
        the job's lock (its key, ``keys.lock(...)``, and token), given up in the same call if
        the token still holds it."""
        return self._scripts["settle"](keys=[self.keys.seq], args=[
            self.keys.prefix, repr(time.time()), member, repr(started_at), *(lock or ())])

    def set_presence(self, agent: str, presence: str, actor: str,
                     now: float | None = None) -> Maybe[AgentChanged]:
        return self._run("presence", AgentChanged.parse, agent, "presence", presence, actor,
                         now=now)

    def set_capacity(self, agent: str, capacity: int, actor: str) -> Maybe[AgentChanged]:
        return self._run("presence", AgentChanged.parse, agent, "capacity", capacity, actor)

    def close(self, vid: str, actor: str, typification: str = "", subtypification: str = "",
              note: str = "", now: float | None = None) -> Maybe[Moved]:
        return self._run("close", Moved.parse, vid, actor, typification, subtypification, note,
                         now=now)

    def set_owner(self, refs: list[str], owner_type: str, owner_id: str, actor: str
                  ) -> Maybe[ContactChanged]:
        """Owner of many contacts (ids or E.164 phones) at once; ``contacts`` has '' for an
        unknown id. ``owner_type`` '' means unassigned."""
        return self._run("owner", ContactChanged.parse, actor, owner_type, owner_id, *refs)

    def set_exclusive(self, ref: str, campaign: str, agent: str, actor: str
                      ) -> Maybe[ContactChanged]:
        """Set ('' removes) the exclusive agent."""
        return self._run("exclusive", ContactChanged.parse, actor, ref, campaign, agent)

    def dry_run(self, ref: str, campaign: str, default_department: str, has_bot: bool
                ) -> Maybe[Decision]:
        """Where a new conversation would go, without changing anything."""
        return self._run("dry_run", Decision.parse, ref, campaign, default_department,
                         "yes" if has_bot else "no")

    def handoff(self, vid: str, idem_key: str, target_type: str, target_id: str,
                default_department: str, escalation: str, note: str, actor: str
                ) -> Maybe[Moved]:
        """outcome handed_off | not_bot."""
        return self._run("handoff", Moved.parse, vid, idem_key, target_type, target_id,
                         default_department, escalation, note, actor)

    def outbound(self, vid: str, author: str, text: str, idem_key: str = "",
                 require_status: str = "", template: str = "", content_sid: str = "",
                 content_variables: str = "") -> Maybe[Sent]:
        """outcome queued | wrong_status | window_closed | opted_out."""
        return self._run("outbound", Sent.parse, vid, author, text, idem_key, WHATSAPP_WINDOW,
                         require_status, template, content_sid, content_variables)

    def move(self, vid: str, actor: str, kind: str, target: str, note: str,
             default_department: str = "", now: float | None = None) -> Maybe[Moved]:
        """Reassign / transfer. kind: reassign | transfer_agent | transfer_campaign; outcome
        moved | closed | same_agent | target_unavailable."""
        return self._run("move", Moved.parse, vid, actor, kind, target, note, default_department,
                         now=now)

    def escalate(self, vid: str, actor: str, escalation: str, note: str) -> Maybe[Result]:
        return self._run("escalate", Result.parse, vid, actor, escalation, note)

    def note(self, vid: str, actor: str, text: str, dedupe_key: str = "") -> Maybe[Result]:
        return self._run("note", Result.parse, vid, actor, text, dedupe_key, EVENT_TTL)

    def edit_contact(self, cid: str, actor: str, changes: dict[str, str], vid: str = ""
                     ) -> Maybe[ContactChanged]:
        """outcome edited | phone_taken (``contact`` is whose phone it is)."""
        flat = [x for pair in changes.items() for x in pair]
        return self._run("contact_edit", ContactChanged.parse, cid, actor, vid, *flat)

    def active_message(self, campaign: str, campaign_addr: str, channel: str, contact_ref: str,
                       agent: str, actor: str, text: str, content_sid: str,
                       content_variables: str, template: str, idem_key: str = "",
                       default_department: str = "", has_bot: bool = False,
                       session_only: bool = False) -> Maybe[ActiveSent]:
        """A template to one contact, opening or resuming their conversation; outcome queued |
        opted_out | assigned_to_other | window_closed | no_phone."""
        return self._run("active_message", ActiveSent.parse, campaign, campaign_addr, channel,
                         contact_ref, agent, actor, text, content_sid, content_variables,
                         template, idem_key, default_department, "yes" if has_bot else "no",
                         WHATSAPP_WINDOW, "yes" if session_only else "no")

    def bulk_create(self, meta: dict[str, str], recipients: list[tuple[str, str]],
                    chunk: int, idem_key: str = "") -> Maybe[BulkChanged]:
        """A bulk of (E.164 phone, JSON input) recipients, marked for sending in chunks."""
        flat = [x for pair in meta.items() for x in pair]
        rows = [x for pair in recipients for x in pair]
        return self._run("bulk_create", BulkChanged.parse, idem_key, chunk, len(flat), *flat,
                         *rows)

    def bulk_claim(self, bid: str, index: int) -> Maybe[BulkClaim]:
        """Claim one recipient before its send (state queued -> sending, its message stored);
        outcome send | skip | done."""
        return self._run("bulk_claim", BulkClaim.parse, bid, index)

    def bulk_sent(self, bid: str, index: int, sid: str, status: str, error_code: str = "",
                  reason: str = "") -> Maybe[Result]:
        """The provider's answer for a claimed recipient (sid, or a failure; status 'retry'
        puts it back in the queue)."""
        return self._run("bulk_sent", Result.parse, bid, index, sid, status, error_code, reason,
                         SID_TTL)

    def bulk_cancel(self, bid: str, actor: str) -> Maybe[BulkChanged]:
        return self._run("bulk_cancel", BulkChanged.parse, bid, actor)
    def history(self, agent: str, campaigns: list[str], now: float | None = None
                ) -> Maybe[HistoryContacts]:
        """The contacts in an agent's attendance history through tickets in these campaigns,
        most recent first (reads only)."""
        return self._run("history", HistoryContacts.parse, agent, *campaigns, now=now)

    def history_contact(self, agent: str, cid: str, campaigns: list[str],
                        now: float | None = None) -> Maybe[HistoryContacts]:
        """A contact's visible tickets for an agent's history; outcome ``served`` or
        ``not_served`` (reads only)."""
        return self._run("history_contact", HistoryContacts.parse, agent, cid, *campaigns,
                         now=now)

    def remind(self, vid: str, due: float) -> Maybe[Result]:
        """Mark a reminder for the assignee of a waiting customer, once per wait; ``due`` is
        the time the reminder is for (its minutes are counted to it)."""
        return self._run("remind", Result.parse, vid, repr(due))

    # -- what the workers record after a provider answered --------------------------------

    def card_posted(self, vid: str, channel: str, ts: str, context: bool = False,
                    posted_as: str = "") -> Any:
        """The conversation's card is the parent of its thread; replies there are found by it.
        ``context``: the new thread's context (history, transfer) is still to be posted.
        ``posted_as``: the post's ident (``begin_post``), whose mark the record makes moot."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.conv(vid), mapping={"slack_channel": channel, "slack_ts": ts,
                                                **({"slack_context": "due"} if context else {})})
        pipe.hset(self.keys.threads, f"{channel}|{ts}", vid)
        if posted_as:
            pipe.delete(self._posting(posted_as))
        return pipe.execute()

    def relayed(self, vid: str, entries: list[str], channel: str, ts: str,
                outgoing: tuple[str, ...] = (), posted_as: str = "") -> list[str]:
        """The first ``len(entries)`` entries of the Slack outbox were posted, together (a
        message keeps where it was shown). Only the conversation's relay job, under its lock,
        removes from the head, so the head is what it posted. Messages to the customer shown
        here (``outgoing``: a bot's answer, an active message) now have a place for their
        status reaction: its work is marked, and returned as the jobs to enqueue.
        ``posted_as``: the post's ident (see ``card_posted``); its mark is dropped with the rest."""
        pipe = self.redis.pipeline(transaction=True)
        if posted_as:
            pipe.delete(self._posting(posted_as))
        for entry in entries:
            if not entry.startswith(NOTICE):
                pipe.hset(self.keys.msg(entry), mapping={"slack_ts": ts, "slack_channel": channel})
        marks = [f"{Work.STATUS}:{mid}" for mid in outgoing]
        if marks:
            pipe.zadd(self.keys.pending, dict.fromkeys(marks, time.time()))
        pipe.ltrim(self.keys.to_slack(vid), len(entries), -1)
        pipe.execute()
        return marks

    def _posting(self, ident: str) -> str:
        return self.keys.lock(f"posting:{ident}")

    def begin_post(self, ident: str) -> float | None:
        """Mark an attempt to post ``ident`` to Slack (sync client): None for the first
        attempt, else when an earlier attempt began (it may have posted before dying). The
        mark goes when the post is recorded (``posted_as``) or abandoned."""
        key = self._posting(ident)
        now = time.time()
        if self.redis.set(key, f"{now:.6f}", nx=True, ex=86400):
            return None
        return float(self.redis.get(key) or now)

    def abandon_post(self, ident: str) -> Any:
        """Nothing was posted for this attempt: the next one need not look for it."""
        return self.redis.delete(self._posting(ident))

    def slack_failed(self, vid: str, entries: list[str], error: str, channel: str) -> Any:
        """Slack refused these head entries for good: park them as failed and mark the report
        to supervisors (slack_failed.lua)."""
        return self._run("slack_failed", Result.parse, vid, error, channel, *entries)

    def outbox_entries(self, vid: str, kind: str, count: int) -> Any:
        """The first ``count`` entries of a conversation's outbox."""
        return self.redis.lrange(self.keys.outbox(vid, kind), 0, count - 1)

    def thread_context_posted(self, vid: str) -> Any:
        return self.redis.hdel(self.keys.conv(vid), "slack_context")

    def delivered_to_bot(self, vid: str) -> Any:
        return self.redis.lpop(self.keys.to_bot(vid))

    def drop_bot_outbox(self, vid: str) -> Any:
        """The bot no longer holds the conversation: what it has not seen is not for it."""
        return self.redis.delete(self.keys.to_bot(vid))

    def shown_status(self, mid: str, label: str) -> Any:
        return self.redis.hset(self.keys.msg(mid), "shown_status", label)

    def failure_notified(self, mid: str) -> Any:
        return self.redis.hexists(self.keys.msg(mid), "failure_notified")

    def claim_failure_notice(self, mid: str) -> Any:
        """True once per message: whoever gets it explains the failure in the thread."""
        return self.redis.hsetnx(self.keys.msg(mid), "failure_notified", 1)

    def set_grants(self, agents: list[str], campaign: str, grants: list[str],
                   actor: str) -> Any:
        """Per-campaign grants of many agents in one MULTI, each change audited."""
        pipe = self.redis.pipeline(transaction=True)
        for agent in agents:
            pipe.hset(self.keys.agent_grants(agent), campaign, ",".join(sorted(grants)))
            pipe.xadd(self.keys.agent_audit(agent), {
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
        pipe.hset(k.seeded, mapping={"at": repr(time.time()), "workspace": workspace.name})
        for campaign in workspace.campaigns:
            for dept in campaign.departments:
                members = [a.id for a in workspace.members(campaign.id, dept.id)]
                pipe.delete(k.dept_members(campaign.id, dept.id))
                if members:
                    pipe.sadd(k.dept_members(campaign.id, dept.id), *members)
        for agent in workspace.agents:
            pipe.delete(k.agent_depts(agent.id))
            if agent.departments:
                pipe.sadd(k.agent_depts(agent.id), *agent.departments)
            pipe.hsetnx(k.agent(agent.id), "presence", agent.presence)
            pipe.hsetnx(k.agent(agent.id), "load", 0)
            pipe.hset(k.agent(agent.id), mapping={"capacity": agent.capacity, "name": agent.name})
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

    def conversation_and_outbox(self, vid: str, kind: str, count: int
                                ) -> tuple[dict[str, str], list[str]]:
        """A conversation's hash and the first ``count`` entries of one of its outboxes, in one
        round trip (sync client): what a worker's job reads first."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.conv(vid))
        pipe.lrange(self.keys.outbox(vid, kind), 0, count - 1)
        conv, entries = pipe.execute()
        return conv, entries

    def message_hash(self, mid: str) -> Any:
        return self.redis.hgetall(self.keys.msg(mid))

    def contact_hash(self, cid: str) -> Any:
        return self.redis.hgetall(self.keys.contact(cid))

    def events(self, vid: str, count: int = 1000) -> Any:
        return self.redis.xrange(self.keys.events(vid), count=count)

    def event(self, vid: str, eid: str) -> Any:
        """One event's fields, as a list of (id, fields) with one item or none."""
        return self.redis.xrange(self.keys.events(vid), eid, eid)

    def outbox_head(self, vid: str, kind: str) -> Any:
        """The next entry of a conversation's outbox (``slack``, ``twilio``, ``bot``), or None."""
        return self.redis.lindex(self.keys.outbox(vid, kind), 0)

    def thread_conversation(self, channel: str, thread_ts: str) -> Any:
        """The conversation whose card is the parent of this Slack thread, or None."""
        return self.redis.hget(self.keys.threads, f"{channel}|{thread_ts}")

    def contact_id(self, phone: str) -> Any:
        return self.redis.hget(self.keys.ident, phone)

    def inbox(self, agent: str) -> Any:
        return self.redis.zrange(self.keys.inbox(agent), 0, -1)

    def inbox_size(self, agent: str) -> Any:
        return self.redis.zcard(self.keys.inbox(agent))

    def open_conversations(self, agent: str) -> Any:
        return self.redis.smembers(self.keys.agent_open(agent))

    def contact_conversations(self, cid: str, newest: int = 0) -> Any:
        """All of a contact's conversations oldest first, or the ``newest`` N newest first."""
        if newest:
            return self.redis.zrevrange(self.keys.contact_convs(cid), 0, newest - 1)
        return self.redis.zrange(self.keys.contact_convs(cid), 0, -1)

    def hashes(self, keys: list[str], fields: list[str] | None = None) -> Any:
        """Many hashes in one round trip: all fields, or the named ones (as dicts)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            if fields:
                pipe.hmget(key, fields)
            else:
                pipe.hgetall(key)
        raw = pipe.execute()
        if inspect.isawaitable(raw):
            return _parsed(raw, lambda rows: _rows(rows, fields))
        return _rows(raw, fields)

    def contact_notes(self, cid: str) -> Any:
        return self.redis.xrange(self.keys.contact_notes(cid))

    def contact_audit(self, cid: str) -> Any:
        return self.redis.xrange(self.keys.contact_audit(cid))

    def bulk_meta(self, bid: str) -> Any:
        return self.redis.hgetall(self.keys.bulk(bid))

    def bulk_rows(self, bid: str, with_inputs: bool = True) -> Any:
        """(states, reasons, message ids, inputs or None) of a bulk's recipients, by index."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.bulk_state(bid))
        pipe.hgetall(self.keys.bulk_why(bid))
        pipe.hgetall(self.keys.bulk_msg(bid))
        if with_inputs:
            pipe.hgetall(self.keys.bulk_input(bid))
        return _after(pipe.execute(), lambda rows: (*rows, None)[:4])

    def message_statuses(self, mids: list[str]) -> Any:
        """{message id: status} of many messages in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for mid in mids:
            pipe.hget(self.keys.msg(mid), "status")
        return _after(pipe.execute(), lambda got: dict(zip(mids, got, strict=True)))

    def waiting_since(self, vid: str) -> Any:
        """Since when the conversation's customer has waited for an answer, or None."""
        return self.redis.zscore(self.keys.awaiting, vid)

    def awaiting(self, until: float, limit: int = 500) -> Any:
        """(conversation, waiting since) of customers waiting since before ``until``."""
        return self.redis.zrangebyscore(self.keys.awaiting, "-inf", until, withscores=True,
                                        start=0, num=limit)
