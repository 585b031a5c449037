"""The agent desk in Slack: card buttons, modals, thread commands; each action, each refusal,
and the event stream, driven by signed Slack payloads."""

from __future__ import annotations

import pytest

from routing.config import Workspace, parse_config
from tests.integration.conftest import System
from tests.signing import (
    button_click,
    select_in_view,
    submit_view,
    thread_reply_event,
    whatsapp_form,
)

NUMBER = "whatsapp:+14155238886"
DESK = parse_config({
    "supervisors_channel": "C0SUPER",
    "campaigns": [
        {"id": "care", "name": "Care", "channel": "whatsapp", "number": "+14155238886",
         "entry": True, "slack_channel": "C0CARE", "departments": [{"id": "front"}],
         "default_department": "front", "canned": {"greet": "¡Hola! ¿En qué te ayudo?"},
         "resources": [{"key": "manual", "title": "Manual", "kind": "document",
                        "url": "https://example.com/manual.pdf"}],
         "typifications": [{"name": "Resolved", "subtypes": ["First contact", "Follow-up"]},
                           {"name": "Transfer"}]},
        {"id": "sales", "name": "Sales", "channel": "whatsapp", "number": "+14155238886",
         "slack_channel": "C0SALES", "departments": [{"id": "team"}],
         "default_department": "team", "options": {"attachments": False}},
    ],
    "agents": [
        {"id": "ana", "name": "Ana", "slack_user": "U0ANA", "departments": ["care/front"],
         "roles": ["agent"], "presence": "online",
         "grants": {"care": ["edit_contact", "attachments", "history"]}},
        {"id": "bruno", "name": "Bruno", "slack_user": "U0BRUNO", "departments": ["care/front"],
         "roles": ["agent"]},
        {"id": "sofia", "name": "Sofía", "slack_user": "U0SOFIA", "departments": ["care/front"],
         "roles": ["supervisor"]},
        {"id": "carla", "name": "Carla", "slack_user": "U0CARLA", "departments": ["sales/team"],
         "presence": "online"},
    ],
})


@pytest.fixture
def workspace() -> Workspace:
    return DESK


async def conversation(system: System) -> tuple[str, dict]:
    """A customer writes; Ana (online) gets it. Returns the conversation id and its card."""
    form = whatsapp_form("SM" + "1" * 32, "hola", to=NUMBER)
    assert (await system.post_twilio("/twilio/messages", form)).status == 200
    await system.drain()
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    return vid, card_of(system, "C0CARE")


def card_of(system: System, channel: str) -> dict:
    [card] = [m for (ch, _), m in system.slack.messages.items()
              if ch == channel and not m.get("thread_ts")]
    return card


def thread(system: System, card: dict) -> list[str]:
    return [m["text"] for m in system.slack.thread(card["channel"], card["ts"])]


async def click(system: System, user: str, action: str, vid: str, card: dict) -> dict | None:
    status, _ = await system.interact(button_click(user, action, vid, card["channel"], card["ts"]))
    assert status == 200
    opened = system.slack.calls_to("views.open")
    return opened[-1]["view"] if opened else None


def events(system: System, vid: str) -> list[dict[str, str]]:
    return [dict(f) for _, f in system.store.events(vid)]


def conv(system: System, vid: str) -> dict[str, str]:
    return dict(system.store.conversation_hash(vid))


async def test_card_has_the_action_buttons(system: System) -> None:
    vid, card = await conversation(system)
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        "rd_assign", "rd_transfer", "rd_escalate", "rd_close", "rd_contact", "rd_history"]
    assert {e["value"] for e in actions["elements"]} == {vid}


async def test_the_desk_reuses_its_connection_to_slack(system: System) -> None:
    vid, card = await conversation(system)
    system.slack.connections.clear()
    for action in ("rd_close", "rd_transfer", "rd_contact"):
        assert await click(system, "U0ANA", action, vid, card)
    assert len(system.slack.calls_to("views.open")) == 3
    assert len(system.slack.connections) == 1  # not one per modal


