"""The RQ jobs. Each is idempotent and safe to run twice; each drains or renders current state.

Every job does the work of one mark (``kind:id``, see routing.types.Work) and settles it when
done (``settles``). Outboxes are per conversation and drained under a per-conversation lock, so
messages leave in the order they were written even with several workers. A transient failure
raises, leaving the work where it was; RQ retries the job with backoff, and the sweeper
re-enqueues a mark whose job was lost.

Slack posts are paced (routing.pacing: a token bucket per channel and one for the workspace,
shared by every worker). When the bucket or Slack itself (429) says wait, the job raises
``Throttled`` before posting and is enqueued again for later: a worker never sleeps on Slack,
so a throttled channel delays nothing else. A permanent Slack error parks the entry as failed
and tells supervisors (``report_problem``); the outbox goes on.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock
from slack_sdk.errors import SlackApiError

from channels.bot import webhook
from channels.media import media_url
from channels.slack import render
from channels.twilio.send import PermanentSendError, reason, send_message
from routing import pacing
from routing.store import NOTICE
from routing.types import Conversation, Message, Work
from workers import metrics
from workers.context import Context, current
from workers.pace import pace_reply

log = structlog.get_logger("workers")


LOCK_POLL = 0.005  # seconds between tries for a held lock


class Busy(Exception):
    """Another worker holds the conversation's lock for too long; retry later."""


class Throttled(Exception):
    """Slack's posting rate (our pacing, or Slack's 429) says: not before ``wait`` seconds.
    Raised before anything was posted; the job is enqueued again for then."""

    def __init__(self, wait: float, channel: str = "") -> None:
        super().__init__(f"throttled for {wait:.2f}s ({channel})")
        self.wait, self.channel = wait, channel


#: Slack errors that no retry will fix: the entry is parked as failed, not retried forever.
PERMANENT_SLACK = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
                   "channel_not_found", "not_in_channel", "is_archived", "invalid_arguments",
                   "too_many_attachments", "restricted_action", "cannot_reply_to_message",
                   "message_not_found", "thread_not_found", "msg_blocks_too_long"}


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", ""))


