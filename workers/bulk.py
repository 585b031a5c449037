"""Bulk active messages: the chunk jobs that send them, paced, and the requester's progress
message.

A chunk (``bulk:b3.0``) is sent by one job with ``CONCURRENCY`` sends in flight, so that a slow
provider does not limit a worker to one HTTP call at a time; several workers take different
chunks. Every send takes a token from its sender's bucket in Redis (``routing.pacing``), shared
by every worker, and yields to agents' replies waiting on the same number. Each recipient is
claimed (state ``sending``, its message stored) before the send and recorded after it, so a
killed worker's chunk resumes where it was and nobody gets a template twice.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import structlog

from channels.slack import render
from channels.twilio.send import PermanentSendError, TransientSendError, send_message
from routing.types import Work
from workers.context import Context, current
from workers.jobs import settles
from workers.pace import take_token

log = structlog.get_logger("bulk")

CONCURRENCY = 32  # sends in flight per chunk job
BACKOFF_SECONDS = 2.0  # after a 429/5xx, this sender's bulk chunks wait (their jobs retry)
LOCK_SECONDS = 10.0  # a chunk's lock, extended while its run is alive (a dead run's expires)


def send_chunk(ident: str) -> None:
    """The job of a ``bulk:<b>.<n>`` mark: send the chunk's recipients still queued. One run
    per chunk at a time: a duplicate (the sweeper re-enqueued a mark whose job is waiting or
    running) returns at once instead of waiting for the lock, and the running one keeps its
    mark fresh so the sweeper leaves it alone. The mark is settled only once the chunk ran to
    the end; a run that dies leaves it for the sweeper."""
    ctx = current()
    member = f"{Work.BULK}:{ident}"
    lock = ctx.store.redis.lock(ctx.store.keys.lock(member), timeout=LOCK_SECONDS,
                                thread_local=False)  # the heartbeat thread extends it
    if not lock.acquire(blocking=False):
        return
    started = time.time()
    alive = threading.Event()

    def heartbeat() -> None:
        while not alive.wait(LOCK_SECONDS / 3):
            lock.extend(LOCK_SECONDS, replace_ttl=True)
            ctx.store.redis.zadd(ctx.store.keys.pending, {member: time.time()}, xx=True)

    beat = threading.Thread(target=heartbeat, name="bulk-heartbeat", daemon=True)
    beat.start()
    try:
        _send_chunk(ctx, ident)
    finally:
        alive.set()
        beat.join()
        lock.release()
    ctx.store.redis.zadd(ctx.store.keys.pending, {member: started}, xx=True)
    ctx.store.settle(member, started)


def _send_chunk(ctx: Context, ident: str) -> None:
    bid, _, n = ident.rpartition(".")
    meta = ctx.store.bulk_meta(bid)
    if not meta:
        return
    campaign = ctx.workspace.campaign(meta["campaign"])
    rate = campaign.rate if campaign else 1.0
    sender = meta["campaign_addr"]
    chunk, total = int(meta["chunk"]), int(meta["total"])
    first = int(n) * chunk + 1
    indices = range(first, min(first + chunk, total + 1))
    stop = threading.Event()  # a transient error: stop claiming, retry the chunk later
    failure: list[Exception] = []
    backoff = ctx.store.keys.pace(sender) + ":backoff"
    if ctx.store.redis.exists(backoff):  # another chunk of this sender just got a 429
        raise TransientSendError(f"{sender} is backing off after a 429")

    def one(item: tuple[int, str]) -> None:
        # The token first, then the claim: a recipient is 'sending' only while its HTTP call
        # is in flight, which is all a killed worker can leave uncertain.
        idx, state = item
        if stop.is_set():
            return
        if state == "queued":
            take_token(ctx, sender, rate, stop=stop)
            if stop.is_set():  # a 429 elsewhere in the chunk: it stays queued for the retry
                return
        claim = ctx.store.bulk_claim(bid, idx)
        if claim.outcome != "send":
            ctx.dispatcher.enqueue(*claim.jobs)
            return
        try:
            sid, status = send_message(
                ctx.twilio, from_=claim.from_, to=claim.to, body=claim.body, media_urls=[],
                status_callback=ctx.status_callback_url, content_sid=claim.content_sid,
                content_variables=claim.content_variables)
            recorded = ctx.store.bulk_sent(bid, idx, sid, status)
        except PermanentSendError as exc:
            recorded = ctx.store.bulk_sent(bid, idx, "", "failed", exc.code, exc.reason)
        except TransientSendError as exc:
            ctx.store.bulk_sent(bid, idx, "", "retry")
            ctx.store.redis.set(backoff, 1, px=int(BACKOFF_SECONDS * 1000))
            failure.append(exc)
            stop.set()
            return
        ctx.dispatcher.enqueue(*recorded.jobs)

    # Only recipients still queued need a token (a resumed chunk skips what was done).
    states = ctx.store.redis.hmget(ctx.store.keys.bulk_state(bid), list(indices)) if indices \
        else []
    todo = [(i, state) for i, state in zip(indices, states, strict=True)
            if state in ("queued", "sending")]  # 'sending': a dead run's, settled by its claim
    with ThreadPoolExecutor(min(CONCURRENCY, len(todo) or 1),
                            thread_name_prefix="bulk") as pool:
        list(pool.map(one, todo))
    if failure:  # 429/5xx: the job is retried with backoff, the worker is free meanwhile
        log.warning("bulk.backoff", bulk=bid, chunk=n, error=str(failure[0]))
        raise failure[0]
    log.info("bulk.chunk_sent", bulk=bid, chunk=n)


@settles(Work.PROGRESS, once=True)
def show_progress(ctx: Context, bid: str) -> None:
    """The requester's DM: posted once, then updated in place (chat.update)."""
    from routing.actions.bulk import summarize

    meta = ctx.store.bulk_meta(bid)
    if not meta or not meta.get("requester_slack"):
        return
    states, why, mids, _ = ctx.store.bulk_rows(bid, with_inputs=False)
    report = summarize(meta, states, why, mids, ctx.store.message_statuses(list(mids.values())),
                       None)
    text = render.bulk_progress(report)
    if meta.get("progress_ts"):
        ctx.slack.chat_update(channel=meta["progress_channel"], ts=meta["progress_ts"],
                              text=text)
        return
    dm = ctx.slack.conversations_open(users=meta["requester_slack"])["channel"]["id"]
    posted = ctx.slack.chat_postMessage(channel=dm, text=text)
    ctx.store.redis.hset(ctx.store.keys.bulk(bid), mapping={
        "progress_channel": posted["channel"], "progress_ts": posted["ts"]})
