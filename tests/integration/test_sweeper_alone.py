"""Every effect is marked by the script that causes it: with enqueueing switched off in the
gateway and in the workers, the sweeper alone completes the effect of every action (API, Slack
desk, thread commands, bot calls, Twilio callbacks, reminders).

Each step below is one action followed by what a person would see once its work is done. The
gateway's and the workers' enqueues are no-ops here; the only way a job runs is the sweeper
finding the mark. Removing any ``mark(...)`` from a script makes the step that needs it fail.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.signing import submit_view, thread_reply_event, whatsapp_form
from workers.context import current
from workers.dispatch import Dispatcher
from workers.jobs import remind_waiting
from workers.sweeper import sweep_once

CARE = "+14155238886"
SHOP = "+14155550100"
CUSTOMER, OTHER, BUYER = "+525512345678", "+525587654321", "+525511112222"


class NoEnqueue:
    """A dispatcher that drops every request: only the sweeper enqueues."""

    def enqueue(self, *members: str) -> None:
        pass


@pytest.fixture
async def bot_url() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/bot", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield received, str(server.make_url("/bot"))
    await server.close()


@pytest.fixture
def workspace(bot_url: tuple[list, str], monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SHOP_BOT_SECRET", "shop-secret")
    return parse_config({
        "supervisors_channel": "C0SUPER",
        "campaigns": [
            {"id": "care", "name": "Care", "channel": "whatsapp", "number": CARE, "entry": True,
             "slack_channel": "C0CARE", "departments": [{"id": "front"}],
             "default_department": "front", "canned": {"greet": "¡Hola! ¿En qué te ayudo?"},
             "typifications": [{"name": "Resolved"}]},
            {"id": "sales", "name": "Sales", "channel": "whatsapp", "number": CARE,
             "slack_channel": "C0SALES", "departments": [{"id": "team"}],
             "default_department": "team", "typifications": [{"name": "Sold"}]},
            {"id": "shop", "name": "Shop", "channel": "whatsapp", "number": SHOP,
             "slack_channel": "C0SHOP", "departments": [{"id": "desk"}],
             "default_department": "desk",
             "bot": {"url": bot_url[1], "secret_env": "SHOP_BOT_SECRET"}},
        ],
        "agents": [
            {"id": "ana", "name": "Ana", "slack_user": "U0ANA", "departments": ["care/front"],
             "presence": "online", "capacity": 3, "grants": {"care": ["edit_contact"]}},
            {"id": "bruno", "name": "Bruno", "slack_user": "U0BRUNO",
             "departments": ["care/front"]},
            {"id": "sofia", "name": "Sofía", "slack_user": "U0SOFIA",
             "departments": ["care/front"], "roles": ["supervisor"], "capacity": 0},
            {"id": "carla", "name": "Carla", "slack_user": "U0CARLA",
             "departments": ["sales/team"], "presence": "online"},
            {"id": "dora", "name": "Dora", "slack_user": "U0DORA", "departments": ["shop/desk"],
             "presence": "online"},
        ],
    })


class Desk:
    """The system with enqueueing switched off, and what a person would look at."""

    def __init__(self, system: System) -> None:
        self.s = system
        self.sweeper_dispatcher = Dispatcher(system.queue.connection, system.settings.rq_queue)
        for token, p in {"admin": Principal("admin", "ops"),
                         "bot": Principal("bot", "b", campaign="shop")}.items():
            system.store.add_token(token_hash(token), json.dumps(p.to_json()))

    async def settle(self) -> None:
        """Let the sweeper (grace 0) find every mark and the worker run its job, until no work
        is left."""
        pending = self.s.store.keys.pending
        for _ in range(20):
            await self.s.services.idle()
            sweep_once(self.s.store, self.sweeper_dispatcher, grace=0)
            await self.s.drain()
            if not self.s.store.redis.zcard(pending):
                return
        raise AssertionError(f"work left: {self.s.store.redis.zrange(pending, 0, -1)}")

    async def customer(self, sid: int, text: str, phone: str = CUSTOMER, to: str = CARE) -> None:
        form = whatsapp_form(f"SM{sid:032d}", text, phone=phone, to=f"whatsapp:{to}")
        assert (await self.s.post_twilio("/twilio/messages", form)).status == 200

    async def api(self, method: str, path: str, body: Any = None, token: str = "admin") -> Any:
        async with self.s.http.request(method, self.s.base + path, json=body,
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()

    async def submit(self, user: str, callback: str, vid: str, fields: dict[str, str],
                     selects: tuple[str, ...] = ()) -> Any:
        status, answer = await self.s.interact(submit_view(user, callback, vid, fields, selects))
        assert status == 200
        return answer

    def conversation(self, phone: str, to: str = CARE) -> str:
        store = self.s.store
        cid = store.redis.hget(store.keys.ident, phone)
        return store.redis.hget(store.keys.open, f"{cid}|whatsapp:{to}")

    def card(self, channel: str, vid: str) -> dict[str, Any]:
        [card] = [m for (ch, _), m in self.s.slack.messages.items()
                  if ch == channel and not m.get("thread_ts") and f"Conversation {vid}" in
                  json.dumps(m.get("blocks"))]
        return card

    def thread(self, channel: str, vid: str) -> list[str]:
        card = self.card(channel, vid)
        return [m["text"] for m in self.s.slack.thread(channel, card["ts"])]

    def dms(self, user: str) -> list[str]:
        return [m["text"] for (ch, _), m in self.s.slack.messages.items() if ch == f"D{user}"]

    def posts(self, channel: str) -> list[str]:
        return [m["text"] for (ch, _), m in self.s.slack.messages.items() if ch == channel]

    def sent(self) -> list[str]:
        return [m["body"] for m in self.s.twilio.messages]


@pytest.fixture
def desk(system: System, monkeypatch: pytest.MonkeyPatch) -> Desk:
    monkeypatch.setattr(system.services, "dispatch", lambda *members: None)
    monkeypatch.setattr(current(), "dispatcher", NoEnqueue())
    return Desk(system)


async def test_the_sweeper_alone_completes_every_action(
        desk: Desk, bot_url: tuple[list[dict[str, Any]], str]) -> None:
    s = desk.s

    # Inbound: a card, the message in its thread, the assignee's DM.
    await desk.customer(1, "hola")
    await desk.settle()
    vid = desk.conversation(CUSTOMER)
    assert desk.thread("C0CARE", vid) == ["hola"]
    assert any("New conversation for you" in d for d in desk.dms("U0ANA"))
    card = desk.card("C0CARE", vid)

    # A thread reply: sent to the customer, with its status shown on it.
    await s.post_slack(thread_reply_event("Ev1", "C0CARE", card["ts"], "U0ANA", "buenas"))
    await desk.settle()
    assert desk.sent() == ["buenas"]
    reply_ts = s.slack.calls_to("reactions.add")[0]["timestamp"]
    assert s.slack.reactions("C0CARE", reply_ts)

    # A Twilio status callback: the reaction follows.
    await s.twilio.send_status(s.twilio.messages[0]["sid"], "read")
    await desk.settle()
    assert s.slack.reactions("C0CARE", reply_ts) == ["eyes"]

    # A saved response (;key).
    await s.post_slack(thread_reply_event("Ev2", "C0CARE", card["ts"], "U0ANA", ";greet"))
    await desk.settle()
    assert desk.sent()[-1] == "¡Hola! ¿En qué te ayudo?"

    # Escalate (desk): a notice in the thread, the supervisors told, the card updated.
    await desk.submit("U0ANA", "rd_escalate", vid, {"type": "complaint", "note": "molesto"},
                      ("type",))
    await desk.settle()
    assert "escalated this conversation (Complaint): molesto" in desk.thread("C0CARE", vid)[-1]
    assert any("Escalation (complaint)" in p for p in desk.posts("C0SUPER"))
    assert "complaint" in json.dumps(desk.card("C0CARE", vid)["blocks"])

    # Contact edit (desk, confirmed): a notice, and the card shows the new name.
    answer = await desk.submit("U0ANA", "rd_contact", vid, {"name": "Lucía Pérez",
                                                           "phone": CUSTOMER})
    await desk.submit("U0ANA", "rd_contact_confirm", answer["view"]["private_metadata"], {})
    await desk.settle()
    assert "edited the contact (name)" in desk.thread("C0CARE", vid)[-1]
    assert "Lucía Pérez" in desk.card("C0CARE", vid)["text"]

    # Owner (API): the card shows it.
    await desk.api("PUT", f"/api/contacts/{CUSTOMER}/owner", {"type": "agent", "id": "ana"})
    await desk.settle()
    assert "*Owner*\\nAna" in json.dumps(desk.card("C0CARE", vid)["blocks"])

    # Presence (API) and a reassignment by a supervisor (desk): notice, card, DM.
    await desk.api("PUT", "/api/agents/bruno/presence", {"presence": "online"})
    await desk.submit("U0SOFIA", "rd_assign", vid, {"agent": "bruno", "note": "cubre"},
                      ("agent",))
    await desk.settle()
    assert "assigned this conversation to Bruno (was Ana): cubre" in desk.thread("C0CARE",
                                                                                 vid)[-1]
    assert "Bruno" in desk.card("C0CARE", vid)["text"]
    assert any("New conversation for you" in d for d in desk.dms("U0BRUNO"))

    # Away (slash command), then the customer writes: a DM to the away assignee.
    assert (await s.slash("U0BRUNO", "away"))[0] == 200
    await desk.customer(2, "¿sigues ahí?")
    await desk.settle()
    assert any("wrote while you are away" in d for d in desk.dms("U0BRUNO"))

    # A reminder, marked by the sweeper's periodic pass.
    assert await asyncio.to_thread(remind_waiting, current(), time.time() + 11 * 60) == [vid]
    await desk.settle()
    assert any("has waited" in d for d in desk.dms("U0BRUNO"))

    # Transfer to an agent (desk): notice, card, DM.
    await desk.api("PUT", "/api/agents/bruno/presence", {"presence": "online"})
    await desk.submit("U0BRUNO", "rd_transfer", vid, {"target": "agent:ana", "note": "tuyo"},
                      ("target",))
    await desk.settle()
    assert "transferred this conversation to Ana: tuyo" in desk.thread("C0CARE", vid)[-1]
    assert "Ana" in desk.card("C0CARE", vid)["text"]

    # Transfer to a campaign (desk): the notice in the old thread, a new card and thread.
    await desk.submit("U0ANA", "rd_transfer", vid, {"target": "campaign:sales", "note": "compra"},
                      ("target",))
    await desk.settle()
    assert "transferred this conversation to campaign Sales: compra" in desk.thread("C0CARE",
                                                                                    vid)[-1]
    assert "Transferred from Care" in desk.thread("C0SALES", vid)[0]
    assert any("New conversation for you" in d for d in desk.dms("U0CARLA"))

    # Close (desk): a notice, and the card shows it closed.
    await desk.submit("U0CARLA", "rd_close", vid, {"typification": "Sold|"}, ("typification",))
    await desk.settle()
    assert "closed this conversation: Sold." in desk.thread("C0SALES", vid)[-1]
    assert "closed" in desk.card("C0SALES", vid)["text"]

    # Capacity (API): a conversation waiting in the queue is taken when capacity frees.
    await desk.api("PUT", "/api/agents/ana/capacity", {"capacity": 0})
    await desk.api("PUT", "/api/agents/bruno/capacity", {"capacity": 0})
    await desk.customer(3, "otra consulta", phone=OTHER)
    await desk.settle()
    queued = desk.conversation(OTHER)
    assert "waiting in queue" in desk.card("C0CARE", queued)["text"]
    await desk.api("PUT", "/api/agents/ana/capacity", {"capacity": 3})
    await desk.settle()
    assert "Ana" in desk.card("C0CARE", queued)["text"]

    # A send Twilio refuses for good: the agent is told in the thread.
    s.twilio.fail_next(400, 21211, "Invalid 'To' Phone Number")
    card = desk.card("C0CARE", queued)
    await s.post_slack(thread_reply_event("Ev3", "C0CARE", card["ts"], "U0ANA", "¿me lees?"))
    await desk.settle()
    assert any("was not delivered" in t for t in desk.thread("C0CARE", queued))

    # The bot: a delivery, its answer (Twilio and the thread), and a handoff with escalation
    # (card, supervisors, the assignee's DM).
    received, _ = bot_url
    await desk.customer(4, "quiero comprar", phone=BUYER, to=SHOP)
    await desk.settle()
    shop = desk.conversation(BUYER, SHOP)
    assert [d["message"]["text"] for d in received] == ["quiero comprar"]
    await desk.api("POST", f"/api/conversations/{shop}/messages", {"text": "¿qué modelo?"},
                   token="bot")
    await desk.settle()
    assert desk.sent()[-1] == "¿qué modelo?"
    assert "¿qué modelo?" in desk.thread("C0SHOP", shop)[-1]
    await desk.api("POST", f"/api/conversations/{shop}/handoff",
                   {"target": {"type": "route"}, "escalation": "complaint", "note": "urgente"},
                   token="bot")
    await desk.settle()
    assert "Dora" in desk.card("C0SHOP", shop)["text"]
    assert sum("Escalation (complaint)" in p for p in desk.posts("C0SUPER")) == 2
    assert any("New conversation for you" in d for d in desk.dms("U0DORA"))

    # A handoff nobody can take now: the card says it waits in the queue; when Dora frees up
    # (she closes the first), she takes it.
    await desk.customer(5, "otra compra", phone=OTHER, to=SHOP)
    await desk.settle()
    second = desk.conversation(OTHER, SHOP)
    await desk.api("PUT", "/api/agents/dora/capacity", {"capacity": 1})
    await desk.api("POST", f"/api/conversations/{second}/handoff",
                   {"target": {"type": "department", "id": "desk"}}, token="bot")
    await desk.settle()
    assert "waiting in queue" in desk.card("C0SHOP", second)["text"]
    await desk.api("POST", f"/api/conversations/{shop}/close", {"note": "listo"})
    await desk.settle()
    assert "Dora" in desk.card("C0SHOP", second)["text"]
