"""Issue 8, items 7 and 9: an ``Idempotency-Key`` is scoped to (caller, conversation,
operation) and a replay causes nothing; a bot's escalating handoff is announced to supervisors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.routing_world import _world
from tests.signing import whatsapp_form

SHOP_TO = "whatsapp:+14155550100"
SUPERVISORS = "C0SUPERVISORS"


@pytest.fixture
async def bot_url() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/bot", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/bot"))
    await server.close()


@pytest.fixture
def workspace(bot_url: str, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SHOP_BOT_SECRET", "s")
    return parse_config({**_world(bot_url), "supervisors_channel": SUPERVISORS})


@pytest.fixture
def bot_token(system: System) -> str:
    system.store.add_token(token_hash("bot"), json.dumps(
        Principal("bot", "b", campaign="shop").to_json()))
    return "bot"


async def call(system: System, path: str, body: Any, key: str = "") -> tuple[int, Any]:
    headers = {"Authorization": "Bearer bot"} | ({"Idempotency-Key": key} if key else {})
    async with system.http.post(system.base + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def customer(system: System, n: int, phone: str) -> str:
    resp = await system.post_twilio("/twilio/messages",
                                    whatsapp_form(f"SM{n:032d}", "hola", phone=phone,
                                                  to=SHOP_TO))
    assert resp.status == 200
    return system.store.redis.hget(system.store.keys.open,
                                   f"{system.store.contact_id(phone)}|{SHOP_TO}")


def effects(system: System) -> dict[str, int]:
    """What people can see in Slack, counted."""
    posts = system.slack.calls_to("chat.postMessage")
    return {
        "posts": len(posts),
        "supervisors": sum(p["channel"] == SUPERVISORS for p in posts),
        "dms": sum(p["channel"].startswith("D") for p in posts),
        "cards": len(system.slack.calls_to("chat.update")),
        "twilio": len(system.twilio.messages),
    }


async def test_a_bot_escalation_is_announced_to_supervisors_and_a_replay_causes_nothing(
        system: System, bot_token: str) -> None:
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    vid = await customer(system, 1, "+525512345678")
    await system.drain()
    body = {"target": {"type": "route"}, "escalation": "complaint", "note": "wants a refund"}
    first = await call(system, f"/api/conversations/{vid}/handoff", body, key="h1")
    assert first == (200, {"conversation": vid, "status": "assigned", "assignee": "bruno"})
    await system.drain()
    # Item 9: announced in the supervisors' channel like an escalation from the desk.
    [post] = [p for p in system.slack.calls_to("chat.postMessage")
              if p["channel"] == SUPERVISORS]
    assert "complaint" in post["text"].lower() and vid in post["text"]
    before = effects(system)
    assert before["dms"] == 1  # bruno was told the conversation is his

    pending = set(system.store.redis.zrange(system.store.keys.pending, 0, -1))
    again = await call(system, f"/api/conversations/{vid}/handoff", body, key="h1")
    assert again == first
    await system.services.idle()
    assert system.queue.count == 0  # a replay enqueues nothing ...
    assert set(system.store.redis.zrange(system.store.keys.pending, 0, -1)) <= pending
    await system.drain()
    assert effects(system) == before  # ... and nobody sees anything new
    assert [e["type"] for _, e in system.store.events(vid)].count("handoff") == 1


async def test_a_replayed_bot_message_is_sent_and_shown_once(system: System,
                                                             bot_token: str) -> None:
    vid = await customer(system, 1, "+525512345678")
    await system.drain()
    status, data = await call(system, f"/api/conversations/{vid}/messages", {"text": "hi"}, "k")
    assert status == 202
    await system.drain()
    before = effects(system)
    assert before["twilio"] == 1
    assert await call(system, f"/api/conversations/{vid}/messages", {"text": "hi"}, "k") == (
        200, {"message": data["message"], "duplicate": True})
    await system.drain()
    assert effects(system) == before


async def test_a_key_reused_on_another_conversation_is_a_new_call(system: System,
                                                                  bot_token: str) -> None:
    """Never a 200 that did nothing: the key belongs to (caller, conversation, operation)."""
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    one = await customer(system, 1, "+525512345678")
    two = await customer(system, 2, "+525587654321")
    assert one != two
    first = await call(system, f"/api/conversations/{one}/messages", {"text": "a"}, "same")
    second = await call(system, f"/api/conversations/{two}/messages", {"text": "b"}, "same")
    assert first[0] == second[0] == 202 and first[1]["message"] != second[1]["message"]
    # The same key on another operation of the same conversation is another call too.
    body = {"target": {"type": "route"}}
    assert (await call(system, f"/api/conversations/{one}/handoff", body, "same"))[1][
        "status"] == "assigned"
    assert (await call(system, f"/api/conversations/{two}/handoff", body, "same"))[1][
        "status"] == "assigned"
    await system.drain()
    bodies = sorted(m["body"] for m in system.twilio.messages)
    assert bodies == ["a", "b"]
