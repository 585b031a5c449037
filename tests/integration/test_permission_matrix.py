"""Every role and grant against every action it governs, through the API and the fake Slack
(issue 15): one row per action, one column per principal, each cell a real signed request.

The principals: an admin token, an admin agent, a supervisor, an agent holding the grants in
*care* only ("granted"), an agent holding them in *sales* only ("elsewhere"), an agent with no
grants ("plain"), an auditor and a marketing agent. "granted" and "elsewhere" serve both
campaigns, so a cell that differs between them is a grant that counts in its campaign only.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.signing import button_click, thread_reply_event, whatsapp_form

CARE, SALES = "+14155238886", "+14155550100"
ALL = ["history", "edit_contact", "active_messages", "assign_owners", "attachments"]
MATRIX = parse_config({
    "supervisors_channel": "C0SUPER",
    "campaigns": [
        {"id": "care", "name": "Care", "channel": "whatsapp", "number": CARE,
         "slack_channel": "C0CARE", "departments": [{"id": "front"}],
         "default_department": "front",
         "resources": [{"key": "manual", "title": "Manual", "kind": "document",
                        "url": "https://example.com/manual.pdf"}]},
        {"id": "sales", "name": "Sales", "channel": "whatsapp", "number": SALES,
         "slack_channel": "C0SALES", "departments": [{"id": "team"}],
         "default_department": "team"},
    ],
    "agents": [{"capacity": 50} | a for a in [
        {"id": "adm", "slack_user": "U0ADM", "roles": ["admin"]},
        {"id": "sup", "slack_user": "U0SUP", "roles": ["supervisor"],
         "departments": ["care/front"]},
        {"id": "granted", "slack_user": "U0GRANTED", "grants": {"care": ALL},
         "departments": ["care/front", "sales/team"]},
        {"id": "elsewhere", "slack_user": "U0ELSEWHERE", "grants": {"sales": ALL},
         "departments": ["care/front", "sales/team"]},
        {"id": "plain", "slack_user": "U0PLAIN", "departments": ["care/front"]},
        {"id": "aud", "slack_user": "U0AUD", "roles": ["auditor"]},
        {"id": "mkt", "slack_user": "U0MKT", "roles": ["marketing"]},
        {"id": "other", "slack_user": "U0OTHER", "departments": ["care/front"]},  # not a column
    ]],
})
WHO = ["admin token", "adm", "sup", "granted", "elsewhere", "plain", "aud", "mkt"]
SLACK = {a.id: a.slack_user for a in MATRIX.agents}
_phones = itertools.count(100)


@pytest.fixture
def workspace() -> Workspace:
    return MATRIX


def token(who: str) -> str:
    return f"tok-{who.replace(' ', '-')}"


@pytest.fixture
async def desk(system: System) -> System:
    system.store.add_token(token_hash(token("admin token")),
                           json.dumps(Principal("admin", "ops").to_json()))
    for agent in MATRIX.agents:
        system.store.add_token(token_hash(token(agent.id)), json.dumps(
            Principal("agent", agent.id, agent=agent.id).to_json()))
    return system


async def api(system: System, who: str, method: str, path: str, body: Any = None
              ) -> tuple[int, dict]:
    async with system.http.request(method, system.base + path, json=body, headers={
            "Authorization": f"Bearer {token(who)}"}) as resp:
        return resp.status, await resp.json()


def allowed_by(status: int, data: dict) -> bool:
    assert status in (200, 403), (status, data)
    if status == 403:  # a refusal says what is missing
        assert "needs" in data["error"] or "permission" in data["error"], data
    return status == 200


def presence(system: System, agent: str, value: str = "online") -> None:
    """Presence written directly, so routing neither hands them waiting work first nor (once
    offline again) gives them the next test's conversation."""
    system.store.redis.hset(system.store.keys.agent(agent), "presence", value)


async def open_conversation(system: System, number: str = CARE, assignee: str = ""
                            ) -> tuple[str, dict]:
    """A new customer writes (everyone is offline: it waits in the department queue), and the
    conversation is given to ``assignee`` if one is named. Returns its id and card."""
    phone = f"+5255{next(_phones):08d}"
    form = whatsapp_form(f"SM{phone[1:]:0>32}", "hola", phone=phone, to=f"whatsapp:{number}")
    assert (await system.post_twilio("/twilio/messages", form)).status == 200
    cid = system.store.contact_id(phone)
    vid = system.store.redis.hget(system.store.keys.open, f"{cid}|whatsapp:{number}")
    if assignee:
        presence(system, assignee)
        assert system.store.move(vid, "test", "reassign", assignee, "").outcome == "moved"
        presence(system, assignee, "offline")
    await system.drain()
    [card] = [m for (_, _), m in system.slack.messages.items()
              if not m.get("thread_ts") and f"Conversation {vid}" in json.dumps(m["blocks"])]
    return vid, card


