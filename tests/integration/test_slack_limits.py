"""Slack's limits (issue 8 item 8, issue 11 item 4), against the Slack fake in limited mode.

Long messages are split over blocks, a backlog is coalesced into one reply, a permanent Slack
error parks the entry and tells supervisors instead of blocking the outbox, posts are paced by
token buckets in Redis, and a throttled job is rescheduled, never slept on: a Twilio send of
another conversation goes out while a Slack channel is throttled. No test asserts a timing.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml
from slack_sdk.errors import SlackApiError

from gateway.sandbox.fake_slack import MAX_SECTION_TEXT, SlackLimits
from routing.config import parse_config
from tests.conftest import EXAMPLE_CONFIG
from tests.integration.conftest import System
from tests.integration.test_sweeper_alone import NoEnqueue
from tests.signing import sms_form, thread_reply_event, whatsapp_form
from workers.context import SlackPacing, current
from workers.dispatch import Dispatcher
from workers.sweeper import sweep_once

WA, SMS, SUPERVISORS = "C0SUPPORTWA", "C0SUPPORTSMS", "C0SUPERVISORS"


async def write(system: System, n: int, text: str, phone: str = "+525512345678") -> None:
    resp = await system.post_twilio("/twilio/messages",
                                    whatsapp_form(f"SM{n:032d}", text, phone=phone))
    assert resp.status == 200


async def run_until_done(system: System, timeout: float = 30.0) -> int:
    """Run jobs, and rescheduled jobs when due (what RQ's scheduler does in a worker), until
    nothing is queued or scheduled; returns how many times scheduled jobs were released."""
    registry = system.queue.scheduled_job_registry
    released = 0
    deadline = time.monotonic() + timeout
    while True:
        await system.drain()
        if not registry.get_job_ids():
            return released
        assert time.monotonic() < deadline, "scheduled jobs never finished"
        for job_id in registry.get_jobs_to_schedule(int(time.time()) + 1):
            registry.remove(job_id)
            system.queue.enqueue_job(system.queue.fetch_job(job_id))
            released += 1
        await asyncio.sleep(0.05)


def card(system: System, channel: str, nth: int = 0) -> dict:
    cards = [m for (ch, _), m in system.slack.messages.items()
             if ch == channel and not m.get("thread_ts")]
    return cards[nth]


def shown(system: System, channel: str, nth: int = 0) -> list[str]:
    """Every block text of a thread's replies, in order (one per customer message or part)."""
    out = []
    for reply in system.slack.thread(channel, card(system, channel, nth)["ts"]):
        out += [b["text"]["text"] for b in reply.get("blocks") or []] or [reply["text"]]
    return out


async def post(**kwargs: object) -> str:
    """A chat.postMessage with the workers' client: 'ok', or Slack's error (status, error)."""
    try:
        await asyncio.to_thread(current().slack.chat_postMessage, **kwargs)
        return "ok"
    except SlackApiError as exc:
        retry = exc.response.headers.get("Retry-After")
        return f"{exc.response['error']}" + (f" (429, Retry-After {retry})" if retry else "")


# -- the fake enforces Slack's documented limits --------------------------------------------

async def test_the_fake_refuses_what_slack_refuses(system: System) -> None:
    errors = []
    for kwargs in ({"channel": WA, "text": "x" * 40_001},
                   {"channel": WA, "text": "x", "blocks": [
                       {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
                   {"channel": WA, "text": "x", "blocks": [
                       {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51},
                   {"channel": "#general", "text": "x"}):
        errors.append(await post(**kwargs))
    assert errors == ["msg_too_long", "invalid_blocks", "invalid_blocks", "channel_not_found"]
    system.slack.only_channels(WA)
    system.slack.archived.add(WA)
    assert await post(channel=WA, text="x") == "is_archived"
    assert await post(channel="C0OTHER", text="x") == "channel_not_found"
    assert await post(channel="DU0ANA", text="a DM") == "ok"


async def test_the_fake_limits_posts_per_channel_with_retry_after(system: System) -> None:
    system.slack.limits = SlackLimits(channel_rate=1.0, channel_burst=2)
    assert [await post(channel=WA, text=str(n)) for n in range(3)] == [
        "ok", "ok", "ratelimited (429, Retry-After 1)"]
    assert await post(channel=SMS, text="another channel") == "ok"
    assert system.slack.throttled == 1
    system.slack.limits = SlackLimits(channel_burst=100, workspace_per_minute=5)
    assert [await post(channel=f"C{n}", text="x") for n in range(3)][-1].startswith(
        "ratelimited")  # 3 more than the 2 posts before make the workspace's 5 per minute


# -- issue 8 item 8: long messages, permanent errors ----------------------------------------

async def test_a_message_longer_than_a_block_is_split_and_the_next_follows(
        system: System) -> None:
    long = " ".join(f"palabra{i}" for i in range(900))  # ~8,800 characters
    await write(system, 1, long)
    await write(system, 2, "y otra cosa")
    await run_until_done(system)
    blocks = shown(system, WA)
    assert all(len(b) <= MAX_SECTION_TEXT for b in blocks) and len(blocks) >= 4
    assert "".join(blocks[:-1]) == long and blocks[-1] == "y otra cosa"
    assert system.store.outbox_head("v1", "slack") is None


async def test_a_permanent_slack_error_parks_the_entry_and_tells_supervisors(
        system: System) -> None:
    await write(system, 1, "hola")
    await run_until_done(system)
    system.slack.fail_next("chat.postMessage", "invalid_blocks", status=200)
    await write(system, 2, "refused by Slack")
    await run_until_done(system)
    await write(system, 3, "after it")
    await run_until_done(system)
    assert shown(system, WA) == ["hola", "after it"]  # the outbox went on
    msg = system.store.message_hash("m2")
    assert msg["slack_error"] == "invalid_blocks"
    failed = [e for _, e in system.store.events("v1") if e["type"] == "slack_failed"]
    assert [(e["error"], e["entries"]) for e in failed] == [("invalid_blocks", "m2")]
    [post] = [p for p in system.slack.calls_to("chat.postMessage") if p["channel"] == SUPERVISORS]
    assert "Conversation v1" in post["text"] and "a message could not be shown" in post["text"]
    assert "Slack refused its layout" in post["text"]
    assert system.store.redis.zrange(system.store.keys.pending, 0, -1) == []


async def test_a_missing_channel_parks_the_conversation_instead_of_blocking(
        system: System) -> None:
    system.slack.only_channels(SMS, SUPERVISORS)  # the WhatsApp campaign's channel is gone
    await write(system, 1, "hola")
    await write(system, 2, "¿hay alguien?")
    await run_until_done(system)
    assert system.store.redis.llen(system.store.keys.to_slack("v1")) == 0
    [post] = [p for p in system.slack.calls_to("chat.postMessage") if p["channel"] == SUPERVISORS]
    assert "card" in post["text"] and "does not exist" in post["text"]
    assert system.store.message_hash("m1")["slack_error"] == "channel_not_found"
    # Another campaign's conversations are not affected.
    resp = await system.post_twilio("/twilio/messages", sms_form("SM" + "9" * 32, "sms",
                                                                 phone="+525599999999"))
    assert resp.status == 200
    await run_until_done(system)
    assert shown(system, SMS) == ["sms"]


# -- issue 11 item 4: pacing, coalescing, no sleeping worker --------------------------------

async def test_a_backlog_is_coalesced_into_one_reply_in_order(system: System) -> None:
    for n in range(1, 13):
        await write(system, n, f"mensaje {n}")
    await run_until_done(system)
    replies = system.slack.thread(WA, card(system, WA)["ts"])
    assert len(replies) == 1  # one post for twelve messages (after the card)
    assert shown(system, WA) == [f"mensaje {n}" for n in range(1, 13)]


async def test_a_message_written_while_its_relay_posts_goes_out_with_that_job(
        system: System) -> None:
    """The relay has no job of its own for it (the conversation's relay is already marked):
    the running job goes round again rather than leave it to the sweeper."""
    await write(system, 1, "primero")
    await run_until_done(system)  # the card and the first message
    posts = len(system.slack.calls_to("chat.postMessage"))
    await write(system, 2, "segundo")
    system.slack.delay = 0.3  # Slack answers slowly: the third message arrives meanwhile
    relaying = asyncio.create_task(system.drain())
    await system.slack.wait_for(lambda f: len(f.calls_to("chat.postMessage")) > posts)
    await write(system, 3, "tercero")
    await system.services.idle()
    assert system.queue.count == 0  # no job for it
    await relaying
    assert shown(system, WA) == ["primero", "segundo", "tercero"]
    assert len(system.slack.calls_to("chat.postMessage")) == posts + 2
    assert system.store.redis.zcard(system.store.keys.pending) == 0


async def test_paced_posts_stay_within_slack_limits_and_lose_nothing(system: System) -> None:
    """Six conversations write in turns into one channel limited to 1 post/s (burst 2); the
    workers pace themselves with the same limits: Slack never answers 429, every message is
    shown once, in order per conversation."""
    system.slack.limits = SlackLimits(channel_rate=1.0, channel_burst=2)
    current().slack_pacing = SlackPacing(channel_rate=1.0, channel_burst=2)
    phones = [f"+5255000000{i:02d}" for i in range(6)]
    for rnd in range(3):
        for i, phone in enumerate(phones):
            await write(system, rnd * 10 + i + 1, f"c{i} #{rnd}", phone=phone)
        await system.drain()
    released = await run_until_done(system, timeout=60)
    assert released > 0  # throttled jobs were rescheduled ...
    assert system.slack.throttled == 0  # ... before Slack had to say no
    for nth in range(6):
        texts = shown(system, WA, nth)
        mine = [t for t in texts if t.startswith("c")]
        prefix = mine[0].split()[0]
        assert mine == [f"{prefix} #{r}" for r in range(3)], texts
    total = sum(len(shown(system, WA, n)) for n in range(6))
    assert total == 18


async def test_a_throttled_channel_delays_nothing_else(system: System) -> None:
    """Slack (limited mode) says 429 (its own limit: our pacing is loose here): the relay is
    rescheduled by Retry-After, and the worker goes straight on to a Twilio send of another
    conversation."""
    await write(system, 1, "hola")
    await run_until_done(system)
    resp = await system.post_twilio("/twilio/messages", sms_form("SM" + "9" * 32, "sms"))
    assert resp.status == 200
    await run_until_done(system)
    sms_card = card(system, SMS)
    system.slack.limits = SlackLimits(channel_rate=0.5, channel_burst=1)
    system.slack._buckets[WA] = (0.0, time.monotonic())  # WA's channel just used its burst
    await write(system, 2, "stuck behind a throttled channel")
    resp = await system.post_slack(thread_reply_event("Ev1", SMS, sms_card["ts"], "U0ANA",
                                                      "reply by SMS"))
    assert resp.status == 200
    await system.drain()  # returns: nothing sleeps on Slack
    assert [m["body"] for m in system.twilio.messages] == ["reply by SMS"]
    assert system.store.outbox_head("v1", "slack") == "m3"  # waiting, not lost
    assert system.queue.scheduled_job_registry.get_job_ids()  # rescheduled
    assert system.slack.throttled >= 1
    await run_until_done(system)
    assert shown(system, WA)[-1] == "stuck behind a throttled channel"


async def test_a_departments_conversations_go_to_its_channel(system: System) -> None:


    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["campaigns"][0]["departments"][1]["slack_channel"] = "C0BILLING"
    workspace = parse_config(raw)
    current().workspace = workspace
    assert workspace.campaign("support-wa").channel_for("billing") == "C0BILLING"
    assert workspace.campaign("support-wa").channel_for("general") == WA
    contact = system.store.set_owner(["+525512345678"], "department", "support-wa/billing",
                                     "admin")
    assert contact.outcome
    await write(system, 1, "factura")
    await run_until_done(system)
    assert system.store.conversation_hash("v1")["department"] == "billing"
    assert shown(system, "C0BILLING") == ["factura"]


async def test_the_report_of_a_parked_entry_is_marked_for_the_sweeper(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every enqueue switched off (as in test_sweeper_alone), the sweeper alone gets the
    refused message parked and the supervisors told: the report is a work mark too."""
    monkeypatch.setattr(system.services, "dispatch", lambda *members: None)
    monkeypatch.setattr(current(), "dispatcher", NoEnqueue())
    sweeper = Dispatcher(system.queue.connection, system.settings.rq_queue)
    system.slack.archived.add(WA)
    await write(system, 1, "hola")
    for _ in range(10):
        await system.services.idle()
        sweep_once(system.store, sweeper, grace=0)
        await system.drain()
        if not system.store.redis.zcard(system.store.keys.pending):
            break
    [post] = [p for p in system.slack.calls_to("chat.postMessage") if p["channel"] == SUPERVISORS]
    assert "the channel is archived" in post["text"]


async def test_a_429_on_a_card_update_is_rescheduled_not_slept_on(system: System) -> None:
    await write(system, 1, "hola")
    await run_until_done(system)
    # 429 + Retry-After: 1, more times than RQ's failure retries (1, 2, 5, 15, 60 s) allow
    system.slack.fail_next("chat.update", times=6)
    escalated = system.store.escalate("v1", "ana", "urgent", "")
    current().dispatcher.enqueue(*escalated.jobs)
    await system.drain()
    assert len(system.slack.calls_to("chat.update")) == 1
    assert system.queue.scheduled_job_registry.get_job_ids()  # back in a second
    await run_until_done(system, timeout=20)
    assert len(system.slack.calls_to("chat.update")) == 7
    assert "urgent" in json.dumps(card(system, WA)["blocks"])


async def test_a_coalesced_post_found_again_after_a_crash_records_what_it_showed(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker dies after Slack took a coalesced reply and before recording it; a message
    arrives meanwhile. The retry finds the post (its metadata names the entries it showed),
    records those, and posts only the new message: nothing doubled, nothing skipped."""
    await write(system, 1, "hola")
    await run_until_done(system)
    store = current().store
    real = store.relayed
    crashes = []

    def crash_once(vid: str, entries: list[str], channel: str, ts: str,
                   outgoing: tuple[str, ...] = (), posted_as: str = "") -> object:
        if not crashes:
            crashes.append(entries)
            raise ConnectionError("worker killed")
        return real(vid, entries, channel, ts, outgoing, posted_as)

    monkeypatch.setattr(store, "relayed", crash_once)
    await write(system, 2, "dos")
    await write(system, 3, "tres")
    await system.drain()  # posts "dos" + "tres" together, then "dies"
    assert crashes == [["m2", "m3"]]
    await write(system, 4, "cuatro")
    for job_id in system.queue.scheduled_job_registry.get_job_ids():  # RQ's retry, now
        system.queue.scheduled_job_registry.remove(job_id)
        system.queue.enqueue_job(system.queue.fetch_job(job_id))
    await run_until_done(system)
    assert shown(system, WA) == ["hola", "dos", "tres", "cuatro"]
    assert system.store.redis.llen(system.store.keys.to_slack("v1")) == 0
