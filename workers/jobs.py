"""The RQ jobs. Each is idempotent and safe to run twice; each drains or renders current state.

Every job does the work of one mark (``kind:id``, see routing.types.Work) and settles it when
done (``settles``). Outboxes are per conversation and drained under a per-conversation lock, so
messages leave in the order they were written even with several workers. A transient failure
raises, leaving the work where it was; RQ retries the job with backoff, and the sweeper
re-enqueues a mark whose job was lost.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from slack_sdk.errors import SlackApiError

from channels.bot import webhook
from channels.media import media_url
from channels.slack import render
from channels.twilio.send import PermanentSendError, reason, send_message
from routing.store import NOTICE
from routing.types import Conversation, Message, Work
from workers import metrics
from workers.context import Context, current
from workers.pace import pace_reply

log = structlog.get_logger("workers")


class Busy(Exception):
    """Another worker holds the conversation's lock for too long; retry later."""


@contextmanager
def locked(ctx: Context, name: str, lease: float = 10.0) -> Iterator[None]:
    """A short lease, renewed while the body runs: a worker killed (-9) while holding it
    blocks the conversation for at most ``lease`` seconds, not a minute."""
    lock = ctx.store.redis.lock(ctx.store.keys.lock(name), timeout=lease, blocking_timeout=10)
    if not lock.acquire():
        raise Busy(name)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            with contextlib.suppress(Exception):  # a Redis blip: the next renewal may pass
                lock.reacquire()

    renewer = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        lock.release()


def settles(kind: Work, lock: str | None = None, once: bool = False
            ) -> Callable[[Callable[[Context, str], None]], Callable[[str], None]]:
    """Run a job under ``lock:<lock or kind>:<id>`` and settle its mark. Work marked again
    while the job ran (a new message in the outbox, a newer card change) keeps the mark, and no
    other job was enqueued for it, so the job goes round again instead of leaving it to the
    sweeper. A notification (``once``) is sent once per run: a newer mark is left to its own
    job or the sweeper."""

    def wrap(work: Callable[[Context, str], None]) -> Callable[[str], None]:
        @functools.wraps(work)
        def job(ident: str) -> None:
            ctx = current()
            while True:
                started = time.time()
                with locked(ctx, f"{lock or kind}:{ident}"):
                    work(ctx, ident)
                if ctx.store.settle(f"{kind}:{ident}", started) or once:
                    return

        return job

    return wrap


def _post_once(ctx: Context, ident: str, channel: str, thread_ts: str | None,
               **shown: object) -> dict:
    """``chat.postMessage`` that a crash between posting and recording cannot double: the
    attempt is marked first, the post carries ``ident`` in its metadata, and an attempt that
    finds an earlier mark looks for that post in Slack before posting again."""
    earlier = ctx.store.begin_post(ident)
    if earlier is not None:
        since = earlier - 2  # clock skew with Slack
        found = _find_post(ctx, ident, channel, thread_ts, since)
        if found:
            log.info("slack.post_found", ident=ident, ts=found)
            return {"channel": channel, "ts": found}
    return ctx.slack.chat_postMessage(
        channel=channel, thread_ts=thread_ts, **shown,
        metadata={"event_type": "relaydesk_post", "event_payload": {"id": ident}})


def _find_post(ctx: Context, ident: str, channel: str, thread_ts: str | None,
               since: float, pages: int = 10) -> str | None:
    """The ts of the post carrying ``ident`` made since ``since``, if Slack has it. A busy
    thread has many posts in that window: follow the cursor (a few pages at most)."""
    args = {"channel": channel, "oldest": f"{since:.6f}", "include_all_metadata": True,
            "limit": 200}
    cursor = None
    for _ in range(pages):
        try:
            found = (ctx.slack.conversations_replies(ts=thread_ts, cursor=cursor, **args)
                     if thread_ts else ctx.slack.conversations_history(cursor=cursor, **args))
        except SlackApiError as exc:  # cannot look: post again rather than block the outbox
            log.warning("slack.post_lookup_failed", ident=ident,
                        error=exc.response.get("error"))
            return None
        for message in found.get("messages") or []:
            if ((message.get("metadata") or {}).get("event_payload") or {}).get("id") == ident:
                return str(message["ts"])
        cursor = (found.get("response_metadata") or {}).get("next_cursor")
        if not found.get("has_more") or not cursor:
            return None
    return None


def _conversation(ctx: Context, vid: str) -> Conversation:
    return Conversation.from_hash(ctx.store.conversation_hash(vid))