def ephemerals(system: System, who: str) -> list[str]:
    return [e["text"] for e in system.slack.ephemerals if e["user"] == SLACK[who]]


async def button(system: System, who: str, action: str, vid: str, card: dict) -> bool:
    opened = len(system.slack.calls_to("views.open"))
    status, _ = await system.interact(button_click(SLACK[who], action, vid, card["channel"],
                                                   card["ts"]))
    assert status == 200
    if len(system.slack.calls_to("views.open")) > opened:
        return True
    assert ephemerals(system, who), "neither a modal nor a refusal"
    return False


_events = itertools.count()


async def write(system: System, who: str, card: dict, text: str, file: bool = False) -> None:
    event = thread_reply_event(f"EvM{next(_events)}", card["channel"], card["ts"], SLACK[who],
                               text)
    if file:
        f = system.slack.add_file("factura.pdf", "application/pdf", b"%PDF-1.4",
                                  system.settings.slack_api_base)
        event["event"] |= {"subtype": "file_share", "files": [f]}
    assert (await system.post_slack(event)).status == 200
    await system.drain()


# -- the actions: each answers whether the principal was let through -------------------------

Action = Callable[[System, str], Awaitable[bool]]


async def owner_department(system: System, who: str, dept: str) -> bool:
    phone = f"+5255{next(_phones):08d}"
    status, data = await api(system, who, "PUT", f"/api/contacts/{phone}/owner",
                             {"type": "department", "id": dept})
    return allowed_by(status, data)


async def owner_agent(system: System, who: str, agent: str) -> bool:
    phone = f"+5255{next(_phones):08d}"
    status, data = await api(system, who, "PUT", f"/api/contacts/{phone}/owner",
                             {"type": "agent", "id": agent})
    return allowed_by(status, data)


async def exclusive(system: System, who: str, campaign: str) -> bool:
    phone = f"+5255{next(_phones):08d}"
    status, data = await api(system, who, "PUT", f"/api/contacts/{phone}/exclusive/{campaign}",
                             {"agent": "granted"})
    return allowed_by(status, data)


async def owner_command(system: System, who: str, text: str) -> bool:
    """``/relaydesk owner …`` or ``exclusive …`` for a new contact (nothing open: no
    confirmation step)."""
    phone = f"+5255{next(_phones):08d}"
    status, answer = await system.slash(SLACK[who], text.format(phone=phone))
    assert status == 200
    assert answer.startswith(("Not allowed:", "Owner of", "granted is now")), answer
    return not answer.startswith("Not allowed:")


async def read_contact(system: System, who: str) -> bool:
    phone = f"+5255{next(_phones):08d}"
    system.store.set_owner([phone], "", "", "test")
    return allowed_by(*await api(system, who, "GET", f"/api/contacts/{phone}"))


async def escalate_api(system: System, who: str, own: bool) -> bool:
    vid, _ = await open_conversation(system, assignee=(who if own else "other"))
    status, data = await api(system, who, "POST", f"/api/conversations/{vid}/escalate",
                             {"type": "urgent", "note": "x"})
    allowed = allowed_by(status, data)
    assert (system.store.conversation_hash(vid).get("priority") == "escalated") == allowed
    return allowed


async def escalate_button(system: System, who: str) -> bool:
    vid, card = await open_conversation(system, assignee="other")
    return await button(system, who, "rd_escalate", vid, card)


async def history(system: System, who: str, number: str) -> bool:
    vid, card = await open_conversation(system, number)
    return await button(system, who, "rd_history", vid, card)


async def note(system: System, who: str) -> bool:
    vid, card = await open_conversation(system, assignee="other")
    await write(system, who, card, ";; a note")
    noted = any(f["type"] == "note" for _, f in system.store.events(vid))
    assert noted != bool(ephemerals(system, who))
    return noted


