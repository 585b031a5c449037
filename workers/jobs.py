"""The RQ jobs. Each is idempotent and safe to run twice; each drains or renders current state.

Outboxes are per conversation and drained under a per-conversation lock, so messages leave in
the order they were written even with several workers. A transient failure raises, leaving the
message at the head of its outbox; RQ retries the job with backoff.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from slack_sdk.errors import SlackApiError

from channels.bot import webhook
from channels.media import media_url
from channels.slack import render
from channels.slack.escape import escape
from channels.twilio.send import PermanentSendError, reason, send_message
from routing.types import Conversation, Message
from workers.context import Context, current

log = structlog.get_logger("workers")


class Busy(Exception):
    """Another worker holds the conversation's lock for too long; retry later."""


@contextmanager
def locked(ctx: Context, name: str) -> Iterator[None]:
    lock = ctx.store.redis.lock(ctx.store.keys.lock(name), timeout=60, blocking_timeout=10)
    if not lock.acquire():
        raise Busy(name)
    try:
        yield
    finally:
        lock.release()


def _conversation(ctx: Context, vid: str) -> Conversation:
    return Conversation.from_hash(ctx.store.conversation_hash(vid))


def _message(ctx: Context, mid: str) -> Message:
    return Message.from_hash(ctx.store.message_hash(mid))


def _contact(ctx: Context, cid: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in ctx.store.contact_hash(cid).items()}


def _owner(ctx: Context, contact: dict[str, str]) -> str:
    kind, ident = contact.get("owner_type", ""), contact.get("owner_id", "")
    if kind == "agent":
        return _agent_name(ctx, ident)
    return f"department {ident}" if kind == "department" else "unassigned"


def _card(ctx: Context, conv: Conversation) -> dict:
    contact = _contact(ctx, conv.contact)
    campaign = ctx.workspace.campaign(conv.campaign)
    return render.card(
        conv, contact.get("name", ""), contact.get("phone", ""),
        campaign.name or campaign.id if campaign else conv.campaign,
        _agent_name(ctx, conv.assignee), _agent_name(ctx, conv.extra.get("waiting_for", "")),
        _owner(ctx, contact),
    )


def _messages(ctx: Context, vid: str, since: float = 0.0) -> list[tuple[str, str]]:
    """(who, text) of a conversation's messages, oldest first."""
    out = []
    for _, event in ctx.store.events(vid):
        if event.get(b"type") == b"message" and float(event.get(b"at", b"0")) >= since:
            msg = _message(ctx, event[b"message"].decode())
            who = ("customer" if msg.direction == "in" else
                   "bot" if msg.author == "bot" else _agent_name(ctx, msg.author))
            out.append((who, msg.body))
    return out


def _thread_context(ctx: Context, conv: Conversation) -> str | None:
    """What a new thread needs before its messages: the transfer context (O6), or the
    contact's earlier history within the campaign's window (A2)."""
    previous = conv.extra.get("previous_campaign")
    if previous:
        prev = ctx.workspace.campaign(previous)
        return render.transfer_context(prev.name or prev.id if prev else previous,
                                       _owner(ctx, _contact(ctx, conv.contact)),
                                       _messages(ctx, conv.id)[-10:])
    campaign = ctx.workspace.campaign(conv.campaign)
    hours = campaign.options.history_hours if campaign else 0
    if not hours:
        return None
    since = (conv.opened_at or time.time()) - hours * 3600
    earlier = []
    for raw in ctx.store.redis.zrangebyscore(ctx.store.keys.contact_convs(conv.contact),
                                             "-inf", "+inf"):
        other = raw.decode()
        if other != conv.id:
            earlier += _messages(ctx, other, since)
    return render.earlier_history(hours, earlier[-20:]) if earlier else None


def _agent_name(ctx: Context, agent_id: str) -> str:
    agent = ctx.workspace.agent(agent_id) if agent_id else None
    return (agent.name or agent.id) if agent else agent_id