def _message(ctx: Context, mid: str) -> Message:
    return Message.from_hash(ctx.store.message_hash(mid))


def _contact_label(contact: dict[str, str], fallback: str) -> str:
    return contact.get("name") or contact.get("phone") or fallback


def _owner(ctx: Context, contact: dict[str, str]) -> str:
    return render.owner_label(contact.get("owner_type", ""), contact.get("owner_id", ""),
                              ctx.workspace.name_of)


def _campaign_label(ctx: Context, campaign_id: str) -> str:
    campaign = ctx.workspace.campaign(campaign_id)
    return campaign.label if campaign else campaign_id


def _card(ctx: Context, conv: Conversation) -> dict:
    contact = ctx.store.contact_hash(conv.contact)
    return render.card(
        conv, contact.get("name", ""), contact.get("phone", ""),
        _campaign_label(ctx, conv.campaign), ctx.workspace.name_of(conv.assignee),
        ctx.workspace.name_of(conv.extra.get("waiting_for", "")), _owner(ctx, contact),
    )


def _messages(ctx: Context, vid: str, since: float = 0.0) -> list[tuple[str, str]]:
    """(who, text) of a conversation's messages, oldest first."""
    out = []
    for _, event in ctx.store.events(vid):
        if event.get("type") == "message" and float(event.get("at", "0")) >= since:
            msg = _message(ctx, event["message"])
            who = ("customer" if msg.direction == "in" else
                   "bot" if msg.author == "bot" else ctx.workspace.name_of(msg.author))
            out.append((who, msg.body))
    return out


def _thread_context(ctx: Context, conv: Conversation) -> str | None:
    """What a new thread needs before its messages: the transfer context (O6), or the
    contact's earlier history within the campaign's window (A2)."""
    previous = conv.extra.get("previous_campaign")
    if previous:
        return render.transfer_context(_campaign_label(ctx, previous),
                                       _owner(ctx, ctx.store.contact_hash(conv.contact)),
                                       _messages(ctx, conv.id)[-10:])
    campaign = ctx.workspace.campaign(conv.campaign)
    hours = campaign.options.history_hours if campaign else 0
    if not hours:
        return None
    since = (conv.opened_at or time.time()) - hours * 3600
    earlier = []
    for other in ctx.store.contact_conversations(conv.contact):
        if other != conv.id:
            earlier += _messages(ctx, other, since)
    return render.earlier_history(hours, earlier[-20:]) if earlier else None


def _slack_channel(ctx: Context, conv: Conversation) -> str:
    campaign = ctx.workspace.campaign(conv.campaign)
    if campaign is None:
        raise LookupError(f"conversation {conv.id}: campaign {conv.campaign!r} is not configured")
    return campaign.slack_channel


def _post_card(ctx: Context, conv: Conversation) -> None:
    """A conversation's first card, with what its new thread needs to know first."""
    started = time.time()
    posted = _post_once(ctx, f"card:{conv.id}", _slack_channel(ctx, conv), None,
                        **_card(ctx, conv))
    conv.slack_channel, conv.slack_ts = posted["channel"], posted["ts"]
    ctx.store.card_posted(conv.id, conv.slack_channel, conv.slack_ts)
    ctx.store.settle(f"{Work.CARD}:{conv.id}", started)  # posted with the current state
    log.info("slack.card_posted", conversation=conv.id, ts=conv.slack_ts)
    if context := _thread_context(ctx, conv):
        ctx.slack.chat_postMessage(channel=conv.slack_channel, thread_ts=conv.slack_ts,
                                   text=context)


def _post_entry(ctx: Context, conv: Conversation, entry: str) -> dict:
    """Post one entry of the Slack outbox: a message, or a notice of what someone did."""
    if entry.startswith(NOTICE):
        [(_, event)] = ctx.store.event(conv.id, entry[len(NOTICE):]) or [("", {})]
        channel, _, ts = event.get("thread", "").partition("|")
        return _post_once(
            ctx, f"entry:{conv.id}:{entry}", channel or conv.slack_channel, ts or conv.slack_ts,
            text=render.notice(event, ctx.workspace.name_of,
                               lambda c: _campaign_label(ctx, c)))
    msg = _message(ctx, entry)
    shown = (render.customer_choice(msg.choice.kind, msg.choice.title, msg.choice.id)
             if msg.direction == "in" and msg.choice
             else render.customer_reply(msg.body, msg.media) if msg.direction == "in"
             else render.active_message(ctx.workspace.name_of(msg.author), msg.template,
                                        msg.body) if msg.template
             else render.auto_reply(msg.body) if msg.author == "auto"
             else render.bot_reply(msg.body))
    return _post_once(ctx, f"entry:{conv.id}:{entry}", conv.slack_channel, conv.slack_ts,
                      **shown)