async def test_close_with_typification_and_subtypification(system: System) -> None:
    vid, card = await conversation(system)
    view = await click(system, "U0ANA", "rd_close", vid, card)
    options = [o["value"] for o in view["blocks"][0]["element"]["options"]]
    assert options == ["Resolved|First contact", "Resolved|Follow-up", "Transfer|"]
    status, answer = await system.interact(submit_view("U0ANA", "rd_close", vid, {}))
    assert answer["response_action"] == "errors" and "typification" in answer["errors"]
    assert conv(system, vid)["status"] == "assigned"
    status, answer = await system.interact(submit_view(
        "U0ANA", "rd_close", vid, {"typification": "Resolved|First contact", "note": "listo"},
        selects=("typification",)))
    assert status == 200 and answer == ""
    c = conv(system, vid)
    assert (c["status"], c["typification"], c["subtypification"]) == (
        "closed", "Resolved", "First contact")
    closed = events(system, vid)[-1]
    assert (closed["type"], closed["actor"], closed["note"]) == ("closed", "ana", "listo")
    await system.drain()
    assert "closed this conversation: Resolved › First contact. listo" in thread(system, card)[-1]
    updated = card_of(system, "C0CARE")
    assert "closed" in updated["text"] and not any(b["type"] == "actions"
                                                   for b in updated["blocks"])
    assert system.store.redis.hget(system.store.keys.agent("ana"), "load") == "0"


async def test_someone_else_cannot_close_and_is_told_why(system: System) -> None:
    vid, card = await conversation(system)
    assert await click(system, "U0BRUNO", "rd_close", vid, card) is None
    [note] = system.slack.ephemerals
    assert note["user"] == "U0BRUNO"
    assert "closing a conversation you are not assigned needs one of the roles" in note["text"]
    assert conv(system, vid)["status"] == "assigned"


async def test_reassign_prefills_the_note_and_records_it(system: System) -> None:
    vid, card = await conversation(system)
    view = await click(system, "U0SOFIA", "rd_assign", vid, card)
    assert [o["value"] for o in view["blocks"][0]["element"]["options"]] == ["bruno", "sofia"]
    await system.interact(select_in_view("U0SOFIA", view, "agent", "bruno"))
    [update] = system.slack.calls_to("views.update")
    assert update["view"]["blocks"][1]["element"]["initial_value"] == "Reassigned to Bruno"
    submit = submit_view("U0SOFIA", "rd_assign", vid,
                         {"agent": "bruno", "note": "Reassigned to Bruno"}, selects=("agent",))
    _, answer = await system.interact(submit)
    assert answer["errors"] == {"agent": "Not possible now: bruno is offline."}
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    _, answer = await system.interact(submit)
    assert answer == ""
    assert conv(system, vid)["assignee"] == "bruno"
    moved = next(e for e in events(system, vid) if e["type"] == "reassigned")
    assert (moved["from"], moved["to"], moved["note"], moved["actor"]) == (
        "ana", "bruno", "Reassigned to Bruno", "sofia")
    await system.drain()
    assert "assigned this conversation to Bruno (was Ana): Reassigned to Bruno" in thread(
        system, card)[-1]


async def test_agents_cannot_reassign(system: System) -> None:
    vid, card = await conversation(system)
    assert await click(system, "U0BRUNO", "rd_assign", vid, card) is None
    assert "needs one of the roles ['admin', 'supervisor']" in system.slack.ephemerals[0]["text"]
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_assign", vid,
                                                  {"agent": "bruno"}, selects=("agent",)))
    assert answer["response_action"] == "update" and conv(system, vid)["assignee"] == "ana"