def _post(ctx: Context, channel: str, **message: object) -> dict:
    """chat.postMessage within Slack's posting rates: a token from the channel's bucket and
    the workspace's (shared by all workers), else ``Throttled``; Slack's own 429 too."""
    p, store = ctx.slack_pacing, ctx.store
    # Many conversations share a channel: waiting jobs get successive slots (queue), so they
    # come back one by one rather than all at once to be told to wait again.
    wait = pacing.take_all(store.redis, [
        (store.keys.pace(f"slack:{channel}"), p.channel_rate, p.channel_burst, True),
        (store.keys.pace("slack:workspace"), p.workspace_per_minute / 60,
         max(1, p.workspace_per_minute // 10), False)])
    if wait:
        raise Throttled(float(wait), channel)
    try:
        return ctx.slack.chat_postMessage(channel=channel, **message)
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            retry_after = exc.response.headers.get("Retry-After", "1")
            raise Throttled(float(retry_after), channel) from exc
        raise


class Leases(threading.Thread):
    """Renews the locks this process's jobs hold, every third of their lease, from one thread
    (a renewing thread per job cost a start and a join per job, each waiting for the GIL).
    The thread is woken only when a new lock needs renewing before it would wake anyway: not
    once per job."""

    IDLE = 1.0  # seconds the thread sleeps when nothing is due sooner

    def __init__(self) -> None:
        super().__init__(name="leases", daemon=True)
        self._held: dict[int, tuple[Lock, float, float]] = {}  # id -> lock, lease, next renewal
        self._mutex = threading.Lock()
        self._changed = threading.Event()
        self._wakes_at = 0.0  # when the thread is due to look again (monotonic)

    def hold(self, lock: Lock, lease: float) -> None:
        renewal = time.monotonic() + lease / 3
        with self._mutex:
            self._held[id(lock)] = (lock, lease, renewal)
            sooner = renewal < self._wakes_at
        if sooner:
            self._changed.set()

    def drop(self, lock: Lock) -> None:
        with self._mutex:
            self._held.pop(id(lock), None)

    def run(self) -> None:
        while True:
            with self._mutex:
                now = time.monotonic()
                due = [(key, held) for key, held in self._held.items() if held[2] <= now]
                self._wakes_at = min([held[2] for held in self._held.values()]
                                     + [now + self.IDLE])
            for key, (lock, lease, _) in due:
                with contextlib.suppress(Exception):  # a Redis blip, or released meanwhile
                    lock.reacquire()
                with self._mutex:
                    if key in self._held:
                        self._held[key] = (lock, lease, time.monotonic() + lease / 3)
            if not due:
                self._changed.wait(max(0.0, self._wakes_at - time.monotonic()))
                self._changed.clear()


_leases: Leases | None = None
_leases_started = threading.Lock()


def leases() -> Leases:
    global _leases
    with _leases_started:
        if _leases is None:
            _leases = Leases()
            _leases.start()
    return _leases


class Held:
    """A job's lock while its work runs (``locked``); ``settle`` ends both at once."""

    def __init__(self, ctx: Context, lock: Lock) -> None:
        self.ctx, self.lock, self.released = ctx, lock, False

    def settle(self, member: str, started: float) -> bool:
        """Settle the work's mark and give up the lock, in one round trip."""
        leases().drop(self.lock)
        settled = self.ctx.store.settle(member, started,
                                        lock=(self.lock.name, self.lock.local.token))
        self.released = True
        return bool(settled)


@contextmanager
def locked(ctx: Context, name: str, lease: float = 10.0) -> Iterator[Held]:
    """A short lease, renewed while the body runs: a worker killed (-9) while holding it
    blocks the conversation for at most ``lease`` seconds, not a minute. A held lock is tried
    again every ``LOCK_POLL`` s (redis-py's default, 0.1 s, kept a worker thread idle that
    long behind a job of a few milliseconds). Freed on the way out unless ``Held.settle``
    already gave it up."""
    lock = ctx.store.redis.lock(ctx.store.keys.lock(name), timeout=lease, blocking_timeout=10,
                                sleep=LOCK_POLL, thread_local=False)  # renewed by another thread
    if not lock.acquire():
        raise Busy(name)
    renewer = leases()
    renewer.hold(lock, lease)
    held = Held(ctx, lock)
    try:
        yield held
    finally:
        if not held.released:
            renewer.drop(lock)
            # Settle may have freed it already and then failed (its answer lost, a timeout
            # landing right after): that error is the one to report, not the lock's.
            with contextlib.suppress(LockNotOwnedError):
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
            member = f"{kind}:{ident}"
            while True:
                started = time.time()
                try:
                    with locked(ctx, f"{lock or kind}:{ident}") as held:
                        work(ctx, ident)
                        if held.settle(member, started) or once:
                            return
                        continue  # marked again meanwhile: round again
                except (Throttled, SlackApiError) as exc:
                    if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
                        # Another method's limit (chat.update, reactions): same as a post's.
                        exc = Throttled(float(exc.response.headers.get("Retry-After", "1")))
                    if isinstance(exc, Throttled):
                        # Not slept on: the job comes back when Slack takes calls again. The
                        # mark stays (touched, so the sweeper waits its grace from now).
                        ctx.store.redis.zadd(ctx.store.keys.pending, {member: time.time()},
                                             xx=True)
                        ctx.dispatcher.later(exc.wait, member)
                        log.info("slack.throttled", work=member, channel=exc.channel,
                                 wait=round(exc.wait, 3))
                        return
                    if _slack_error(exc) not in PERMANENT_SLACK:
                        raise
                    # Nothing will change Slack's mind: settle rather than retry forever.
                    log.warning("slack.refused", work=member, error=_slack_error(exc))
                if ctx.store.settle(member, started) or once:
                    return

        return job

    return wrap


def _post_once(ctx: Context, ident: str, channel: str, thread_ts: str | None,
               entries: list[str] | None = None, **shown: object) -> dict:
    """``chat.postMessage`` (paced, see ``_post``) that a crash between posting and recording
    cannot double: the attempt is marked first, the post carries ``ident`` (and the outbox
    ``entries`` it shows) in its metadata, and an attempt that finds an earlier mark looks for
    that post in Slack before posting again. The answer's ``entries`` are those the post shows
    (a post found again may show fewer than this attempt would have coalesced); its ``ident``
    goes with the post's record (``posted_as``), which drops the attempt's mark."""
    earlier = ctx.store.begin_post(ident)
    if earlier is not None:
        found = _find_post(ctx, ident, channel, thread_ts, earlier - 2)  # clock skew with Slack
        if found:
            ts, payload = found
            log.info("slack.post_found", ident=ident, ts=ts)
            shown_entries = str(payload.get("entries") or "")
            return {"channel": channel, "ts": ts, "ident": ident,
                    "entries": shown_entries.split(",") if shown_entries else entries}
    payload = {"id": ident, **({"entries": ",".join(entries)} if entries else {})}
    try:
        posted = _post(ctx, channel, thread_ts=thread_ts, **shown,
                       metadata={"event_type": "relaydesk_post", "event_payload": payload})
    except Throttled:
        if earlier is None:  # nothing was posted: the next attempt need not look for it
            ctx.store.abandon_post(ident)
        raise
    return {"channel": posted["channel"], "ts": posted["ts"], "ident": ident, "entries": entries}


def _find_post(ctx: Context, ident: str, channel: str, thread_ts: str | None,
               since: float, pages: int = 10) -> tuple[str, dict] | None:
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
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("id") == ident:
                return str(message["ts"]), payload
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
    """Where a new conversation's thread goes: its department's channel, or its campaign's."""
    campaign = ctx.workspace.campaign(conv.campaign)
    if campaign is None:
        raise LookupError(f"conversation {conv.id}: campaign {conv.campaign!r} is not configured")
    return campaign.channel_for(conv.department)


def _post_card(ctx: Context, conv: Conversation) -> None:
    """A conversation's first card; what its new thread needs to know first (history, the
    transfer) is posted next, as its own paced post."""
    started = time.time()
    posted = _post_once(ctx, f"card:{conv.id}", _slack_channel(ctx, conv), None,
                        **_card(ctx, conv))
    conv.slack_channel, conv.slack_ts = posted["channel"], posted["ts"]
    ctx.store.card_posted(conv.id, conv.slack_channel, conv.slack_ts, context=True,
                          posted_as=posted["ident"])
    conv.extra["slack_context"] = "due"
    ctx.store.settle(f"{Work.CARD}:{conv.id}", started)  # posted with the current state
    log.info("slack.card_posted", conversation=conv.id, ts=conv.slack_ts)


def _post_context(ctx: Context, conv: Conversation) -> None:
    if context := _thread_context(ctx, conv):
        try:
            _post(ctx, conv.slack_channel, thread_ts=conv.slack_ts,
                  text=context[:render.MAX_TEXT])
        except SlackApiError as exc:
            if _slack_error(exc) not in PERMANENT_SLACK:
                raise
            # Earlier history is a courtesy; the conversation's own messages follow.
            log.warning("slack.context_refused", conversation=conv.id, error=_slack_error(exc))
    ctx.store.thread_context_posted(conv.id)
    conv.extra.pop("slack_context", None)


#: Entries read ahead from the outbox to coalesce a backlog of customer messages.
BATCH = 20


def _batch(ctx: Context, vid: str, read: list[str] | None = None
           ) -> tuple[list[tuple[str, Message | None]], bool]:
    """The next entries to post as one reply: the head, and while it is a customer message,
    the customer messages right after it that fit in one Slack message with it. And whether
    they are all the outbox held when read (then the relay need not read it again: an entry
    queued meanwhile keeps the work's mark, see ``settles``). ``read``: the outbox's first
    ``BATCH`` entries, if just read."""
    out: list[tuple[str, Message | None]] = []
    blocks = chars = 0
    entries = read if read is not None else ctx.store.outbox_entries(vid, Work.SLACK, BATCH)
    mids = [entry for entry in entries if not entry.startswith(NOTICE)]
    found = dict(zip(mids, ctx.store.hashes([ctx.store.keys.msg(m) for m in mids]),
                     strict=True)) if mids else {}  # one round trip for the whole read-ahead
    for entry in entries:
        msg = None if entry.startswith(NOTICE) else Message.from_hash(found[entry])
        if msg is None or msg.direction != "in" or msg.choice:
            return (out, False) if out else ([(entry, msg)], len(entries) == 1)
        more_blocks, more_chars = render.blocks_needed(msg.body, msg.media)
        if out and (blocks + more_blocks > render.MAX_BLOCKS
                    or chars + more_chars + 1 > render.MAX_TEXT):
            return out, False
        blocks, chars = blocks + more_blocks, chars + more_chars + 1
        out.append((entry, msg))
    return out, len(entries) < BATCH


def _post_batch(ctx: Context, conv: Conversation, batch: list[tuple[str, Message | None]]
                ) -> dict:
    """Post one reply: a notice of what someone did, a bot message, or customer messages."""
    entry, msg = batch[0]
    if msg is None:
        [(_, event)] = ctx.store.event(conv.id, entry[len(NOTICE):]) or [("", {})]
        channel, _, ts = event.get("thread", "").partition("|")
        return _post_once(
            ctx, f"entry:{conv.id}:{entry}", channel or conv.slack_channel, ts or conv.slack_ts,
            text=render.notice(event, ctx.workspace.name_of,
                               lambda c: _campaign_label(ctx, c))[:render.MAX_TEXT])
    if msg.direction == "in" and not msg.choice:
        shown = render.customer_replies([(m.body, m.media) for _, m in batch if m])
    else:
        shown = (render.customer_choice(msg.choice.kind, msg.choice.title, msg.choice.id)
                 if msg.direction == "in" and msg.choice
                 else render.active_message(ctx.workspace.name_of(msg.author), msg.template,
                                            msg.body) if msg.template
                 else render.auto_reply(msg.body) if msg.author == "auto"
                 else render.bot_reply(msg.body))
    return _post_once(ctx, f"entry:{conv.id}:{entry}", conv.slack_channel, conv.slack_ts,
                      entries=[e for e, _ in batch], **shown)


def _park(ctx: Context, conv: Conversation, entries: list[str], error: str,
          channel: str) -> None:
    parked = ctx.store.slack_failed(conv.id, entries, error, channel)
    ctx.dispatcher.enqueue(*parked.jobs)
    log.warning("slack.parked", conversation=conv.id, entries=len(entries), error=error)


@settles(Work.SLACK)
def relay_to_slack(ctx: Context, vid: str) -> None:
    """Post the conversation's card if it has none, then its queued messages and notices, a
    backlog of customer messages coalesced into one reply. What Slack refuses for good is
    parked (see ``_park``) and the next entry goes on. Only this job takes from the head of the
    outbox (under the conversation's lock), so what it read first stays the head meanwhile."""
    raw, read = ctx.store.conversation_and_outbox(vid, Work.SLACK, BATCH)
    conv = Conversation.from_hash(raw)
    if not conv.slack_ts:
        try:
            _post_card(ctx, conv)
        except SlackApiError as exc:
            if _slack_error(exc) not in PERMANENT_SLACK:
                raise
            # No thread can exist: what waits is parked; a later message tries again.
            _park(ctx, conv, ctx.store.outbox_entries(vid, Work.SLACK, 1000),
                  _slack_error(exc), _slack_channel(ctx, conv))
            return
    if conv.extra.get("slack_context"):
        _post_context(ctx, conv)
    drained = False
    while not drained:
        batch, drained = _batch(ctx, vid, read)
        read = None
        if not batch:
            return
        entries = [entry for entry, _ in batch]
        try:
            posted = _post_batch(ctx, conv, batch)
        except SlackApiError as exc:
            if _slack_error(exc) not in PERMANENT_SLACK:
                raise
            _park(ctx, conv, entries, _slack_error(exc), conv.slack_channel)
            continue
        shown = posted.get("entries") or entries[:1]
        drained = drained and len(shown) == len(entries)
        entries = shown
        outgoing = tuple(e for e, m in batch if m and m.direction == "out" and e in entries)
        ctx.dispatcher.enqueue(*ctx.store.relayed(vid, entries, posted["channel"],
                                                  posted["ts"], outgoing, posted["ident"]))
        log.info("slack.relayed", conversation=vid, entries=len(entries))


@settles(Work.PROBLEM, once=True)
def report_problem(ctx: Context, ident: str) -> None:
    """Slack refused something of a conversation for good: tell the supervisors' channel, or
    the assignee by DM when there is none."""
    vid, _, eid = ident.partition("/")
    [(_, event)] = ctx.store.event(vid, eid) or [("", {})]
    if not event:
        return
    conv = _conversation(ctx, vid)
    count = len(event.get("entries", "").split(","))
    what = "the conversation's card" if not conv.slack_ts else (
        "a message" if count == 1 else f"{count} messages")
    text = render.slack_problem(event.get("error", ""), vid, what, event.get("channel", ""),
                                ctx.workspace.name_of(conv.assignee))
    channel = ctx.workspace.supervisors_channel
    if channel:
        _post(ctx, channel, text=text)
    elif conv.assignee:
        _dm(ctx, conv.assignee, text)


@settles(Work.TWILIO)
def send_to_twilio(ctx: Context, vid: str) -> None:
    """Send the conversation's queued messages to the customer, in order."""
    raw, first = ctx.store.conversation_and_outbox(vid, Work.TWILIO, 1)
    conv = Conversation.from_hash(raw)
    head = first[0] if first else None
    while head:  # a message queued after the last send keeps the mark: settle sends us round
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
        head = recorded.next


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
    if label == "failed" and not ctx.store.failure_notified(mid):
        agent = ctx.workspace.agent(msg.author)
        _post(  # may be throttled: the notice is claimed only once it is posted
            ctx, msg.slack_channel, thread_ts=_conversation(ctx, msg.conv).slack_ts,
            text=render.failure_notice(agent.slack_user if agent else msg.author,
                                       msg.failure_reason or reason(msg.error_code)))
        ctx.store.claim_failure_notice(mid)


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
        _post(ctx, dm, text=text)


@settles(Work.ALERT, once=True)
def alert_agent(ctx: Context, vid: str) -> None:
    """Tell the assignee in a direct message that a conversation is now theirs."""
    conv = _conversation(ctx, vid)
    agent = ctx.workspace.agent(conv.assignee) if conv.status == "assigned" else None
    if agent is not None:
        campaign = ctx.workspace.campaign(conv.campaign)
        channel = conv.slack_channel or (campaign.channel_for(conv.department) if campaign
                                         else "")
        where = f"Answer in its thread in <#{channel}>." if channel else ""
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
        _post(ctx, channel, text=render.escalation_post(
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