@settles(Work.SLACK)
def relay_to_slack(ctx: Context, vid: str) -> None:
    """Post the conversation's card if it has none, then its queued messages and notices."""
    conv = _conversation(ctx, vid)
    if not conv.slack_ts:
        _post_card(ctx, conv)
    while (entry := ctx.store.outbox_head(vid, Work.SLACK)) is not None:
        posted = _post_entry(ctx, conv, entry)
        ctx.store.relayed(vid, entry, posted["channel"], posted["ts"])
        log.info("slack.relayed", conversation=vid, entry=entry)


@settles(Work.TWILIO)
def send_to_twilio(ctx: Context, vid: str) -> None:
    """Send the conversation's queued messages to the customer, in order."""
    conv = _conversation(ctx, vid)
    while (head := ctx.store.outbox_head(vid, Work.TWILIO)) is not None:
        msg = _message(ctx, head)
        pace_reply(ctx, conv.campaign_addr, conv.campaign)
        try:
            sid, status = send_message(
                ctx.twilio, from_=conv.campaign_addr, to=conv.customer_addr, body=msg.body,
                media_urls=[media_url(ctx.public_url, ctx.media_secret, msg.id, i)
                            if m.private else m.url for i, m in enumerate(msg.media)],
                status_callback=ctx.status_callback_url, content_sid=msg.content_sid,
                content_variables=msg.content_variables,
            )
            metrics.sent("twilio", "sent")
            recorded = ctx.store.sent(msg.id, vid, sid, status)
            log.info("twilio.sent", conversation=vid, message=msg.id, sid=sid)
        except PermanentSendError as exc:
            metrics.sent("twilio", "failed")
            recorded = ctx.store.sent(msg.id, vid, "", "failed", exc.code, exc.reason)
            log.warning("twilio.failed", conversation=vid, message=msg.id, code=exc.code)
        except Exception:  # transient: RQ retries the job
            metrics.sent("twilio", "retried")
            raise
        ctx.dispatcher.enqueue(*recorded.jobs)


def _react(ctx: Context, method: str, msg: Message, name: str, ok_errors: set[str]) -> None:
    try:
        getattr(ctx.slack, method)(channel=msg.slack_channel, timestamp=msg.slack_ts, name=name)
    except SlackApiError as exc:
        if exc.response.get("error") not in ok_errors:
            raise


@settles(Work.STATUS)
def show_status(ctx: Context, mid: str) -> None:
    """Show an agent message's delivery status on it in Slack (a reaction), and explain a
    failure in the thread."""
    msg = _message(ctx, mid)
    if msg.direction != "out" or not msg.slack_ts:
        return
    label = render.status_label(msg.status)
    if label != msg.shown_status:
        _react(ctx, "reactions_add", msg, render.STATUS_EMOJI[label], {"already_reacted"})
        if msg.shown_status:
            _react(ctx, "reactions_remove", msg, render.STATUS_EMOJI[msg.shown_status],
                   {"no_reaction"})
        ctx.store.shown_status(mid, label)
    if label == "failed" and ctx.store.claim_failure_notice(mid):
        agent = ctx.workspace.agent(msg.author)
        ctx.slack.chat_postMessage(
            channel=msg.slack_channel, thread_ts=_conversation(ctx, msg.conv).slack_ts,
            text=render.failure_notice(agent.slack_user if agent else msg.author,
                                       msg.failure_reason or reason(msg.error_code)))


@settles(Work.CARD, lock=Work.SLACK)
def update_card(ctx: Context, vid: str) -> None:
    """Re-render a conversation's card after its state changed."""
    conv = _conversation(ctx, vid)
    if conv.slack_ts:  # no card yet: relay_to_slack posts it with the current state
        ctx.slack.chat_update(channel=conv.slack_channel, ts=conv.slack_ts, **_card(ctx, conv))


def _dm(ctx: Context, agent_id: str, text: str) -> None:
    agent = ctx.workspace.agent(agent_id)
    if agent is not None:
        dm = ctx.slack.conversations_open(users=agent.slack_user)["channel"]["id"]
        ctx.slack.chat_postMessage(channel=dm, text=text)


