"""The sample bot in examples/ against the real gateway: it answers, then hands off on a keyword."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from gateway.redis_launcher import free_port
from routing.config import Workspace
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.routing_world import world
from tests.signing import whatsapp_form

ROOT = Path(__file__).resolve().parents[2]
SECRET = "example-secret"


def load_example():
    spec = importlib.util.spec_from_file_location("example_bot", ROOT / "examples" / "bot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bot_port() -> int:
    return free_port()


@pytest.fixture
def workspace(bot_port: int, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SHOP_BOT_SECRET", SECRET)
    return world(f"http://127.0.0.1:{bot_port}/relaydesk")


@pytest.fixture
async def example_bot(system: System, bot_port: int) -> AsyncIterator[object]:
    system.store.add_token(token_hash("example-token"),
                           json.dumps(Principal("bot", "example", campaign="shop").to_json()))
    module = load_example()
    server = TestServer(module.make_app(system.base, "example-token", SECRET),
                        host="127.0.0.1", port=bot_port)
    await server.start_server()
    yield module
    await server.close()


async def test_example_bot_answers_then_hands_off(system: System, example_bot: object) -> None:
    system.store.redis.hset(system.store.keys.agent("ana"), "presence", "online")
    to = "whatsapp:+14155550100"
    await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "1" * 32, "hola", to=to))
    await system.drain()  # delivers to the bot, whose answer queues a send
    await system.drain()
    assert [m["body"] for m in system.twilio.messages] == [example_bot.GREETING]
    await system.post_twilio("/twilio/messages",
                             whatsapp_form("SM" + "2" * 32, "quiero un humano", to=to))
    await system.drain()
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    conv = system.store.conversation_hash(vid)
    assert conv["status"] == "assigned" and conv["assignee"] == "ana"
    notes = [f.get("note", "") for _, f in system.store.events(vid)]
    assert "the customer asked for a person: quiero un humano" in notes
