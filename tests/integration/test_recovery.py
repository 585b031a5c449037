"""Nothing lost: work stored but never enqueued is found by the sweeper; signatures hold
behind a TLS proxy; cards follow the conversation's state."""

from __future__ import annotations

import asyncio
import contextlib

from tests.integration.conftest import System
from tests.signing import whatsapp_form
from workers.context import current
from workers.jobs import update_card
from workers.sweeper import sweep_once


async def test_sweeper_enqueues_work_whose_job_was_lost(system: System) -> None:
    """As if the gateway died right after the Lua script and before the RQ enqueue."""
    from channels.twilio.inbound import parse_message

    msg = parse_message(whatsapp_form("SM" + "a" * 32, "¿alguien?"))
    stored = system.store.inbound(msg, "support-wa", "general")
    assert system.queue.count == 0
    assert sweep_once(system.store, current().dispatcher, grace=30) == []  # too fresh
    requeued = sweep_once(system.store, current().dispatcher, grace=0)
    vid = stored.conversation
    assert sorted(requeued) == [f"alert:{vid}", f"slack:{vid}"]  # the relay posts the card
    await system.drain()
    texts = [m["text"] for m in system.slack.messages.values() if m.get("thread_ts")]
    assert texts == ["¿alguien?"]
    [dm] = [m for (ch, _), m in system.slack.messages.items() if ch == "DU0ANA"]
    assert "New conversation for you" in dm["text"] and "Lucía" in dm["text"]
    assert system.store.redis.zcard(system.store.keys.pending) == 0  # settled: nothing to redo


async def test_signature_checked_against_public_url_behind_tls_proxy(system: System) -> None:
    local_url = system.settings.public_url
    system.settings.public_url = "https://desk.example.test"  # what Twilio calls
    form = whatsapp_form("SM" + "b" * 32, "hola")
    from tests.integration.conftest import TWILIO_TOKEN
    from tests.signing import twilio_signature

    signed_for_local = twilio_signature(TWILIO_TOKEN, local_url + "/twilio/messages", form)
    assert (await system.post_twilio("/twilio/messages", form, signature=signed_for_local)
            ).status == 403
    assert (await system.post_twilio("/twilio/messages", form)).status == 200


async def test_card_is_updated_when_the_conversation_changes(system: System) -> None:
    assert (await system.post_twilio("/twilio/messages",
                                     whatsapp_form("SM" + "c" * 32, "hola"))).status == 200
    await system.drain()
    [(key, card)] = [(k, m) for k, m in system.slack.messages.items()
                     if k[0] == "C0SUPPORTWA" and not m.get("thread_ts")]
    vid = system.store.redis.hget(system.store.keys.threads, f"{key[0]}|{key[1]}")
    system.store.redis.hset(system.store.keys.conv(vid), mapping={"status": "queued",
                                                                  "assignee": ""})
    await asyncio.to_thread(update_card, vid)
    updated = system.slack.messages[key]
    assert "waiting in queue" in updated["text"] and "Ana Ruiz" not in updated["text"]
    assert card["ts"] == updated["ts"]


class Crash(Exception):
    """The worker dies right after Slack accepted a post, before it recorded the post."""


async def test_a_crash_between_posting_and_recording_does_not_double_a_post(
        system: System) -> None:
    from workers.jobs import relay_to_slack

    assert (await system.post_twilio("/twilio/messages",
                                     whatsapp_form("SM" + "c" * 32, "only once"))).status == 200
    await system.services.idle()
    vid = next(job.args[0] for job in system.queue.jobs
               if job.func_name.endswith("relay_to_slack"))
    slack = current().slack
    real, calls = slack.chat_postMessage, []

    def post_then_crash(**kwargs: object) -> object:
        calls.append(kwargs)
        answer = real(**kwargs)
        if len(calls) <= 2:  # the card, then the message: each accepted, never recorded
            raise Crash
        return answer

    def busy_thread() -> None:  # 250 posts just before the message: the lookup must page
        [card] = [m for m in system.slack.messages.values() if not m["thread_ts"]]
        for i in range(250):
            real(channel=card["channel"], thread_ts=card["ts"], text=f"filler {i}")

    slack.chat_postMessage = post_then_crash
    try:
        with contextlib.suppress(Crash):
            await asyncio.to_thread(relay_to_slack, vid)  # the card: posted, not recorded
        await asyncio.to_thread(busy_thread)
        with contextlib.suppress(Crash):
            await asyncio.to_thread(relay_to_slack, vid)  # the message: posted, not recorded
        await asyncio.to_thread(relay_to_slack, vid)  # the retry finds both posts
    finally:
        slack.chat_postMessage = real
    posts = system.slack.calls_to("chat.postMessage")
    assert len([p for p in posts if not p.get("thread_ts")]) == 1, "card posted twice"
    assert [p["text"] for p in posts if p.get("thread_ts")
            and not p["text"].startswith("filler")] == ["only once"]
    assert _posting_marks(system) == []  # recorded: the attempt marks are gone


def _posting_marks(system: System) -> list[str]:
    return list(system.store.redis.scan_iter(system.store.keys.lock("posting:*")))


async def test_a_recorded_post_leaves_no_attempt_mark_behind(system: System) -> None:
    """The mark that guards a post against doubling is dropped with the post's record, so
    busy campaigns do not leave a key per post in Redis for a day."""
    for i, text in enumerate(["hola", "sigo aquí"]):
        form = whatsapp_form(f"SM{i:032x}", text)
        assert (await system.post_twilio("/twilio/messages", form)).status == 200
        await system.drain()
    texts = [p["text"] for p in system.slack.calls_to("chat.postMessage")]
    assert "hola" in texts and "sigo aquí" in texts
    assert _posting_marks(system) == []