def _slack_channel(ctx: Context, conv: Conversation) -> str:
    campaign = ctx.workspace.campaign(conv.campaign)
    if campaign is None:
        raise LookupError(f"conversation {conv.id}: campaign {conv.campaign!r} is not configured")
    return campaign.slack_channel


def drained(kind: str) -> Callable[[Callable[[Context, str], None]], Callable[[str], None]]:
    """Run an outbox drain under the conversation's lock until its work mark settles. A message
    that arrives while the job runs keeps the mark (no new job was enqueued for it), so the job
    goes round again instead of leaving it for the sweeper."""

    def wrap(drain: Callable[[Context, str], None]) -> Callable[[str], None]:
        @functools.wraps(drain)
        def job(vid: str) -> None:
            ctx = current()
            while True:
                started = time.time()
                with locked(ctx, f"{kind}:{vid}"):
                    drain(ctx, vid)
                if ctx.store.settle(f"{kind}:{vid}", started):
                    return

        return job

    return wrap


@drained("slack")
def relay_to_slack(ctx: Context, vid: str) -> None:
    """Post the conversation's card if it has none, then its queued messages."""
    started = time.time()
    keys, r = ctx.store.keys, ctx.store.redis
    conv = _conversation(ctx, vid)
    if not conv.slack_ts:
        channel = _slack_channel(ctx, conv)
        posted = ctx.slack.chat_postMessage(channel=channel, **_card(ctx, conv))
        conv.slack_channel, conv.slack_ts = posted["channel"], posted["ts"]
        pipe = r.pipeline(transaction=True)
        pipe.hset(keys.conv(vid), mapping={"slack_channel": conv.slack_channel,
                                           "slack_ts": conv.slack_ts})
        pipe.hset(keys.threads, f"{conv.slack_channel}|{conv.slack_ts}", vid)
        pipe.execute()
        ctx.store.settle(f"card:{vid}", started)
        log.info("slack.card_posted", conversation=vid, ts=conv.slack_ts)
        if context := _thread_context(ctx, conv):
            ctx.slack.chat_postMessage(channel=conv.slack_channel, thread_ts=conv.slack_ts,
                                       text=context)
    while (head := r.lindex(keys.to_slack(vid), 0)) is not None:
        msg = _message(ctx, head.decode())
        shown = (render.customer_reply(msg.body, msg.media) if msg.direction == "in"
                 else render.bot_reply(msg.body))
        posted = ctx.slack.chat_postMessage(
            channel=conv.slack_channel, thread_ts=conv.slack_ts, **shown)
        pipe = r.pipeline(transaction=True)
        pipe.hset(keys.msg(msg.id), mapping={"slack_ts": posted["ts"],
                                             "slack_channel": conv.slack_channel})
        pipe.lpop(keys.to_slack(vid))
        pipe.execute()
        log.info("slack.message_relayed", conversation=vid, message=msg.id)


@drained("twilio")
def send_to_twilio(ctx: Context, vid: str) -> None:
    """Send the conversation's queued messages to the customer, in order."""
    r = ctx.store.redis
    conv = _conversation(ctx, vid)
    while (head := r.lindex(ctx.store.keys.to_twilio(vid), 0)) is not None:
        msg = _message(ctx, head.decode())
        try:
            sid, status = send_message(
                ctx.twilio, from_=conv.campaign_addr, to=conv.customer_addr, body=msg.body,
                media_urls=[media_url(ctx.public_url, ctx.media_secret, msg.id, i)
                            if m.private else m.url for i, m in enumerate(msg.media)],
                status_callback=ctx.status_callback_url,
            )
            ctx.store.sent(msg.id, vid, sid, status)
            log.info("twilio.sent", conversation=vid, message=msg.id, sid=sid)
        except PermanentSendError as exc:
            ctx.store.sent(msg.id, vid, "", "failed", exc.code)
            r.hset(ctx.store.keys.msg(msg.id), "failure_reason", exc.reason)
            log.warning("twilio.failed", conversation=vid, message=msg.id, code=exc.code)
        ctx.dispatcher.enqueue(f"status:{msg.id}")


