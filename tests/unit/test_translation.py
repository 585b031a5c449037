"""The adapters' pure translations: webhooks in, Slack text out, logs without secrets."""

from __future__ import annotations

import json

import pytest
import structlog

from channels.slack.escape import escape
from channels.slack.events import to_agent_reply
from channels.slack.render import card, refusal
from channels.twilio.inbound import BadWebhook, parse_message, parse_status
from gateway.logs import configure, mask_phone
from routing.types import Conversation
from tests.signing import sms_form, thread_reply_event, whatsapp_form


@pytest.mark.parametrize(("raw", "safe"), [
    ("<!channel> hi", "&lt;!channel&gt; hi"),
    ("<@U0ANA>", "&lt;@U0ANA&gt;"),
    ("<https://evil.example|bank>", "&lt;https://evil.example|bank&gt;"),
    ("@here and @Everyone", "@\u2060here and @\u2060Everyone"),
    ("a & b", "a &amp; b"),
    ("ana@here.com", "ana@\u2060here.com"),
    ("plain *bold* text", "plain *bold* text"),
])
def test_escape_neutralizes_mentions_and_links(raw: str, safe: str) -> None:
    assert escape(raw) == safe


def test_whatsapp_webhook_is_normalized() -> None:
    msg = parse_message(whatsapp_form("SM" + "a" * 32, "hola", phone="+525512345678",
                                      media=[("image/png", "https://media.example/1")]))
    assert (msg.channel, msg.phone, msg.customer_addr) == (
        "whatsapp", "+525512345678", "whatsapp:+525512345678")
    assert msg.campaign_addr == "whatsapp:+14155238886" and msg.profile_name == "Lucía"
    assert [(m.content_type, m.url) for m in msg.media] == [("image/png", "https://media.example/1")]


def test_sms_webhook_is_normalized() -> None:
    msg = parse_message(sms_form("SM" + "b" * 32, "hi"))
    assert (msg.channel, msg.customer_addr, msg.campaign_addr) == (
        "sms", "+525512345678", "+15005550006")


def test_channel_mismatch_is_rejected() -> None:
    with pytest.raises(BadWebhook, match="different channels"):
        parse_message(whatsapp_form("SM" + "a" * 32, "x") | {"To": "+15005550006"})


def test_status_callback_parsing() -> None:
    assert parse_status({"MessageSid": "SM1", "MessageStatus": "Delivered"}) == (
        "SM1", "delivered", "")
    with pytest.raises(BadWebhook, match="not a Twilio message status"):
        parse_status({"MessageSid": "SM1", "MessageStatus": "teleported"})


def test_only_human_thread_replies_become_agent_replies() -> None:
    body = thread_reply_event("Ev1", "C0WA", "1.0", "U0ANA", "hola", ts="2.0")
    assert to_agent_reply(body).text == "hola"
    top_level = json.loads(json.dumps(body))
    top_level["event"].pop("thread_ts")
    assert to_agent_reply(top_level) is None
    bot = json.loads(json.dumps(body))
    bot["event"]["bot_id"] = "BBOT"
    assert to_agent_reply(bot) is None
    edited = json.loads(json.dumps(body))
    edited["event"]["subtype"] = "message_changed"
    assert to_agent_reply(edited) is None


def test_card_shows_phone_when_name_unknown_and_escapes_names() -> None:
    conv = Conversation(id="v1", contact="c1", campaign="wa", channel="sms", customer_addr="+1",
                        campaign_addr="+2", status="queued", department="general")
    assert card(conv, "", "+525512345678", "Support", "")["text"].startswith("+525512345678 · SMS")
    assert "waiting in queue" in card(conv, "", "+5255", "Support", "")["text"]
    assert "&lt;!channel&gt;" in card(conv, "<!channel>", "+5255", "S", "")["text"]


def test_refusal_names_the_assignee() -> None:
    assert "<@U0ANA>" in refusal("not_assignee", "<@U0ANA>")
    assert "template" in refusal("window_closed")
    assert refusal("queued") is None


def test_mask_phone() -> None:
    assert mask_phone("whatsapp:+525512345678") == "whatsapp:+52******5678"
    assert mask_phone("+14155238886") == "+14*****8886"
    assert mask_phone("conversation v12") == "conversation v12"


def test_logs_are_json_without_phones_or_bodies(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "info", log_bodies=False)
    structlog.get_logger("t").info("x", customer="whatsapp:+525512345678", body="secreto")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["customer"] == "whatsapp:+52******5678"
    assert line["body"] == "<7 chars>" and "secreto" not in json.dumps(line)
    structlog.reset_defaults()
