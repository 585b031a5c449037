"""The bot: signed webhook deliveries with retries, answers through the API, and handoff."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.bot.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from routing.config import Workspace
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.routing_world import world
from tests.signing import whatsapp_form

SECRET = "shop-bot-secret"
SHOP_TO = "whatsapp:+14155550100"


class Bot:
    """A bot that checks every delivery's signature; it can be told to fail."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.fail = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, request.headers.get(TIMESTAMP_HEADER, ""), body,
                      request.headers.get(SIGNATURE_HEADER, "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail:
            self.fail -= 1
            return web.Response(status=503)
        self.received.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
async def bot() -> AsyncIterator[tuple[Bot, TestServer]]:
    b = Bot()
    app = web.Application()
    app.router.add_post("/bot", b.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield b, server
    await server.close()


@pytest.fixture
def workspace(bot: tuple[Bot, TestServer], monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SHOP_BOT_SECRET", SECRET)
    return world(str(bot[1].make_url("/bot")))


@pytest.fixture
def tokens(system: System) -> None:
    for token, p in {"bot": Principal("bot", "b", campaign="shop"),
                     "otherbot": Principal("bot", "o", campaign="help"),
                     "ana": Principal("agent", "ana", agent="ana")}.items():
        system.store.add_token(token_hash(token), json.dumps(p.to_json()))


async def call(system: System, method: str, path: str, token: str = "bot",
               body: Any = None, key: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} | ({"Idempotency-Key": key} if key else {})
    async with system.http.request(method, system.base + path, json=body,
                                   headers=headers) as resp:
        return resp.status, await resp.json()


async def customer(system: System, n: int, text: str = "hola") -> str:
    resp = await system.post_twilio("/twilio/messages",
                                    whatsapp_form(f"SM{n:032d}", text, to=SHOP_TO))
    assert resp.status == 200
    await system.drain()
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    return vid


def card_text(system: System) -> str:
    [card] = [m for (ch, _), m in system.slack.messages.items()
              if ch == "C0SHOP" and not m.get("thread_ts")]
    return card["text"]


async def test_bot_receives_signed_messages_and_the_card_says_so(
        system: System, bot: tuple[Bot, TestServer]) -> None:
    vid = await customer(system, 1, "quiero comprar")
    await customer(system, 2, "¿precio?")
    b = bot[0]
    assert b.bad_signatures == 0
    assert [d["message"]["text"] for d in b.received] == ["quiero comprar", "¿precio?"]
    assert b.received[0]["conversation"] == {"id": vid, "campaign": "shop",
                                             "channel": "whatsapp", "status": "bot"}
    assert b.received[0]["contact"]["phone"] == "+525512345678"
    assert "bot is answering" in card_text(system)


async def test_failed_delivery_is_retried_and_delivered_once(
        system: System, bot: tuple[Bot, TestServer]) -> None:
    b = bot[0]
    b.fail = 1
    await customer(system, 1)
    assert b.received == [] and system.queue.scheduled_job_registry.count == 1
    for job_id in system.queue.scheduled_job_registry.get_job_ids():  # RQ's retry, now
        system.queue.enqueue_job(system.queue.fetch_job(job_id))
    await system.drain()
    await customer(system, 2)
    assert [d["message"]["id"] for d in b.received] == ["m1", "m2"]


async def test_bot_answers_through_the_api(system: System, tokens: None) -> None:
    vid = await customer(system, 1)
    status, data = await call(system, "POST", f"/api/conversations/{vid}/messages",
                              body={"text": "¡Hola! Soy el bot."}, key="k1")
    assert status == 202
    again = await call(system, "POST", f"/api/conversations/{vid}/messages",
                       body={"text": "¡Hola! Soy el bot."}, key="k1")
    assert again == (200, {"message": data["message"], "duplicate": True})
    await system.drain()
    assert [m["body"] for m in system.twilio.messages] == ["¡Hola! Soy el bot."]
    replies = [m["text"] for (ch, _), m in system.slack.messages.items()
               if ch == "C0SHOP" and m.get("thread_ts")]
    assert ":robot_face: *Bot:* ¡Hola! Soy el bot." in replies
    assert (await call(system, "POST", f"/api/conversations/{vid}/messages", token="otherbot",
                       body={"text": "x"}))[0] == 403
    assert (await call(system, "POST", f"/api/conversations/{vid}/messages", token="ana",
                       body={"text": "x"}))[0] == 403
    assert (await call(system, "POST", f"/api/conversations/{vid}/messages",
                       body={"text": ""}))[0] == 400


async def test_handoff_is_idempotent_and_stops_bot_deliveries(
        system: System, tokens: None, bot: tuple[Bot, TestServer]) -> None:
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    vid = await customer(system, 1)
    body = {"target": {"type": "route"}, "escalation": "complaint", "note": "wants a human"}
    first = await call(system, "POST", f"/api/conversations/{vid}/handoff", body=body, key="h1")
    again = await call(system, "POST", f"/api/conversations/{vid}/handoff", body=body, key="h1")
    assert first == again == (200, {"conversation": vid, "status": "assigned",
                                    "assignee": "bruno"})
    status, data = await call(system, "POST", f"/api/conversations/{vid}/handoff", body=body)
    assert status == 409 and "does not hold" in data["error"]
    events = [dict(f)
              for _, f in system.store.events(vid)]
    assert [e["type"] for e in events].count("handoff") == 1
    assigned = [e for e in events if e["type"] == "assigned"][-1]
    assert assigned["rule"] == "default_department"
    assert "bot skipped (handoff)" in assigned["skipped"]
    conv = system.store.conversation_hash(vid)
    assert conv["priority"] == "escalated" and conv["escalation"] == "complaint"
    await system.drain()
    text = card_text(system)
    assert "assigned · bruno" in text and "bot is answering" not in text
    await customer(system, 2, "¿sigue ahí?")
    assert len(bot[0].received) == 1  # the bot no longer gets the conversation


@pytest.mark.parametrize(("target", "status", "message"), [
    ({"type": "agent", "id": "dora"}, 422, "does not serve campaign shop"),
    ({"type": "agent", "id": "zoe"}, 404, "no agent"),
    ({"type": "department", "id": "desk"}, 404, "no department 'desk' in campaign shop"),
    ({"type": "agent"}, 400, "needs an id"),
])
async def test_bad_handoff_targets_are_refused(system: System, tokens: None, target: dict,
                                               status: int, message: str) -> None:
    vid = await customer(system, 1)
    got, data = await call(system, "POST", f"/api/conversations/{vid}/handoff",
                           body={"target": target})
    assert got == status and message in data["error"]
    assert system.store.conversation_hash(vid)["status"] == "bot"


async def test_handoff_to_offline_agent_waits_in_their_inbox(system: System,
                                                             tokens: None) -> None:
    vid = await customer(system, 1)
    status, data = await call(system, "POST", f"/api/conversations/{vid}/handoff",
                              body={"target": {"type": "agent", "id": "ana"}})
    assert status == 200 and data["status"] == "waiting"
    assert system.store.redis.zrange(system.store.keys.inbox("ana"), 0, -1) == [vid]


@pytest.mark.parametrize("dept", ["care", "shop/care"])
async def test_handoff_takes_the_department_bare_or_qualified(system: System, tokens: None,
                                                               dept: str) -> None:
    """Issue 13: one department id format; the campaign is implied by the conversation."""
    vid = await customer(system, 1)
    status, data = await call(system, "POST", f"/api/conversations/{vid}/handoff",
                              body={"target": {"type": "department", "id": dept}})
    assert status == 200 and data["status"] == "queued"  # nobody of shop/care is online
    assert system.store.conversation_hash(vid)["department"] == "care"
    got, data = await call(system, "POST", f"/api/conversations/{vid}/handoff",
                           body={"target": {"type": "department", "id": dept}})
    assert got == 409  # already handed off: the bot no longer holds it


async def test_handoff_to_another_campaigns_department_is_404(system: System,
                                                              tokens: None) -> None:
    vid = await customer(system, 1)
    status, data = await call(system, "POST", f"/api/conversations/{vid}/handoff",
                              body={"target": {"type": "department", "id": "help/desk"}})
    assert status == 404 and "no department 'help/desk' in campaign shop" in data["error"]
