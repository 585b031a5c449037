"""A8: rich interactive content (Content API quick replies, list pickers, call to action): sent
by bots through the API and by agents from the thread inside the window; the customer's choice
is shown in the thread as a choice and passed to bots as structured data."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestServer

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.integration.test_bot import SECRET, Bot, bot  # noqa: F401 (the bot fixture)
from tests.signing import submit_view, whatsapp_form

SHOP = "+14155550100"
MENU = "HX" + "d" * 32


@pytest.fixture
def workspace(bot: tuple[Bot, TestServer], monkeypatch: pytest.MonkeyPatch  # noqa: F811
              ) -> Workspace:
    monkeypatch.setenv("SHOP_BOT_SECRET", SECRET)
    return parse_config({
        "campaigns": [{
            "id": "shop", "channel": "whatsapp", "number": SHOP, "slack_channel": "C0SHOP",
            "departments": [{"id": "sales"}], "default_department": "sales",
            "bot": {"url": str(bot[1].make_url("/bot")), "secret_env": "SHOP_BOT_SECRET"},
            "templates": [{"name": "menu", "content_sid": MENU, "kind": "list_picker",
                           "session_only": True, "body": "Hola {{1}}, elige una opción",
                           "variables": [{"name": "name", "example": "Lucía",
                                          "contact": "name"}]}]}],
        "agents": [{"id": "ana", "name": "Ana", "slack_user": "U0ANA",
                    "departments": ["shop/sales"], "presence": "online"}],
    })


def choice_form(n: int, **fields: str) -> dict[str, str]:
    return whatsapp_form(f"SM{n:032d}", fields.pop("Body", ""), to=f"whatsapp:{SHOP}") | fields


async def test_a_bot_sends_a_list_picker_and_receives_the_choice(
        system: System, bot: tuple[Bot, TestServer]) -> None:  # noqa: F811
    system.store.add_token(token_hash("bot"), json.dumps(
        Principal("bot", "b", campaign="shop").to_json()))
    assert (await system.post_twilio("/twilio/messages",
                                     choice_form(1, Body="hola"))).status == 200
    await system.drain()
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    async with system.http.post(
            system.base + f"/api/conversations/{vid}/messages",
            json={"template": "menu", "variables": ["Lucía"]},
            headers={"Authorization": "Bearer bot"}) as resp:
        assert resp.status == 202, await resp.text()
    await system.drain()
    sent = system.twilio.messages[-1]
    assert sent["content_sid"] == MENU and json.loads(sent["content_variables"]) == {
        "1": "Lucía"}
    # The customer picks an item: Twilio sends ListId/ListTitle (and the title as Body).
    await system.post_twilio("/twilio/messages", choice_form(
        2, Body="Envíos", ListId="shipping", ListTitle="Envíos"))
    await system.drain()
    received = bot[0].received[-1]["message"]
    assert received["choice"] == {"type": "list", "id": "shipping", "title": "Envíos"}
    [card] = [m for (ch, _), m in system.slack.messages.items()
              if ch == "C0SHOP" and not m.get("thread_ts")]
    texts = [m["text"] for m in system.slack.thread("C0SHOP", card["ts"])]
    assert "The customer chose a list item: *Envíos* (`shipping`)" in texts[-1]
    assert any("sent the template `menu`" in t for t in texts)


async def test_an_agent_sends_quick_replies_inside_the_window_and_sees_the_choice(
        system: System) -> None:
    # A button press without a Body still makes a message (its text is the button's).
    await system.post_twilio("/twilio/messages", choice_form(1, Body="hola"))
    await system.drain()
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    system.store.redis.hset(system.store.keys.conv(vid), mapping={
        "status": "assigned", "assignee": "ana", "bot": "0"})
    status, answer = await system.interact(submit_view(
        "U0ANA", "rd_template", vid, {"template": "menu", "var_1": "Lucía"}, ("template",)))
    assert status == 200 and not answer, answer
    await system.drain()
    assert system.twilio.messages[-1]["content_sid"] == MENU
    form = choice_form(2, ButtonPayload="yes", ButtonText="Sí, confirmo")
    form.pop("Body")
    assert (await system.post_twilio("/twilio/messages", form)).status == 200
    await system.drain()
    [card] = [m for (ch, _), m in system.slack.messages.items()
              if ch == "C0SHOP" and not m.get("thread_ts")]
    last = system.slack.thread("C0SHOP", card["ts"])[-1]["text"]
    assert "The customer chose a quick reply: *Sí, confirmo* (`yes`)" in last
