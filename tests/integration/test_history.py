"""The attendance history (seed 000): who sees which contact and ticket, through the API.

Tickets are made with the store at chosen times (opened, assigned, closed days or hours ago),
then read over HTTP as each principal; one table holds the visibility rule.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from routing.config import Workspace, parse_config
from routing.permissions import Principal, token_hash
from routing.types import InboundMessage
from tests.integration.conftest import System

CARE, SALES = "+14155238886", "+14155550100"
H, D = 3600, 86400


def config(enabled: bool = True) -> Workspace:
    return parse_config({
        "history": {"enabled": enabled},
        "campaigns": [
            {"id": "care", "name": "Care", "channel": "whatsapp", "number": CARE,
             "slack_channel": "C0CARE", "departments": [{"id": "front"}]},
            {"id": "sales", "name": "Sales", "channel": "sms", "number": SALES,
             "slack_channel": "C0SALES", "departments": [{"id": "team"}]},
        ],
        "agents": [
            {"id": a, "name": a.title(), "slack_user": f"U0{a.upper()}", "presence": "online",
             "capacity": 100, "departments": depts, "roles": roles, "grants": grants}
            for a, depts, roles, grants in (
                ("ana", ["care/front", "sales/team"], ["agent"], {"care": ["history"]}),
                ("bruno", ["care/front", "sales/team"], ["agent"], {"care": ["history"]}),
                ("carla", ["care/front"], ["agent"], {}),
                ("adm", [], ["admin"], {}),
                ("aud", [], ["auditor"], {}),
            )],
    })


@pytest.fixture
def workspace(request: pytest.FixtureRequest) -> Workspace:
    return config(getattr(request, "param", True))


_sid = iter(range(10**6))


def ticket(system: System, phone: str, number: str, agent: str, closed_ago: float,
           opened_ago: float | None = None, text: str = "hola", name: str = "") -> str:
    """A conversation opened, taken by ``agent``, answered, and closed ``closed_ago`` seconds
    ago."""
    now = time.time()
    opened = now - (opened_ago if opened_ago is not None else closed_ago + 600)
    sms = number == SALES
    msg = InboundMessage(f"SM{next(_sid):032d}", "sms" if sms else "whatsapp", phone,
                         phone if sms else f"whatsapp:{phone}",
                         number if sms else f"whatsapp:{number}", text, profile_name=name)
    stored = system.store.inbound(msg, "sales" if sms else "care", "", now=opened)
    taken = system.store.move(stored.conversation, "test", "reassign", agent, "", now=opened + 60)
    assert taken.outcome == "moved"
    system.store.close(stored.conversation, agent, "Resolved", "", "", now=now - closed_ago)
    return stored.conversation


@pytest.fixture
def world(system: System) -> dict[str, str]:
    tokens = {"ana": Principal("agent", "ana", agent="ana"),
              "bruno": Principal("agent", "bruno", agent="bruno"),
              "carla": Principal("agent", "carla", agent="carla"),
              "adm": Principal("agent", "adm", agent="adm"),
              "aud": Principal("agent", "aud", agent="aud"),
              "admin": Principal("admin", "ops")}
    for name, p in tokens.items():
        system.store.add_token(token_hash(f"tok-{name}"), json.dumps(p.to_json()))
    return {
        "c1": ticket(system, "+525500000001", CARE, "ana", 4 * H, name="Lucía Peña"),
        "c1_bruno": ticket(system, "+525500000001", CARE, "bruno", 5 * H),
        "c1_sales": ticket(system, "+525500000001", SALES, "bruno", 5 * H),
        "c2": ticket(system, "+525500000002", CARE, "ana", 2 * H, name="Recent"),
        "c3": ticket(system, "+525500000003", CARE, "ana", 89 * D, name="Old"),
        "c4": ticket(system, "+525500000004", CARE, "ana", 91 * D, name="Too old"),
        "c5": ticket(system, "+525500000005", CARE, "bruno", 4 * H, name="Bruno's"),
        "c6": ticket(system, "+525500000006", SALES, "ana", 4 * H, name="Sales only"),
    }


async def get(system: System, path: str, who: str) -> tuple[int, Any]:
    async with system.http.get(system.base + path,
                               headers={"Authorization": f"Bearer tok-{who}"}) as resp:
        return resp.status, await resp.json()


def phones(data: dict[str, Any]) -> set[str]:
    return {c["phone"][-1] for c in data["contacts"]}


# who, as_agent -> the contacts listed (by the last digit of their phone), or the refusal
VISIBILITY = [
    # served, 4 h after close (1), 89 days (3); not 2 h (2), not 91 days (4), never served
    # (5), a campaign without the grant (6)
    ("ana", "", {"1", "3"}),
    ("bruno", "", {"1", "5"}),  # c1 through his own care ticket; his sales one has no grant
    ("carla", "", 403),  # no history grant anywhere
    ("adm", "", set()),  # an admin sees every campaign, but only contacts they served
    ("admin", "ana", {"1", "3"}),  # an admin token looks as ana
    ("aud", "ana", {"1", "3"}),  # so does an auditor
    ("ana", "bruno", 403),  # an agent may not
    ("admin", "", 400),  # a token with no agent must say whose history
    ("admin", "zoe", 404),
]


@pytest.mark.parametrize(("who", "as_agent", "expected"), VISIBILITY)
async def test_who_sees_which_contact(system: System, world: dict[str, str], who: str,
                                      as_agent: str, expected: set[str] | int) -> None:
    path = "/api/history/contacts" + (f"?as_agent={as_agent}" if as_agent else "")
    status, data = await get(system, path, who)
    if isinstance(expected, int):
        assert status == expected, data
        if expected == 403 and who == "carla":
            assert '"history" permission' in data["error"]
    else:
        assert status == 200, data
        assert phones(data) == expected


@pytest.mark.parametrize("workspace", [False], indirect=True)
async def test_the_workspace_switch_is_off_by_default_and_says_so(
        system: System, world: dict[str, str]) -> None:
    status, data = await get(system, "/api/history/contacts", "ana")
    assert status == 403 and "not enabled" in data["error"]
    assert config().history.enabled and not parse_config(
        {"campaigns": [{"id": "x", "channel": "sms", "number": SALES, "slack_channel": "C0X"}]}
    ).history.enabled


async def test_a_contact_shows_other_agents_tickets_only_in_permitted_campaigns(
        system: System, world: dict[str, str]) -> None:
    cid = system.store.conversation_hash(world["c1"])["contact"]
    status, data = await get(system, f"/api/history/contacts/{cid}", "ana")
    assert status == 200
    assert {t["id"] for t in data["tickets"]} == {world["c1"], world["c1_bruno"]}  # not sales
    assert data["contact"]["name"] == "Lucía Peña"
    status, data = await get(system, f"/api/history/contacts/{cid}?as_agent=adm", "admin")
    assert status == 404  # adm never served c1
    never = system.store.conversation_hash(world["c5"])["contact"]
    assert (await get(system, f"/api/history/contacts/{never}", "ana"))[0] == 404
    assert (await get(system, f"/api/tickets/{world['c1_sales']}", "ana"))[0] == 404
    assert (await get(system, f"/api/tickets/{world['c2']}", "ana"))[0] == 404  # 2 h ago


async def test_search_and_sort(system: System, world: dict[str, str]) -> None:
    for query, expected in (("lucia", {"1"}), ("PEÑA", {"1"}), ("old", {"3"}),
                            ("55 0000 0003", {"3"}), ("(55) 0000-0001", {"1"}),
                            ("+52 55 0000 0001", {"1"}), ("nadie", set())):
        status, data = await get(system, f"/api/history/contacts?q={query}", "ana")
        assert status == 200 and phones(data) == expected, query
    _, recent = await get(system, "/api/history/contacts", "ana")
    assert [c["name"] for c in recent["contacts"]] == ["Lucía Peña", "Old"]  # last first
    _, by_name = await get(system, "/api/history/contacts?sort=name", "ana")
    assert [c["name"] for c in by_name["contacts"]] == ["Lucía Peña", "Old"]
    assert (await get(system, "/api/history/contacts?sort=size", "ana"))[0] == 400


async def test_ticket_details(system: System, world: dict[str, str]) -> None:
    status, data = await get(system, f"/api/tickets/{world['c1_bruno']}", "ana")
    assert status == 200
    assert data["origin"] == "inbound" and data["assignees"] == ["bruno"]
    assert data["ticket"]["typification"] == "Resolved"
    assert data["durations"]["handling"] > 0 and data["times"]["closed"] > 0
    assert [m["body"] for m in data["messages"]] == ["hola"]


def home_opened(user: str) -> dict[str, Any]:
    return {"token": "legacy", "team_id": "T0001", "api_app_id": "A0001",
            "type": "event_callback", "event_id": f"EvHome{next(_sid)}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}",
                      "tab": "home", "event_ts": f"{time.time():.6f}"},
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}]}


def block_action(user: str, action: str, value: str, container: dict[str, Any]
                 ) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0001",
            "token": "legacy", "team": {"id": "T0001"}, "trigger_id": f"trig-{action}",
            "container": container,
            "actions": [{"action_id": action, "block_id": "b", "value": value,
                         "type": "button", "action_ts": "1"}]}


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


async def test_app_home_shows_the_history_and_opens_contacts_and_tickets(
        system: System, world: dict[str, str]) -> None:
    assert (await system.post_slack(home_opened("U0ANA"))).status == 200
    [published] = system.slack.calls_to("views.publish")
    assert published["user_id"] == "U0ANA" and published["view"]["type"] == "home"
    shown = texts(published["view"])
    assert "Lucía Peña" in shown and "Old" in shown
    assert "Recent" not in shown and "Too old" not in shown and "Sales only" not in shown
    assert "Bruno's" not in shown
    [open_c1] = [b["accessory"]["value"] for b in published["view"]["blocks"]
                 if "Lucía Peña" in json.dumps(b, ensure_ascii=False) and "accessory" in b]
    home = {"type": "view", "view_id": "VHOME"}
    status, _ = await system.interact(block_action("U0ANA", "rd_hist_contact", open_c1, home))
    assert status == 200
    [contact] = system.slack.calls_to("views.open")
    assert world["c1"] in texts(contact["view"]) and world["c1_bruno"] in texts(contact["view"])
    assert world["c1_sales"] not in texts(contact["view"])
    status, _ = await system.interact(block_action("U0ANA", "rd_hist_ticket", world["c1_bruno"],
                                                   {"type": "view", "view_id": "V1"}))
    [ticket] = system.slack.calls_to("views.push")
    assert "*Origin:* inbound" in texts(ticket["view"]) and "Bruno" in texts(ticket["view"])


async def test_app_home_search_sort_and_refusal(system: System, world: dict[str, str]) -> None:
    search = {"type": "view_submission", "user": {"id": "U0ANA"}, "api_app_id": "A0001",
              "token": "legacy", "team": {"id": "T0001"}, "trigger_id": "t",
              "view": {"id": "VS", "type": "modal", "callback_id": "rd_hist_search",
                       "hash": "h", "private_metadata": "",
                       "state": {"values": {"q": {"q": {"type": "plain_text_input",
                                                        "value": "pena"}}}}}}
    assert (await system.interact(search))[0] == 200
    shown = texts(system.slack.calls_to("views.publish")[-1]["view"])
    assert "Lucía Peña" in shown and "Old" not in shown and "1 contact(s)" in shown
    state = json.dumps({"page": 1, "q": "", "sort": "name"})
    await system.interact(block_action("U0ANA", "rd_hist_page", state,
                                       {"type": "view", "view_id": "VHOME"}))
    assert "by name" in texts(system.slack.calls_to("views.publish")[-1]["view"])
    await system.post_slack(home_opened("U0CARLA"))
    refused = system.slack.calls_to("views.publish")[-1]
    assert refused["user_id"] == "U0CARLA" and '\\"history\\" permission' in texts(
        refused["view"])