async def test_transfer_to_agent_needs_a_note_and_an_online_peer(system: System) -> None:
    vid, card = await conversation(system)
    view = await click(system, "U0ANA", "rd_transfer", vid, card)
    groups = {g["label"]["text"]: [o["value"] for o in g["options"]]
              for g in view["blocks"][0]["element"]["option_groups"]}
    assert groups == {"Campaigns (same number)": ["campaign:sales"]}  # nobody else online
    _, answer = await system.interact(submit_view("U0ANA", "rd_transfer", vid,
                                                  {"target": "agent:bruno"}, ("target",)))
    assert answer["errors"] == {"note": "A transfer needs a note for whoever receives it."}
    _, answer = await system.interact(submit_view(
        "U0ANA", "rd_transfer", vid, {"target": "agent:carla", "note": "x"}, ("target",)))
    assert "does not serve care" in answer["errors"]["target"]
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    _, answer = await system.interact(submit_view(
        "U0ANA", "rd_transfer", vid, {"target": "agent:bruno", "note": "billing question"},
        ("target",)))
    assert answer == ""
    c = conv(system, vid)
    assert (c["assignee"], c["typification"]) == ("bruno", "Transfer")
    assert next(e for e in events(system, vid) if e["type"] == "transferred")["note"] == \
        "billing question"


async def test_transfer_to_campaign_on_the_same_number(system: System) -> None:
    vid, card = await conversation(system)
    _, answer = await system.interact(submit_view(
        "U0ANA", "rd_transfer", vid, {"target": "campaign:sales", "note": "wants to buy"},
        ("target",)))
    assert answer == ""
    c = conv(system, vid)
    assert (c["campaign"], c["assignee"], c["typification"]) == ("sales", "carla", "Transfer")
    await system.drain()
    new_card = card_of(system, "C0SALES")  # a new thread where the receiving team works
    assert "Carla" in new_card["text"]
    assert "transferred this conversation to campaign Sales: wants to buy" in thread(
        system, card)[-1]
    assert system.store.redis.hget(system.store.keys.agent("ana"), "load") == "0"


async def test_escalate_raises_priority_and_tells_supervisors(system: System) -> None:
    vid, _ = await conversation(system)
    _, answer = await system.interact(submit_view("U0ANA", "rd_escalate", vid, {"note": "x"}))
    assert "type" in answer["errors"]
    _, answer = await system.interact(submit_view(
        "U0ANA", "rd_escalate", vid, {"type": "complaint", "note": "angry customer"}, ("type",)))
    assert answer == ""
    c = conv(system, vid)
    assert (c["priority"], c["escalation"]) == ("escalated", "complaint")
    await system.drain()
    [alert] = [m for (ch, _), m in system.slack.messages.items() if ch == "C0SUPER"]
    assert "Escalation (complaint)" in alert["text"] and vid in alert["text"]
    fields = [f["text"] for f in card_of(system, "C0CARE")["blocks"][1]["fields"]]
    assert "*Priority*\ncomplaint" in fields


async def test_contact_edit_with_confirmation_and_audit(system: System) -> None:
    vid, card = await conversation(system)
    view = await click(system, "U0ANA", "rd_contact", vid, card)
    assert view["submit"]["text"] == "Review changes"
    fields = {"name": "Lucía Gómez", "phone": "+525512345678", "email": "lucia@example.com",
              "document": ""}
    _, answer = await system.interact(submit_view("U0ANA", "rd_contact", vid,
                                                  fields | {"email": "nope"}))
    assert answer["errors"] == {"email": "That is not an email address."}
    _, answer = await system.interact(submit_view("U0ANA", "rd_contact", vid, fields))
    assert answer["response_action"] == "push"
    confirm = answer["view"]
    assert "Lucía → Lucía Gómez" in confirm["blocks"][0]["text"]["text"]
    cid = conv(system, vid)["contact"]
    assert system.store.contact_hash(cid)["name"]== "Lucía"  # not before confirming
    _, answer = await system.interact(submit_view("U0ANA", "rd_contact_confirm",
                                                  confirm["private_metadata"], {}))
    assert answer == {"response_action": "clear"}
    contact = dict(system.store.contact_hash(cid))
    assert (contact["name"], contact["email"]) == ("Lucía Gómez", "lucia@example.com")
    audit = [dict(f)
             for _, f in system.store.redis.xrange(system.store.keys.contact(cid) + ":audit")]
    assert [(a["field"], a["old"], a["new"], a["actor"]) for a in audit] == [
        ("name", "Lucía", "Lucía Gómez", "ana"), ("email", "", "lucia@example.com", "ana")]