def _react(ctx: Context, method: str, msg: Message, name: str, ok_errors: set[str]) -> None:
    try:
        getattr(ctx.slack, method)(channel=msg.slack_channel, timestamp=msg.slack_ts, name=name)
    except SlackApiError as exc:
        if exc.response.get("error") not in ok_errors:
            raise


def show_status(mid: str) -> None:
    """Show an agent message's delivery status on it in Slack (a reaction), and explain a
    failure in the thread."""
    ctx, started = current(), time.time()
    r, keys = ctx.store.redis, ctx.store.keys
    with locked(ctx, f"status:{mid}"):
        msg = _message(ctx, mid)
        if msg.direction == "out" and msg.slack_ts:
            label = render.status_label(msg.status)
            if label != msg.shown_status:
                _react(ctx, "reactions_add", msg, render.STATUS_EMOJI[label], {"already_reacted"})
                if msg.shown_status:
                    _react(ctx, "reactions_remove", msg, render.STATUS_EMOJI[msg.shown_status],
                           {"no_reaction"})
                r.hset(keys.msg(mid), "shown_status", label)
            if label == "failed" and r.hsetnx(keys.msg(mid), "failure_notified", 1):
                conv = _conversation(ctx, msg.conv)
                agent = ctx.workspace.agent(msg.author)
                why = (r.hget(keys.msg(mid), "failure_reason") or b"").decode()
                ctx.slack.chat_postMessage(
                    channel=msg.slack_channel, thread_ts=conv.slack_ts,
                    text=render.failure_notice(
                        agent.slack_user if agent else msg.author,
                        why or reason(msg.error_code),
                    ),
                )
    ctx.store.settle(f"status:{mid}", started)


def update_card(vid: str) -> None:
    """Re-render a conversation's card after its state changed."""
    ctx, started = current(), time.time()
    with locked(ctx, f"slack:{vid}"):
        conv = _conversation(ctx, vid)
        if conv.slack_ts:  # no card yet: relay_to_slack posts it with the current state
            ctx.slack.chat_update(channel=conv.slack_channel, ts=conv.slack_ts,
                                  **_card(ctx, conv))
    ctx.store.settle(f"card:{vid}", started)


def alert_agent(vid: str) -> None:
    """Tell the assignee in a direct message that a conversation is now theirs."""
    ctx, started = current(), time.time()
    conv = _conversation(ctx, vid)
    agent = ctx.workspace.agent(conv.assignee) if conv.status == "assigned" else None
    if agent is not None:
        contact = _contact(ctx, conv.contact)
        label = contact.get("name") or contact.get("phone") or "a customer"
        campaign = ctx.workspace.campaign(conv.campaign)
        where = f"Answer in its thread in <#{campaign.slack_channel}>." if campaign else ""
        _dm(ctx, agent.id, render.assignment_alert(
            label, campaign.name or campaign.id if campaign else conv.campaign, where))
    ctx.store.settle(f"alert:{vid}", started)