@settles(Work.ALERT, once=True)
def alert_agent(ctx: Context, vid: str) -> None:
    """Tell the assignee in a direct message that a conversation is now theirs."""
    conv = _conversation(ctx, vid)
    agent = ctx.workspace.agent(conv.assignee) if conv.status == "assigned" else None
    if agent is not None:
        campaign = ctx.workspace.campaign(conv.campaign)
        where = f"Answer in its thread in <#{campaign.slack_channel}>." if campaign else ""
        _dm(ctx, agent.id, render.assignment_alert(
            _contact_label(ctx.store.contact_hash(conv.contact), "a customer"),
            _campaign_label(ctx, conv.campaign), where))


@settles(Work.AWAY, once=True)
def alert_away(ctx: Context, mid: str) -> None:
    """A16: the assignee is away or offline and their customer wrote."""
    msg = _message(ctx, mid)
    conv = _conversation(ctx, msg.conv)
    if conv.status == "assigned":
        who = _contact_label(ctx.store.contact_hash(conv.contact), "A customer")
        _dm(ctx, conv.assignee, render.away_alert(who, conv.slack_channel,
                                                  msg.body[:140] or "(media)"))


@settles(Work.REMIND, once=True)
def remind_agent(ctx: Context, vid: str) -> None:
    """A7: the assignee's customer has waited past the campaign's reminder time."""
    conv = _conversation(ctx, vid)
    since = float(conv.extra.get("reminded_at") or time.time())
    waiting = ctx.store.waiting_since(vid)
    if conv.status == "assigned" and waiting is not None:
        _dm(ctx, conv.assignee, render.reminder(int((since - waiting) // 60), vid,
                                                conv.slack_channel))


@settles(Work.BOT)
def deliver_to_bot(ctx: Context, vid: str) -> None:
    """Deliver the customer's messages to the campaign's bot while the bot holds the
    conversation; once it has handed off, whatever is left is dropped."""
    conv = _conversation(ctx, vid)
    campaign = ctx.workspace.campaign(conv.campaign)
    if conv.status != "bot" or campaign is None or campaign.bot is None:
        ctx.store.drop_bot_outbox(vid)
        return
    secret = ctx.bot_secret(campaign)
    contact = ctx.store.contact_hash(conv.contact)
    while (head := ctx.store.outbox_head(vid, Work.BOT)) is not None:
        msg = _message(ctx, head)
        webhook.deliver(ctx.http, campaign.bot.url, secret, msg.id, {
            "type": "message.created",
            "conversation": {"id": vid, "campaign": conv.campaign, "channel": conv.channel,
                             "status": conv.status},
            "contact": {"id": conv.contact, "name": contact.get("name", ""),
                        "phone": contact.get("phone", "")},
            "message": {"id": msg.id, "text": msg.body,
                        "media": [{"content_type": m.content_type, "url": m.url}
                                  for m in msg.media],
                        **({"choice": msg.choice.to_json()} if msg.choice else {})},
        })
        ctx.store.delivered_to_bot(vid)
        log.info("bot.delivered", conversation=vid, message=msg.id)


@settles(Work.ESCALATION, once=True)
def notify_supervisors(ctx: Context, vid: str) -> None:
    """S6: an escalation is announced in the supervisors' channel."""
    channel = ctx.workspace.supervisors_channel
    conv = _conversation(ctx, vid)
    if channel and conv.extra.get("priority") == "escalated":
        who = _contact_label(ctx.store.contact_hash(conv.contact), conv.contact)
        ctx.slack.chat_postMessage(channel=channel, text=render.escalation_post(
            conv.extra.get("escalation", "general"), vid, who, conv.slack_channel,
            ctx.workspace.name_of(conv.assignee)))


def remind_waiting(ctx: Context, now: float | None = None) -> list[str]:
    """A7: mark reminders for customers who have waited longer than their campaign's
    ``reminder_minutes`` without an answer (once per wait); their jobs send the DMs."""
    now = time.time() if now is None else now
    shortest = min((c.options.reminder_minutes for c in ctx.workspace.campaigns), default=10)
    reminded = []
    for vid, since in ctx.store.awaiting(now - shortest * 60):
        conv = _conversation(ctx, vid)
        campaign = ctx.workspace.campaign(conv.campaign)
        if campaign is None or now - since < campaign.options.reminder_minutes * 60:
            continue
        marked = ctx.store.remind(vid, due=now)
        if marked.jobs:
            ctx.dispatcher.enqueue(*marked.jobs)
            reminded.append(vid)
    return reminded
