"""Active messages (section 6): templates from the Slack window refusal, the contact card, the
slash command and the API; opt-out keywords; all through the real SDKs against the fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.signing import (
    button_click,
    select_in_view,
    sms_form,
    submit_view,
    thread_reply_event,
    whatsapp_form,
)

WA, SMS = "+14155238886", "+15005550006"
CUSTOMER = "+525512345678"
SID = "HX" + "a" * 32
WORKSPACE = parse_config({
    "campaigns": [
        {"id": "care", "name": "Care", "channel": "whatsapp", "number": WA,
         "slack_channel": "C0CARE", "departments": [{"id": "front"}, {"id": "sales"}],
         "default_department": "front",
         "templates": [
             {"name": "follow_up", "content_sid": SID, "body": "Hola {{1}}, ¿todo bien con {{2}}?",
              "variables": [{"name": "customer", "example": "Lucía", "contact": "name"},
                            {"name": "ticket", "example": "#1"}]},
             {"name": "menu", "content_sid": "HX" + "b" * 32, "kind": "quick_reply",
              "session_only": True, "body": "¿Qué necesitas?"}]},
        {"id": "texts", "name": "Texts", "channel": "sms", "number": SMS,
         "slack_channel": "C0TEXTS", "departments": [{"id": "front"}],
         "default_department": "front",
         "options": {"help_text": "Texts: write here or call 800 123 4567."},
         "templates": [{"name": "ready", "body": "Tu pedido {{1}} está listo",
                        "variables": [{"name": "order", "example": "A-1"}]}]},
    ],
    "agents": [
        {"id": "ana", "name": "Ana", "slack_user": "U0ANA",
         "departments": ["care/front", "texts/front"], "presence": "online",
         "grants": {"care": ["active_messages"], "texts": ["active_messages"]}},
        {"id": "bruno", "name": "Bruno", "slack_user": "U0BRUNO", "departments": ["care/front"],
         "presence": "online"},
        {"id": "marta", "name": "Marta", "slack_user": "U0MARTA", "roles": ["marketing"]},
    ],
})
TOKENS = {"admin": Principal("admin", "ops"), "ana": Principal("agent", "ana", agent="ana"),
          "bruno": Principal("agent", "bruno", agent="bruno"),
          "marta": Principal("agent", "marta", agent="marta")}


@pytest.fixture
def workspace() -> Workspace:
    return WORKSPACE


@pytest.fixture
def tokens(system: System) -> None:
    for name, p in TOKENS.items():
        system.store.add_token(token_hash(f"tok-{name}"), json.dumps(p.to_json()))


async def api(system: System, method: str, path: str, body: Any = None, who: str = "admin",
              key: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer tok-{who}"} | ({"Idempotency-Key": key} if key else {})
    async with system.http.request(method, system.base + path, json=body,
                                   headers=headers) as resp:
        return resp.status, await resp.json()


def card_of(system: System, channel: str) -> dict:
    return [m for (ch, _), m in system.slack.messages.items()
            if ch == channel and not m.get("thread_ts")][-1]


def thread(system: System, channel: str) -> list[str]:
    card = card_of(system, channel)
    return [m["text"] for m in system.slack.thread(channel, card["ts"])]


async def customer_writes(system: System, text: str, n: int = 1, sms: bool = False) -> str:
    form = (sms_form(f"SM{n:032d}", text, to=SMS) if sms
            else whatsapp_form(f"SM{n:032d}", text, to=f"whatsapp:{WA}"))
    assert (await system.post_twilio("/twilio/messages", form)).status == 200
    await system.drain()
    cid = system.store.contact_id(CUSTOMER)
    return system.store.redis.hget(system.store.keys.open,
                                   f"{cid}|{'' if sms else 'whatsapp:'}{SMS if sms else WA}")


def age_window(system: System, vid: str, hours: float = 25) -> None:
    system.store.redis.hset(system.store.keys.conv(vid), "last_inbound_at",
                            str(float(system.store.redis.hget(system.store.keys.conv(vid),
                                                              "last_inbound_at")) - hours * 3600))


async def test_window_refusal_offers_a_template_that_goes_through_the_outbox(
        system: System) -> None:
    vid = await customer_writes(system, "hola")
    age_window(system, vid)
    card = card_of(system, "C0CARE")
    await system.post_slack(thread_reply_event("Ev1", "C0CARE", card["ts"], "U0ANA", "¿sigues?"))
    [refusal] = system.slack.calls_to("chat.postEphemeral")
    assert "24 hours" in refusal["text"]
    [button] = json.loads(refusal["blocks"])[1]["elements"] if isinstance(
        refusal["blocks"], str) else refusal["blocks"][1]["elements"]
    assert (button["action_id"], button["value"]) == ("rd_template", vid)
    assert system.twilio.requests == []  # refused before Twilio was called

    # The button opens the modal; choosing a template pre-fills its variables from the contact.
    status, _ = await system.interact(button_click("U0ANA", "rd_template", vid, "C0CARE",
                                                   card["ts"]))
    assert status == 200
    view = system.slack.calls_to("views.open")[-1]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "rd_template"
    await system.interact(select_in_view("U0ANA", view, "template", "follow_up"))
    updated = system.slack.calls_to("views.update")[-1]["view"]
    updated = json.loads(updated) if isinstance(updated, str) else updated
    var1 = next(b for b in updated["blocks"] if b.get("block_id") == "var_1")
    assert var1["element"]["initial_value"] == "Lucía"

    status, answer = await system.interact(submit_view(
        "U0ANA", "rd_template", vid, {"template": "follow_up", "var_1": "Lucía", "var_2": "#9"},
        ("template",)))
    assert status == 200 and not answer
    await system.drain()
    [sent] = system.twilio.messages
    assert sent["content_sid"] == SID and sent["body"] == ""
    assert json.loads(sent["content_variables"]) == {"1": "Lucía", "2": "#9"}
    assert "sent the template `follow_up`: Hola Lucía, ¿todo bien con #9?" in thread(
        system, "C0CARE")[-1]
    # Status reactions follow, as for a reply.
    await system.twilio.send_status(sent["sid"], "delivered")
    await system.drain()
    shown = next(m for m in system.slack.thread("C0CARE", card["ts"]) if "follow_up" in m["text"])
    assert system.slack.reactions("C0CARE", shown["ts"]) == ["ballot_box_with_check"]


async def test_a_failed_template_is_explained_in_the_thread(system: System) -> None:
    vid = await customer_writes(system, "hola")
    system.twilio.fail_next(400, 63016, "Outside the allowed window")
    await system.interact(submit_view("U0ANA", "rd_template", vid,
                                      {"template": "follow_up", "var_1": "L", "var_2": "#1"},
                                      ("template",)))
    await system.drain()
    assert any("was not delivered: outside the WhatsApp 24-hour window" in t
               for t in thread(system, "C0CARE"))


async def test_api_active_message_opens_a_conversation_assigned_to_the_sender(
        system: System, tokens: None) -> None:
    body = {"campaign": "care", "to": CUSTOMER, "template": "follow_up",
            "variables": {"customer": "Lucía", "ticket": "#7"}}
    status, first = await api(system, "POST", "/api/active-messages", body, who="ana", key="k1")
    assert status == 202 and first["opened"] and first["assignee"] == "ana"
    status, again = await api(system, "POST", "/api/active-messages", body, who="ana", key="k1")
    assert status == 200 and again["duplicate"] and again["message"] == first["message"]
    await system.drain()
    assert len(system.twilio.messages) == 1
    conv = system.store.conversation_hash(first["conversation"])
    assert conv["origin"] == "active_message" and conv["assignee"] == "ana"
    msg = system.store.message_hash(first["message"])
    assert msg["author"] == "ana" and msg["body"] == "Hola Lucía, ¿todo bien con #7?"
    assert "Conversation" in card_of(system, "C0CARE")["blocks"][0]["text"]["text"]

    # Bruno has no grant; an unknown template, a missing variable: refused with the reason.
    status, err = await api(system, "POST", "/api/active-messages", body, who="bruno")
    assert status == 403 and "active messages" in err["error"]
    status, err = await api(system, "POST", "/api/active-messages",
                            body | {"template": "nope"}, who="ana")
    assert status == 404 and "follow_up" in err["error"]
    status, err = await api(system, "POST", "/api/active-messages",
                            body | {"variables": {"customer": "x"}}, who="ana")
    assert status == 400 and "missing variable(s) ['ticket']" in err["error"]
    # The same key from another caller is another call.
    status, other = await api(system, "POST", "/api/active-messages", body, key="k1")
    assert status == 202 and other["conversation"] == first["conversation"]


async def test_active_message_resumes_the_open_conversation(system: System,
                                                           tokens: None) -> None:
    vid = await customer_writes(system, "hola")  # Ana (first online by id) gets it
    body = {"campaign": "care", "to": CUSTOMER, "template": "follow_up",
            "variables": ["Lucía", "#1"]}
    status, err = await api(system, "POST", "/api/active-messages", body | {"agent": "bruno"})
    assert status == 409 and "assigned to Ana" in err["error"]
    status, sent = await api(system, "POST", "/api/active-messages", body, who="ana")
    assert status == 202 and sent["conversation"] == vid and not sent["opened"]


async def test_slash_command_sends_a_template(system: System) -> None:
    status, text = await system.slash("U0ANA", f"send {SMS.replace(SMS, CUSTOMER)} ready A-77")
    assert status == 200 and "Template `ready` queued" in text, text
    await system.drain()
    [sent] = system.twilio.messages
    assert sent["body"] == "Tu pedido A-77 está listo" and sent["to"] == CUSTOMER
    assert sent["content_sid"] is None
    status, text = await system.slash("U0BRUNO", f"send {CUSTOMER} follow_up x | y")
    assert "active messages" in text


async def test_contact_card_offers_send_a_template(system: System) -> None:
    vid = await customer_writes(system, "hola")
    card = card_of(system, "C0CARE")
    await system.interact(button_click("U0ANA", "rd_contact", vid, "C0CARE", card["ts"]))
    view = system.slack.calls_to("views.open")[-1]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert "rd_template" in json.dumps(view)
    click = button_click("U0ANA", "rd_template", vid, "C0CARE", card["ts"])
    click["view"] = view
    status, _ = await system.interact(click)
    assert status == 200
    pushed = system.slack.calls_to("views.push")[-1]["view"]
    assert "rd_template" in (pushed if isinstance(pushed, str) else json.dumps(pushed))


async def test_sms_opt_out_keywords(system: System, tokens: None) -> None:
    vid = await customer_writes(system, "hola", sms=True)
    await customer_writes(system, " stop ", n=2, sms=True)
    assert any("opted out" in t for t in thread(system, "C0TEXTS"))
    cid = system.store.contact_id(CUSTOMER)
    assert system.store.contact_hash(cid)[f"optout:{SMS}"]
    # A free-form reply is refused with the reason, before Twilio.
    card = card_of(system, "C0TEXTS")
    await system.post_slack(thread_reply_event("Ev1", "C0TEXTS", card["ts"], "U0ANA", "¿seguro?"))
    assert "opted out" in system.slack.calls_to("chat.postEphemeral")[-1]["text"]
    status, err = await api(system, "POST", "/api/active-messages",
                            {"campaign": "texts", "to": CUSTOMER, "template": "ready",
                             "variables": ["A-1"]}, who="ana")
    assert status == 422 and "opted out" in err["error"]
    assert system.twilio.requests == []
    # HELP is answered from the config; START opts back in.
    await customer_writes(system, "HELP", n=3, sms=True)
    assert [m["body"] for m in system.twilio.messages] == [
        "Texts: write here or call 800 123 4567."]
    await customer_writes(system, "START", n=4, sms=True)
    assert f"optout:{SMS}" not in system.store.contact_hash(cid)
    await system.post_slack(thread_reply_event("Ev2", "C0TEXTS", card["ts"], "U0ANA", "hola"))
    await system.drain()
    assert system.twilio.messages[-1]["body"] == "hola"
    assert vid


async def test_twilio_21610_records_the_opt_out(system: System) -> None:
    await customer_writes(system, "hola", sms=True)
    card = card_of(system, "C0TEXTS")
    system.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    await system.post_slack(thread_reply_event("Ev1", "C0TEXTS", card["ts"], "U0ANA", "hola"))
    await system.drain()
    cid = system.store.contact_id(CUSTOMER)
    assert system.store.contact_hash(cid).get(f"optout:{SMS}")
    await system.post_slack(thread_reply_event("Ev2", "C0TEXTS", card["ts"], "U0ANA", "¿y?"))
    assert "opted out" in system.slack.calls_to("chat.postEphemeral")[-1]["text"]


async def test_whatsapp_stop_is_an_opt_out_from_active_messages_only(
        system: System, tokens: None) -> None:
    await customer_writes(system, "hola")
    await customer_writes(system, "STOP", n=2)
    card = card_of(system, "C0CARE")
    await system.post_slack(thread_reply_event("Ev1", "C0CARE", card["ts"], "U0ANA", "ok"))
    await system.drain()
    assert [m["body"] for m in system.twilio.messages] == ["ok"]  # free-form still allowed
    status, err = await api(system, "POST", "/api/active-messages",
                            {"campaign": "care", "to": CUSTOMER, "template": "follow_up",
                             "variables": ["L", "#1"]}, who="ana")
    assert status == 422 and "opted out" in err["error"]


async def test_session_only_interactive_template_needs_the_window(system: System,
                                                                   tokens: None) -> None:
    body = {"campaign": "care", "to": CUSTOMER, "template": "menu"}
    status, err = await api(system, "POST", "/api/active-messages", body, who="ana")
    assert status == 422 and "24 hours" in err["error"]
    await customer_writes(system, "hola")
    status, _sent = await api(system, "POST", "/api/active-messages", body, who="ana")
    assert status == 202
    await system.drain()
    assert system.twilio.messages[-1]["content_sid"] == "HX" + "b" * 32


async def test_history_contact_sends_a_template(system: System) -> None:
    """H11: from a contact of the attendance history (no open conversation needed)."""
    system.store.redis.hset(system.store.keys.ident, CUSTOMER, "c9")
    system.store.redis.hset(system.store.keys.contact("c9"), mapping={
        "id": "c9", "phone": CUSTOMER, "name": "Lucía"})
    click = button_click("U0ANA", "rd_hist_template", "care|c9", "C0CARE", "1")
    click["view"] = {"id": "V9", "type": "modal"}
    status, _ = await system.interact(click)
    assert status == 200
    pushed = system.slack.calls_to("views.push")[-1]["view"]
    pushed = json.loads(pushed) if isinstance(pushed, str) else pushed
    assert json.loads(pushed["private_metadata"]) == {"campaign": "care", "contact": "c9"}
    status, answer = await system.interact(submit_view(
        "U0ANA", "rd_template", pushed["private_metadata"],
        {"template": "follow_up", "var_1": "Lucía", "var_2": "#5"}, ("template",)))
    assert status == 200 and not answer, answer
    await system.drain()
    assert system.twilio.messages[-1]["to"] == f"whatsapp:{CUSTOMER}"
    vid = system.store.redis.hget(system.store.keys.open, f"c9|whatsapp:{WA}")
    conv = system.store.conversation_hash(vid)
    assert conv["origin"] == "active_message" and conv["assignee"] == "ana"
    # Bruno has no grant: refused.
    click = button_click("U0BRUNO", "rd_hist_template", "care|c9", "C0CARE", "1")
    click["view"] = {"id": "V9", "type": "modal"}
    await system.interact(click)
    refusal = system.slack.calls_to("views.open")[-1]["view"]
    assert "active messages" in (refusal if isinstance(refusal, str) else json.dumps(refusal))