@drained("bot")
def deliver_to_bot(ctx: Context, vid: str) -> None:
    """Deliver the customer's messages to the campaign's bot while the bot holds the
    conversation; once it has handed off, whatever is left is dropped."""
    r, keys = ctx.store.redis, ctx.store.keys
    conv = _conversation(ctx, vid)
    campaign = ctx.workspace.campaign(conv.campaign)
    if conv.status != "bot" or campaign is None or campaign.bot is None:
        r.delete(keys.to_bot(vid))
    else:
        secret = ctx.bot_secret(campaign)
        contact = _contact(ctx, conv.contact)
        while (head := r.lindex(keys.to_bot(vid), 0)) is not None:
            msg = _message(ctx, head.decode())
            webhook.deliver(ctx.http, campaign.bot.url, secret, msg.id, {
                "type": "message.created",
                "conversation": {"id": vid, "campaign": conv.campaign, "channel": conv.channel,
                                 "status": conv.status},
                "contact": {"id": conv.contact, "name": contact.get("name", ""),
                            "phone": contact.get("phone", "")},
                "message": {"id": msg.id, "text": msg.body,
                            "media": [{"content_type": m.content_type, "url": m.url}
                                      for m in msg.media]},
            })
            r.lpop(keys.to_bot(vid))
            log.info("bot.delivered", conversation=vid, message=msg.id)


def notify_supervisors(vid: str) -> None:
    """S6: an escalation is announced in the supervisors' channel."""
    ctx, started = current(), time.time()
    channel = ctx.workspace.supervisors_channel
    conv = _conversation(ctx, vid)
    if channel and conv.extra.get("priority") == "escalated":
        contact = _contact(ctx, conv.contact)
        who = contact.get("name") or contact.get("phone") or conv.contact
        link = f" in <#{conv.slack_channel}>" if conv.slack_channel else ""
        ctx.slack.chat_postMessage(channel=channel, text=(
            f":rotating_light: Escalation ({conv.extra.get('escalation', 'general')}): "
            f"conversation {vid} with {escape(who)}{link}, assigned to "
            f"{_agent_name(ctx, conv.assignee) or 'nobody'}."))
    ctx.store.settle(f"escalation:{vid}", started)


def _dm(ctx: Context, agent_id: str, text: str) -> None:
    agent = ctx.workspace.agent(agent_id)
    if agent is not None:
        dm = ctx.slack.conversations_open(users=agent.slack_user)["channel"]["id"]
        ctx.slack.chat_postMessage(channel=dm, text=text)


def alert_away(mid: str) -> None:
    """A16: the assignee is away or offline and their customer wrote."""
    ctx, started = current(), time.time()
    msg = _message(ctx, mid)
    conv = _conversation(ctx, msg.conv)
    if conv.status == "assigned":
        contact = _contact(ctx, conv.contact)
        who = contact.get("name") or contact.get("phone") or "A customer"
        where = f" in <#{conv.slack_channel}>" if conv.slack_channel else ""
        excerpt = msg.body[:140] or "(media)"
        _dm(ctx, conv.assignee, f":speech_balloon: {escape(who)} wrote while you are "
                                f"away{where}: {escape(excerpt)}")
    ctx.store.settle(f"away:{mid}", started)


def remind_waiting(ctx: Context, now: float | None = None) -> list[str]:
    """A7: remind assignees of customers who have waited longer than their campaign's
    ``reminder_minutes`` without an answer; once per wait."""
    now = time.time() if now is None else now
    r, keys = ctx.store.redis, ctx.store.keys
    shortest = min((c.options.reminder_minutes for c in ctx.workspace.campaigns), default=10)
    reminded = []
    for raw, since in r.zrangebyscore(keys.awaiting, "-inf", now - shortest * 60,
                                      withscores=True, start=0, num=500):
        vid = raw.decode()
        conv = _conversation(ctx, vid)
        campaign = ctx.workspace.campaign(conv.campaign)
        if (conv.status != "assigned" or campaign is None
                or now - since < campaign.options.reminder_minutes * 60
                or conv.extra.get("reminded_at")):
            continue
        r.hset(keys.conv(vid), "reminded_at", now)
        minutes = int((now - since) // 60)
        where = f" in <#{conv.slack_channel}>" if conv.slack_channel else ""
        _dm(ctx, conv.assignee, f":alarm_clock: A customer has waited {minutes} min for an "
                                f"answer in conversation {vid}{where}.")
        reminded.append(vid)
    return reminded