async def test_contact_is_read_only_without_the_permission(system: System) -> None:
    vid, card = await conversation(system)
    view = await click(system, "U0BRUNO", "rd_contact", vid, card)
    assert "submit" not in view and "*Name:* Lucía" in view["blocks"][0]["text"]["text"]
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_contact", vid,
                                                  {"name": "Hacked", "phone": "+525512345678"}))
    assert answer["response_action"] == "update"
    assert "edit contact" in answer["view"]["blocks"][0]["text"]["text"]
    cid = conv(system, vid)["contact"]
    assert system.store.contact_hash(cid)["name"]== "Lucía"


async def test_notes_and_canned_responses_in_the_thread(system: System) -> None:
    vid, card = await conversation(system)
    for i, text in enumerate((";; prefers mornings", ";greet", ";nope")):
        await system.post_slack(thread_reply_event(f"Ev{i}", "C0CARE", card["ts"], "U0ANA", text))
    await system.drain()
    assert [m["body"] for m in system.twilio.messages] == ["¡Hola! ¿En qué te ayudo?"]
    note = next(e for e in events(system, vid) if e["type"] == "note")
    assert (note["actor"], note["note"]) == ("ana", "prefers mornings")
    [unknown] = system.slack.ephemerals
    assert "no canned response ;nope" in unknown["text"] and ";greet" in unknown["text"]
    view = await click(system, "U0BRUNO", "rd_contact", vid, card)
    assert "*Ana:* prefers mornings" in view["blocks"][2]["text"]["text"]  # H10 / A9


async def test_history_lists_the_contacts_conversations(system: System) -> None:
    vid, _ = await conversation(system)
    await system.interact(submit_view("U0ANA", "rd_close", vid,
                                      {"typification": "Resolved|Follow-up"}, ("typification",)))
    await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "2" * 32, "otra vez",
                                                               to=NUMBER))
    await system.drain()
    [new] = list(system.store.redis.hvals(system.store.keys.open))
    new_card = next(m for (ch, _), m in system.slack.messages.items()
                    if ch == "C0CARE" and not m.get("thread_ts") and new in str(m["blocks"]))
    view = await click(system, "U0ANA", "rd_history", new, new_card)
    text = view["blocks"][0]["text"]["text"]
    assert text.index(new) < text.index(vid) and "Resolved › Follow-up" in text


async def test_transfer_receiver_sees_owner_and_recent_messages(system: System) -> None:
    system.store.set_owner(["+525512345678"], "agent", "sofia", "test")
    vid, card = await conversation(system)  # owner sofía is offline: waits in her inbox
    assert conv(system, vid)["status"] == "waiting"
    fields = [f["text"] for f in card["blocks"][1]["fields"]]
    assert "*Owner*\nSofía" in fields
    await system.interact(submit_view("U0SOFIA", "rd_transfer", vid,
                                      {"target": "campaign:sales", "note": "a sale"},
                                      ("target",)))
    await system.drain()
    new_card = card_of(system, "C0SALES")
    [context] = thread(system, new_card)
    assert "Transferred from Care. Contact owner: Sofía." in context
    assert "• *customer:* hola" in context


