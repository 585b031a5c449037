"""The supervisors' view in Slack's App Home: queues, agents, unassigned and escalated
conversations above the history, with Assign (the card's modal) and a link to the thread; kept
live by the worker's sweeper (workers.homes)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from channels.slack import home
from tests.integration.conftest import System
from tests.signing import sms_form, whatsapp_form
from workers import homes
from workers.context import current

_n = itertools.count()


def home_opened(user: str) -> dict[str, Any]:
    return {"token": "legacy", "team_id": "T0001", "api_app_id": "A0001",
            "type": "event_callback", "event_id": f"EvSup{next(_n)}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}",
                      "tab": "home", "event_ts": f"{time.time():.6f}"}}


def published(system: System, user: str) -> dict[str, Any]:
    return [c for c in system.slack.calls_to("views.publish") if c["user_id"] == user][-1]["view"]


def headers(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


async def test_supervisors_see_the_board_above_their_history(system: System) -> None:
    system.store.set_presence("ana", "offline", "test")  # support-sms has nobody now
    assert (await system.post_twilio("/twilio/messages", sms_form(
        "SM" + "1" * 32, "hello", phone="+525500000101"))).status == 200
    await system.drain()
    assert (await system.post_slack(home_opened("U0ANA"))).status == 200
    view = published(system, "U0ANA")
    assert headers(view)[:4] == ["Supervisors' view", "Agents", "Unassigned", "Escalated"]
    assert headers(view)[-1] == "Attendance history"  # her own Home, below
    assert len(view["blocks"]) <= 100
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "*support-sms/general* · 1 waiting · oldest <!date^" in shown
    assert "*support-wa/general* · 0 waiting · nobody waiting" in shown
    assert "*Ana Ruiz* · offline · 0/5" in shown and "*Bruno Díaz* · offline · 0/3" in shown
    [assign] = [b["accessory"] for b in view["blocks"]
                if b.get("accessory", {}).get("action_id") == "rd_assign"]
    vid = assign["value"]
    assert "open thread" in shown and "https://slack.com/archives/C0SUPPORTSMS/p" in shown

    # Assign from the Home opens the card's Assign modal (a view's button: no channel).
    status, _ = await system.interact({
        "type": "block_actions", "user": {"id": "U0ANA"}, "api_app_id": "A0001",
        "token": "legacy", "team": {"id": "T0001"}, "trigger_id": "trig-home-assign",
        "container": {"type": "view", "view_id": "VHOME"},
        "actions": [{"action_id": "rd_assign", "block_id": "b", "value": vid,
                     "type": "button", "action_ts": "1"}]})
    assert status == 200
    [opened] = system.slack.calls_to("views.open")
    assert opened["view"]["callback_id"] == "rd_assign"
    assert opened["view"]["private_metadata"] == vid


async def test_agents_keep_their_own_home(system: System) -> None:
    assert (await system.post_slack(home_opened("U0BRUNO"))).status == 200
    assert headers(published(system, "U0BRUNO")) == ["Attendance history"]


async def test_the_worker_republishes_supervisors_homes_when_the_board_changes(
        system: System) -> None:
    context = current()  # the sweeper thread calls refresh: here, a thread too
    # The first pass publishes (no board was published yet); the next, with no change, not.
    assert await asyncio.to_thread(homes.refresh, context) == ["U0ANA"]
    system.store.redis.delete(system.store.keys.lock("homes"))
    assert await asyncio.to_thread(homes.refresh, context) == []
    publishes = len(system.slack.calls_to("views.publish"))

    system.store.set_presence("ana", "offline", "test")
    assert (await system.post_twilio("/twilio/messages", whatsapp_form(
        "SM" + "2" * 32, "hola", phone="+525500000102"))).status == 200
    await system.drain()
    system.store.redis.delete(system.store.keys.lock("homes"))
    assert await asyncio.to_thread(homes.refresh, context) == ["U0ANA"]
    assert len(system.slack.calls_to("views.publish")) == publishes + 1
    shown = json.dumps(published(system, "U0ANA")["blocks"], ensure_ascii=False)
    assert "*support-wa/general* · 1 waiting" in shown

    # Another worker's pass within the lease does nothing.
    assert await asyncio.to_thread(homes.refresh, context) == []


def test_the_board_stays_within_its_share_of_the_view() -> None:
    conv = {"id": "v1", "contact": "X", "channel": "sms", "campaign": "c", "status": "queued",
            "assignee": "", "escalation": "", "thread": ("", ""), "since": 1.0}
    data = {"queues": [{"department": f"c/d{i}", "waiting": 9, "escalated": 1, "oldest": 1.0,
                        "first": [conv] * 3} for i in range(30)],
            "agents": [], "unassigned": [], "escalated": [conv] * 5}
    board = home.supervisor_board(data, str)
    assert len(board) == home.BOARD_BLOCKS
    view = home.with_board(board, {"type": "home", "blocks": [{"type": "divider"}] * 90})
    assert len(view["blocks"]) == 100 and view["blocks"][0]["type"] == "header"
