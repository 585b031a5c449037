"""The foundation path with real parts: signed Twilio webhook -> Redis -> RQ job -> Slack
thread; signed Slack reply -> RQ job -> Twilio; status callbacks -> the mark in Slack."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conftest import System
from tests.signing import sms_form, thread_reply_event, whatsapp_form

WA_CHANNEL, SMS_CHANNEL = "C0SUPPORTWA", "C0SUPPORTSMS"


async def customer_writes(system: System, form: dict[str, str]) -> str:
    resp = await system.post_twilio("/twilio/messages", form)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml"
    await system.drain()
    return form["MessageSid"]


def parent(system: System, channel: str) -> dict:
    parents = [m for (ch, _), m in system.slack.messages.items()
               if ch == channel and not m.get("thread_ts")]
    assert len(parents) == 1, parents
    return parents[0]


async def test_whatsapp_message_opens_a_thread_with_card_and_reply(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "a" * 32, "Hola, mi pedido no llegó"))
    card = parent(system, WA_CHANNEL)
    assert "Lucía" in card["text"] and "WhatsApp" in card["text"] and "Ana Ruiz" in card["text"]
    fields = " ".join(f["text"] for f in card["blocks"][1]["fields"])
    assert "Support (WhatsApp)" in fields and "assigned" in fields
    replies = system.slack.thread(WA_CHANNEL, card["ts"])
    assert [r["text"] for r in replies] == ["Hola, mi pedido no llegó"]


async def test_customer_text_is_escaped_before_slack(system: System) -> None:
    await customer_writes(system, whatsapp_form(
        "SM" + "b" * 32, "<!channel> @here mira <https://evil.example|tu banco> & más"))
    reply = system.slack.thread(WA_CHANNEL, parent(system, WA_CHANNEL)["ts"])[0]["text"]
    assert "<!channel>" not in reply and "<https://" not in reply
    assert "&lt;!channel&gt;" in reply and "&amp; más" in reply
    assert "@here" not in reply and "@\u2060here" in reply


async def test_inbound_media_is_shown_in_the_thread(system: System) -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    await customer_writes(system, whatsapp_form("MM" + "c" * 32, "", media=[("image/jpeg", url)]))
    reply = system.slack.thread(WA_CHANNEL, parent(system, WA_CHANNEL)["ts"])[0]["text"]
    assert url in reply and "image/jpeg" in reply


async def test_second_message_joins_the_same_thread(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "1" * 32, "uno"))
    await customer_writes(system, whatsapp_form("SM" + "2" * 32, "dos"))
    card = parent(system, WA_CHANNEL)
    assert [r["text"] for r in system.slack.thread(WA_CHANNEL, card["ts"])] == ["uno", "dos"]


async def test_duplicate_twilio_delivery_posts_once(system: System) -> None:
    form = whatsapp_form("SM" + "d" * 32, "hola")
    await customer_writes(system, form)
    await customer_writes(system, form)
    posts = [p for p in system.slack.calls_to("chat.postMessage") if p["channel"] == WA_CHANNEL]
    assert len(posts) == 2  # the card and one reply


async def test_bad_signature_is_403_and_stores_nothing(system: System) -> None:
    form = whatsapp_form("SM" + "e" * 32, "hola")
    before = system.snapshot()
    for signature in ("", "bm90IGEgc2lnbmF0dXJl"):
        resp = await system.post_twilio("/twilio/messages", form, signature=signature)
        assert resp.status == 403
        assert "X-Twilio-Signature" in await system.error_of(resp)
    assert system.snapshot() == before
    assert system.queue.count == 0


@pytest.mark.parametrize(("change", "reason"), [
    ({"MessageSid": ""}, "missing MessageSid"),
    ({"MessageSid": "XX123"}, "not a Twilio message SID"),
    ({"From": "whatsapp:12"}, "From:"),
    ({"From": "messenger:+525512345678"}, "unsupported channel"),
    ({"Body": "", "NumMedia": "0"}, "needs a Body or media"),
    ({"NumMedia": "x"}, "NumMedia is not a number"),
    ({"NumMedia": "1"}, "missing MediaUrl0"),
])
async def test_malformed_webhook_is_400_with_reason(system: System, change: dict,
                                                    reason: str) -> None:
    form = whatsapp_form("SM" + "f" * 32, "hola") | change
    before = system.snapshot()
    resp = await system.post_twilio("/twilio/messages", form)
    assert resp.status == 400
    assert reason in await system.error_of(resp)
    assert system.snapshot() == before


async def test_json_body_is_400(system: System) -> None:
    async with system.http.post(system.base + "/twilio/messages", json={"Body": "hola"}) as resp:
        assert resp.status == 400
        assert "application/x-www-form-urlencoded" in (await resp.json())["error"]


async def test_unknown_campaign_number_is_404(system: System) -> None:
    form = whatsapp_form("SM" + "9" * 32, "hola", to="whatsapp:+14155550000")
    resp = await system.post_twilio("/twilio/messages", form)
    assert resp.status == 404


async def agent_replies(system: System, channel: str, user: str, text: str,
                        event_id: str = "Ev1") -> dict:
    card = parent(system, channel)
    resp = await system.post_slack(thread_reply_event(event_id, channel, card["ts"], user, text))
    assert resp.status == 200
    await system.drain()
    return card


@pytest.mark.parametrize(("form", "channel", "to", "statuses"), [
    (whatsapp_form("SM" + "a" * 32, "hola"), WA_CHANNEL, "whatsapp:+525512345678",
     ["sent", "delivered", "read"]),
    (sms_form("SM" + "a" * 32, "hola"), SMS_CHANNEL, "+525512345678", ["sent", "delivered"]),
])
async def test_assignee_reply_reaches_customer_and_shows_status(
        system: System, form: dict, channel: str, to: str, statuses: list[str]) -> None:
    await customer_writes(system, form)
    await agent_replies(system, channel, "U0ANA", "Hola, soy Ana. ¿Número de pedido?")
    [sent] = system.twilio.messages
    assert sent["to"] == to and sent["from"] == form["To"]
    assert sent["body"] == "Hola, soy Ana. ¿Número de pedido?"
    assert sent["status_callback"] == system.settings.public_url + "/twilio/status"
    ts = system.slack.calls_to("reactions.add")[0]["timestamp"]  # the agent's own message
    assert system.slack.reactions(channel, ts) == ["hourglass_flowing_sand"]
    expected = {"sent": "heavy_check_mark", "delivered": "ballot_box_with_check", "read": "eyes"}
    for status in statuses:
        assert await system.twilio.send_status(sent["sid"], status) == 204
        await system.drain()
        assert system.slack.reactions(channel, ts) == [expected[status]]


async def test_status_callbacks_out_of_order_never_go_back(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "a" * 32, "hola"))
    await agent_replies(system, WA_CHANNEL, "U0ANA", "hola")
    sid = system.twilio.messages[0]["sid"]
    for status in ("read", "delivered", "sent", "read"):
        await system.twilio.send_status(sid, status)
        await system.drain()
    ts = system.slack.calls_to("reactions.add")[0]["timestamp"]
    assert system.slack.reactions(WA_CHANNEL, ts) == ["eyes"]


async def test_permanent_failure_is_explained_to_the_agent(system: System) -> None:
    await customer_writes(system, sms_form("SM" + "a" * 32, "hola"))
    system.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    card = await agent_replies(system, SMS_CHANNEL, "U0ANA", "hola")
    assert system.twilio.messages == []
    notes = [m["text"] for m in system.slack.thread(SMS_CHANNEL, card["ts"])]
    assert any("opted out" in n and "<@U0ANA>" in n for n in notes), notes
    ts = system.slack.calls_to("reactions.add")[-1]["timestamp"]
    assert system.slack.reactions(SMS_CHANNEL, ts) == ["x"]


async def test_reply_from_non_assignee_is_refused_with_ephemeral(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "a" * 32, "hola"))
    await agent_replies(system, WA_CHANNEL, "U0BRUNO", "yo lo atiendo")
    assert system.twilio.messages == []
    [ephemeral] = system.slack.ephemerals
    assert ephemeral["user"] == "U0BRUNO" and "<@U0ANA>" in ephemeral["text"]


async def test_slack_retry_of_the_same_event_sends_once(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "a" * 32, "hola"))
    card = parent(system, WA_CHANNEL)
    event = thread_reply_event("EvSame", WA_CHANNEL, card["ts"], "U0ANA", "una vez")
    for retry in (0, 1, 2):
        assert (await system.post_slack(event, retry=retry)).status == 200
    await system.drain()
    assert len(system.twilio.messages) == 1


async def test_slack_bad_signature_is_refused(system: System) -> None:
    await customer_writes(system, whatsapp_form("SM" + "a" * 32, "hola"))
    card = parent(system, WA_CHANNEL)
    event = thread_reply_event("EvBad", WA_CHANNEL, card["ts"], "U0ANA", "hola")
    assert (await system.post_slack(event, secret="wrong")).status == 403
    await system.drain()
    assert system.twilio.messages == []


async def test_a_reply_written_while_its_send_waits_on_twilio_goes_out_with_that_job(
        system: System) -> None:
    """The second reply has no job of its own (the outbox's mark is held by the running
    job): the job sends it after the first, in order, rather than leave it to the sweeper."""
    await customer_writes(system, sms_form("SM" + "a" * 32, "hola"))
    card = parent(system, SMS_CHANNEL)
    system.twilio.latency = 0.3  # Twilio answers slowly: the second reply arrives meanwhile
    await system.post_slack(thread_reply_event("Ev1", SMS_CHANNEL, card["ts"], "U0ANA", "uno"))
    await system.services.idle()
    sending = asyncio.create_task(system.drain())
    for _ in range(200):
        if system.twilio.requests:
            break
        await asyncio.sleep(0.01)
    await system.post_slack(thread_reply_event("Ev2", SMS_CHANNEL, card["ts"], "U0ANA", "dos"))
    await system.services.idle()
    assert "workers.jobs.send_to_twilio" not in [j.func_name for j in system.queue.jobs]
    await sending
    assert [m["body"] for m in system.twilio.messages] == ["uno", "dos"]
    assert system.store.redis.llen(system.store.keys.to_twilio(
        system.store.thread_conversation(SMS_CHANNEL, card["ts"]))) == 0


async def test_transient_twilio_error_is_retried_with_backoff_and_order_kept(
        system: System) -> None:
    await customer_writes(system, sms_form("SM" + "a" * 32, "hola"))
    card = parent(system, SMS_CHANNEL)
    system.twilio.fail_next(429, 20429, "Too Many Requests")
    await system.post_slack(thread_reply_event("Ev1", SMS_CHANNEL, card["ts"], "U0ANA", "primero"))
    await system.drain()
    assert system.twilio.messages == []
    scheduled = system.queue.scheduled_job_registry
    assert scheduled.count == 1  # RQ will retry after its backoff interval
    # The next reply waits behind the first (order), and for the backoff Twilio asked for: the
    # outbox's mark is held by the scheduled retry, so no second job hammers Twilio now.
    await system.post_slack(thread_reply_event("Ev2", SMS_CHANNEL, card["ts"], "U0ANA", "segundo"))
    await system.drain()
    assert system.twilio.messages == []
    for job_id in scheduled.get_job_ids():  # the retry, run now: both leave, in order, once
        system.queue.enqueue_job(system.queue.fetch_job(job_id))
    await system.drain()
    assert [m["body"] for m in system.twilio.messages] == ["primero", "segundo"]
    assert len(system.twilio.requests) == 3