async def test_new_thread_shows_the_campaigns_hours_of_earlier_history(system: System) -> None:
    vid, card = await conversation(system)
    await system.post_slack(thread_reply_event("Ev1", "C0CARE", card["ts"], "U0ANA",
                                               "<@U0BRUNO> ya quedó"))
    await system.drain()
    await system.interact(submit_view("U0ANA", "rd_close", vid,
                                      {"typification": "Transfer|"}, ("typification",)))
    await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "3" * 32, "una duda más",
                                                               to=NUMBER))
    await system.drain()
    [new] = list(system.store.redis.hvals(system.store.keys.open))
    new_card = next(m for (ch, _), m in system.slack.messages.items()
                    if ch == "C0CARE" and not m.get("thread_ts") and new in str(m["blocks"]))
    replies = thread(system, new_card)
    assert replies[0].startswith(":clock3: *Earlier history (last 24 h)*")
    assert "• *customer:* hola" in replies[0] and "• *Ana:* &lt;@U0BRUNO&gt; ya quedó" in replies[0]
    assert replies[1] == "una duda más"


def upload(system: System, event_id: str, channel: str, thread_ts: str, user: str,
           text: str = "") -> dict:
    base = system.settings.slack_api_base
    file = system.slack.add_file("factura.pdf", "application/pdf", b"%PDF-1.4 factura", base)
    event = thread_reply_event(event_id, channel, thread_ts, user, text)
    event["event"] |= {"subtype": "file_share", "files": [file]}
    return event


async def test_agent_file_reaches_the_customer_through_a_signed_link(system: System) -> None:
    _, card = await conversation(system)
    await system.post_slack(upload(system, "EvF", "C0CARE", card["ts"], "U0ANA", "tu factura"))
    await system.drain()
    [sent] = system.twilio.messages
    assert sent["body"] == "tu factura" and len(sent["media_urls"]) == 1
    url = sent["media_urls"][0]
    assert url.startswith(system.settings.public_url + "/media/")
    async with system.http.get(url.replace(system.settings.public_url, system.base)) as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        assert await resp.read() == b"%PDF-1.4 factura"
    forged = url.replace(system.settings.public_url, system.base).split("?")[0] + "?sig=00"
    async with system.http.get(forged) as resp:
        assert resp.status == 403


async def test_files_are_refused_where_the_campaign_does_not_allow_them(system: System) -> None:
    vid, _ = await conversation(system)
    await system.interact(submit_view("U0ANA", "rd_transfer", vid,
                                      {"target": "campaign:sales", "note": "venta"}, ("target",)))
    await system.drain()
    sales_card = card_of(system, "C0SALES")
    await system.post_slack(upload(system, "EvG", "C0SALES", sales_card["ts"], "U0CARLA"))
    await system.drain()
    assert system.twilio.messages == []
    [refusal] = system.slack.ephemerals
    assert refusal["user"] == "U0CARLA"
    assert "Sales does not allow sending files" in refusal["text"]


async def test_my_conversations_and_the_gallery(system: System) -> None:
    vid, card = await conversation(system)
    mine = (await system.slash("U0ANA", "mine"))[1]
    assert mine.startswith("Your 1 open conversation(s):") and vid in mine and "<#C0CARE>" in mine
    assert (await system.slash("U0BRUNO", "mine"))[1] == "You have no open conversations."
    gallery = (await system.slash("U0ANA", "gallery"))[1]
    assert "*Care*" in gallery and "`;greet`" in gallery and "`;manual` document: Manual" in gallery
    await system.post_slack(thread_reply_event("EvM", "C0CARE", card["ts"], "U0ANA", ";manual"))
    await system.drain()
    [sent] = system.twilio.messages
    assert sent["media_urls"] == ["https://example.com/manual.pdf"]


def dms(system: System, user: str) -> list[str]:
    return [m["text"] for (ch, _), m in system.slack.messages.items() if ch == f"D{user}"]


async def test_customer_message_while_away_reaches_the_agent_by_dm(system: System) -> None:
    await conversation(system)
    assert [d for d in dms(system, "U0ANA") if "wrote while you are away" in d] == []
    system.store.set_presence("ana", "away", "ana")
    await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "4" * 32, "¿hola?",
                                                               to=NUMBER))
    await system.drain()
    [away] = [d for d in dms(system, "U0ANA") if "wrote while you are away" in d]
    assert "Lucía" in away and "¿hola?" in away and "<#C0CARE>" in away