async def send_file(system: System, who: str, number: str) -> bool:
    _, card = await open_conversation(system, number, assignee=who)
    sent = len(system.twilio.messages)
    await write(system, who, card, "tu factura", file=True)
    went = len(system.twilio.messages) > sent
    assert went != bool(ephemerals(system, who))
    return went


async def claim(system: System, who: str) -> bool:
    vid, card = await open_conversation(system)
    assert system.store.conversation_hash(vid)["status"] == "queued"
    presence(system, who)
    await write(system, who, card, f"yo te atiendo, {who}")
    presence(system, who, "offline")
    claimed = system.store.conversation_hash(vid).get("assignee") == who
    assert claimed == any(m["body"] == f"yo te atiendo, {who}" for m in system.twilio.messages)
    return claimed


Y, N, _ = True, False, None  # _: the principal has no way to ask (an admin token in Slack)
#                                      admin tok adm sup granted elsewhere plain aud mkt
ROWS: dict[str, tuple[Action, tuple[bool | None, ...]]] = {
    "owner: care department (API)": (
        lambda s, w: owner_department(s, w, "care/front"), (Y, Y, Y, Y, N, N, N, N)),
    "owner: sales department (API)": (
        lambda s, w: owner_department(s, w, "sales/team"), (Y, Y, Y, N, Y, N, N, N)),
    "owner: an agent of care only (API)": (
        lambda s, w: owner_agent(s, w, "plain"), (Y, Y, Y, Y, N, N, N, N)),
    "owner: an agent of both (API)": (
        lambda s, w: owner_agent(s, w, "granted"), (Y, Y, Y, Y, Y, N, N, N)),
    "exclusive agent in care (API)": (
        lambda s, w: exclusive(s, w, "care"), (Y, Y, Y, Y, N, N, N, N)),
    "exclusive agent in sales (API)": (
        lambda s, w: exclusive(s, w, "sales"), (Y, Y, Y, N, Y, N, N, N)),
    "owner: care department (Slack command)": (
        lambda s, w: owner_command(s, w, "owner {phone} care/front"), (_, Y, Y, Y, N, N, N, N)),
    "exclusive agent in sales (Slack command)": (
        lambda s, w: owner_command(s, w, "exclusive {phone} sales granted"),
        (_, Y, Y, N, Y, N, N, N)),
    "read a contact's owners (API)": (read_contact, (Y, Y, Y, Y, Y, N, N, N)),
    "escalate someone else's (API)": (
        lambda s, w: escalate_api(s, w, own=False), (Y, Y, Y, N, N, N, N, N)),
    "escalate your own (API)": (
        lambda s, w: escalate_api(s, w, own=True), (_, Y, Y, Y, Y, Y, Y, Y)),
    "escalate someone else's (Slack)": (escalate_button, (_, Y, Y, N, N, N, N, N)),
    "History button in care (Slack)": (
        lambda s, w: history(s, w, CARE), (_, Y, N, Y, N, N, N, N)),
    "History button in sales (Slack)": (
        lambda s, w: history(s, w, SALES), (_, Y, N, N, Y, N, N, N)),
    "note in care (Slack)": (note, (_, Y, Y, Y, Y, Y, N, N)),
    "send a file in care (Slack)": (
        lambda s, w: send_file(s, w, CARE), (_, Y, N, Y, N, N, N, N)),
    "send a file in sales (Slack)": (
        lambda s, w: send_file(s, w, SALES), (_, Y, N, N, Y, N, N, N)),
    "claim a queued conversation of care/front (Slack)": (
        claim, (_, N, Y, Y, Y, Y, N, N)),
}


@pytest.mark.parametrize("row", list(ROWS))
async def test_who_may(desk: System, row: str) -> None:
    action, expected = ROWS[row]
    got = {}
    for who, want in zip(WHO, expected, strict=True):
        if want is not None:
            got[who] = await action(desk, who)
    assert got == {w: e for w, e in zip(WHO, expected, strict=True) if e is not None}


# -- the refusals and effects behind the cells ---------------------------------------------------

def thread(system: System, card: dict) -> list[str]:
    return [m["text"] for m in system.slack.thread(card["channel"], card["ts"])]


async def test_a_claim_assigns_and_sends_in_one_step(desk: System) -> None:
    vid, card = await open_conversation(desk)
    keys = desk.store.keys
    assert desk.store.redis.zcard(keys.dept_queue("care", "front")) == 1
    presence(desk, "plain")
    await write(desk, "plain", card, "Hola, soy Plain")
    conv = desk.store.conversation_hash(vid)
    assert (conv["status"], conv["assignee"], conv["rule"]) == ("assigned", "plain", "claim")
    assert desk.store.redis.zcard(keys.dept_queue("care", "front")) == 0
    assert desk.store.redis.hget(keys.agent("plain"), "load") == "1"
    assert [m["body"] for m in desk.twilio.messages] == ["Hola, soy Plain"]
    assert ":raising_hand: plain took this conversation by replying." in thread(desk, card)
    [updated] = [m for (_, _), m in desk.slack.messages.items()
                 if not m.get("thread_ts") and f"Conversation {vid}" in json.dumps(m["blocks"])]
    assert "assigned · plain" in updated["text"]
    assert not [m for (ch, _), m in desk.slack.messages.items() if ch.startswith("D")]
    assert ephemerals(desk, "plain") == []
    # the next reply is an ordinary one, and someone else's is refused as before
    await write(desk, "plain", card, "¿En qué te ayudo?")
    presence(desk, "granted")
    await write(desk, "granted", card, "yo también")
    assert [m["body"] for m in desk.twilio.messages] == ["Hola, soy Plain", "¿En qué te ayudo?"]
    assert "assigned to <@U0PLAIN>" in ephemerals(desk, "granted")[0]


@pytest.mark.parametrize(("case", "reason"), [
    ("offline", "you are offline; go online (/relaydesk online) to take it"),
    ("full", "you are at capacity (0/0)"),
    ("not my department", "it waits in the queue of sales/team, a department you do not serve"),
    ("waits for its owner", "it waits for other (the contact's exclusive or owner agent)"),
])
async def test_a_reply_that_cannot_claim_says_why(desk: System, case: str, reason: str) -> None:
    number = SALES if case == "not my department" else CARE
    if case == "waits for its owner":
        desk.store.set_owner(["+525500000001"], "agent", "other", "test")
        form = whatsapp_form("SM" + "9" * 32, "hola", phone="+525500000001",
                             to=f"whatsapp:{CARE}")
        await desk.post_twilio("/twilio/messages", form)
        await desk.drain()
        [vid] = desk.store.redis.hvals(desk.store.keys.open)
        [card] = [m for (_, _), m in desk.slack.messages.items() if not m.get("thread_ts")]
    else:
        vid, card = await open_conversation(desk, number)
    if case != "offline":
        presence(desk, "plain")
    if case == "full":
        desk.store.redis.hset(desk.store.keys.agent("plain"), "capacity", 0)
    before = desk.store.conversation_hash(vid)
    await write(desk, "plain", card, "yo te atiendo")
    [refusal] = ephemerals(desk, "plain")
    assert refusal.startswith("Your reply was not sent to the customer: ")
    assert reason in refusal
    assert desk.store.conversation_hash(vid) == before and desk.twilio.messages == []


async def test_escalating_through_the_api_does_what_the_button_does(desk: System) -> None:
    vid, card = await open_conversation(desk, assignee="plain")
    status, data = await api(desk, "plain", "POST", f"/api/conversations/{vid}/escalate",
                             {"type": "complaint", "note": "angry customer"})
    assert status == 200 and data == {"conversation": vid, "priority": "escalated",
                                      "escalation": "complaint"}
    conv = desk.store.conversation_hash(vid)
    assert (conv["priority"], conv["escalation"]) == ("escalated", "complaint")
    escalated = [f for _, f in desk.store.events(vid) if f["type"] == "escalated"]
    assert [(e["actor"], e["note"]) for e in escalated] == [("plain", "angry customer")]
    await desk.drain()
    [alert] = [m for (ch, _), m in desk.slack.messages.items() if ch == "C0SUPER"]
    assert "Escalation (complaint)" in alert["text"] and vid in alert["text"]
    assert "escalated this conversation (Complaint): angry customer" in thread(desk, card)[-1]
    [updated] = [m for (_, _), m in desk.slack.messages.items()
                 if not m.get("thread_ts") and f"Conversation {vid}" in json.dumps(m["blocks"])]
    assert "*Priority*\ncomplaint" in [f["text"] for f in updated["blocks"][1]["fields"]]
    status, data = await api(desk, "plain", "POST", f"/api/conversations/{vid}/escalate",
                             {"type": "panic"})
    assert status == 400 and "type" in data["error"]
    assert (await api(desk, "plain", "POST", "/api/conversations/v999/escalate",
                      {"type": "urgent"}))[0] == 404
    desk.store.close(vid, "test")
    status, data = await api(desk, "plain", "POST", f"/api/conversations/{vid}/escalate",
                             {"type": "urgent"})
    assert status == 409 and "closed" in data["error"]