async def test_reminder_once_per_unanswered_wait(system: System) -> None:
    import asyncio
    import time

    from workers.context import current
    from workers.jobs import remind_waiting

    vid, card = await conversation(system)
    later = time.time() + 11 * 60  # the campaign's default threshold is 10 minutes
    assert await asyncio.to_thread(remind_waiting, current(), time.time()) == []
    assert await asyncio.to_thread(remind_waiting, current(), later) == [vid]
    assert await asyncio.to_thread(remind_waiting, current(), later + 60) == []  # once
    await system.drain()
    assert any("has waited 11 min for an answer" in d for d in dms(system, "U0ANA"))
    await system.post_slack(thread_reply_event("EvR", "C0CARE", card["ts"], "U0ANA", "aquí"))
    await system.drain()
    assert await asyncio.to_thread(remind_waiting, current(), later + 3600) == []  # answered
    await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "5" * 32, "¿y?",
                                                               to=NUMBER))
    assert await asyncio.to_thread(remind_waiting, current(), time.time() + 3600) == [vid]


async def test_grants_from_the_api_change_what_slack_allows(system: System) -> None:
    import json

    from routing.permissions import Principal, token_hash

    system.store.add_token(token_hash("adm"), json.dumps(Principal("admin", "ops").to_json()))
    system.store.add_token(token_hash("sup"), json.dumps(
        Principal("agent", "sofia", agent="sofia").to_json()))
    vid, card = await conversation(system)

    async def api(method: str, path: str, token: str, body: dict) -> tuple[int, dict]:
        async with system.http.request(method, system.base + path, json=body,
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()

    assert "submit" not in await click(system, "U0BRUNO", "rd_contact", vid, card)
    status, data = await api("PUT", "/api/agents/bruno/grants/care", "sup",
                             {"grants": ["edit_contact"]})
    assert status == 403 and "granting permissions" in data["error"]
    assert (await api("PUT", "/api/agents/bruno/grants/care", "adm",
                      {"grants": ["edit_contact"]}))[0] == 200
    assert (await click(system, "U0BRUNO", "rd_contact", vid, card))["submit"]["text"] == \
        "Review changes"
    status, data = await api("POST", "/api/grants/bulk", "adm",
                             {"agents": ["ana", "bruno"], "campaign": "care", "grants": []})
    assert status == 200 and data["grants"] == []  # E2: in bulk; here taking it away
    assert "submit" not in await click(system, "U0ANA", "rd_contact", vid, card)
    status, data = await api("PUT", "/api/agents/bruno/grants/care", "adm",
                             {"grants": ["fly"]})
    assert status == 400 and "grants" in data["error"]
    async with system.http.get(system.base + "/api/agents/ana/grants",
                               headers={"Authorization": "Bearer adm"}) as resp:
        assert (await resp.json())["care"] == []


async def test_an_agent_may_take_a_waiting_conversation_for_themselves(system: System) -> None:
    system.store.set_capacity("ana", 0, "test")
    vid, card = await conversation(system)
    assert conv(system, vid)["status"] == "queued"
    # presence written directly, so routing does not hand it to him first: he takes it himself
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    view = await click(system, "U0BRUNO", "rd_assign", vid, card)
    assert [o["value"] for o in view["blocks"][0]["element"]["options"]] == ["bruno"]
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_assign", vid,
                                                  {"agent": "sofia"}, ("agent",)))
    assert answer["response_action"] == "update"  # only for themselves
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_assign", vid,
                                                  {"agent": "bruno"}, ("agent",)))
    assert answer == "" and conv(system, vid)["assignee"] == "bruno"
    assert system.store.redis.zcard(system.store.keys.dept_queue("care", "front")) == 0