async def test_notes_from_outside_the_campaign_are_refused_with_the_reason(desk: System
                                                                           ) -> None:
    vid, card = await open_conversation(desk, SALES, assignee="elsewhere")
    await write(desk, "plain", card, ";; I do not work here")
    [refusal] = ephemerals(desk, "plain")
    assert refusal == ("Your note was not saved: writing notes in sales (you do not serve it) "
                       "needs one of the roles ['admin', 'supervisor'].")
    assert not [f for _, f in desk.store.events(vid) if f["type"] == "note"]
    assert list(desk.store.contact_notes(desk.store.conversation_hash(vid)["contact"])) == []


async def test_file_refusals_say_what_is_missing(desk: System) -> None:
    _, card = await open_conversation(desk, assignee="plain")
    await write(desk, "plain", card, "", file=True)
    await write(desk, "plain", card, ";manual")
    assert ephemerals(desk, "plain") == [
        'Your message was not sent: sending files needs the "attachments" permission in '
        "Care."] * 2
    assert desk.twilio.messages == []
    await write(desk, "plain", card, "texto sí")  # text still goes
    assert [m["body"] for m in desk.twilio.messages] == ["texto sí"]


async def test_a_grant_holder_cannot_take_a_contact_from_another_campaigns_owner(
        desk: System) -> None:
    phone = "+525500000002"
    assert (await api(desk, "admin token", "PUT", f"/api/contacts/{phone}/owner",
                      {"type": "department", "id": "sales/team"}))[0] == 200
    for method, body in (("PUT", {"type": "department", "id": "care/front"}), ("DELETE", None)):
        status, data = await api(desk, "granted", method, f"/api/contacts/{phone}/owner", body)
        assert status == 403
        assert data["error"].startswith(f"contact {phone} is owned by department sales/team")
        assert '"assign owners" permission in sales' in data["error"]
    assert (await api(desk, "elsewhere", "PUT", f"/api/contacts/{phone}/owner",
                      {"type": "agent", "id": "granted"}))[0] == 200  # granted serves sales
    # now owned by an agent who serves care too: the care grant may replace that owner
    assert (await api(desk, "granted", "PUT", f"/api/contacts/{phone}/owner",
                      {"type": "department", "id": "care/front"}))[0] == 200
    audit = (await api(desk, "granted", "GET", f"/api/contacts/{phone}/audit"))[1]["audit"]
    assert [(a["actor"], a["new"]) for a in audit] == [
        ("admin:ops", "department:sales/team"), ("elsewhere", "agent:granted"),
        ("granted", "department:care/front")]


async def test_a_grant_set_through_the_api_counts_at_once(desk: System) -> None:
    phone = "+525500000003"
    body = {"type": "department", "id": "care/front"}
    status, data = await api(desk, "plain", "PUT", f"/api/contacts/{phone}/owner", body)
    assert status == 403 and '"assign owners" permission' in data["error"]
    assert (await api(desk, "admin token", "PUT", "/api/agents/plain/grants/care",
                      {"grants": ["assign_owners"]}))[0] == 200
    assert (await api(desk, "plain", "PUT", f"/api/contacts/{phone}/owner", body))[0] == 200
    status, data = await api(desk, "plain", "PUT", f"/api/contacts/{phone}/exclusive/sales",
                             {"agent": "granted"})
    assert status == 403 and '"assign owners" permission in sales' in data["error"]


async def test_bulk_owners_by_grant_check_every_contact(desk: System) -> None:
    free, taken = "+525500000004", "+525500000005"
    assert (await api(desk, "admin token", "PUT", f"/api/contacts/{taken}/owner",
                      {"type": "department", "id": "sales/team"}))[0] == 200
    body = {"contacts": [free, taken], "owner": {"type": "department", "id": "care/front"}}
    status, data = await api(desk, "granted", "POST", "/api/owners/bulk", body)
    assert status == 403 and data["error"].startswith(f"contact {taken} is owned by department")
    assert desk.store.contact_id(free) is None  # nothing written, not even the first contact
    body["contacts"] = [free]
    status, data = await api(desk, "granted", "POST", "/api/owners/bulk", body)
    assert status == 200 and data["updated"] == 1
