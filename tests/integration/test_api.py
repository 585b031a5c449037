"""The API: authentication, permissions, validation, and each operation's effect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.api.openapi import document
from routing.config import Workspace
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System
from tests.routing_world import HELP, WORLD, where
from tests.signing import sms_form

TOKENS = {
    "admin": Principal("admin", "ops"),
    "carla": Principal("agent", "carla", agent="carla"),  # supervisor
    "ana": Principal("agent", "ana", agent="ana"),  # agent only
    "dora": Principal("agent", "dora", agent="dora"),  # auditor
    "shopbot": Principal("bot", "shopbot", campaign="shop"),
}


@pytest.fixture
def workspace() -> Workspace:
    return WORLD


@pytest.fixture
async def api(system: System) -> Api:
    for name, p in TOKENS.items():
        system.store.add_token(token_hash(f"tok-{name}"), json.dumps(p.to_json()))
    return Api(system)


class Api:
    def __init__(self, system: System) -> None:
        self.system = system

    async def call(self, method: str, path: str, who: str | None = "admin",
                   body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
        h = {"Authorization": f"Bearer tok-{who}"} if who else {}
        h |= headers or {}
        async with self.system.http.request(method, self.system.base + path, json=body,
                                            headers=h) as resp:
            return resp.status, await resp.json()


async def test_missing_or_unknown_token_is_401(api: Api) -> None:
    assert (await api.call("GET", "/api/agents/ana", who=None))[0] == 401
    status, data = await api.call("GET", "/api/agents/ana", who="nobody")
    assert status == 401 and "unknown or revoked token" in data["error"]


async def test_tokens_are_stored_hashed(api: Api) -> None:
    stored = api.system.store.redis.hgetall(api.system.store.keys.tokens())
    assert token_hash("tok-admin") in stored
    assert not any("tok-admin" in k or "tok-admin" in v for k, v in stored.items())


async def test_owner_set_read_and_cleared(api: Api) -> None:
    status, data = await api.call("PUT", "/api/contacts/+525512345678/owner",
                                  body={"type": "agent", "id": "bruno"})
    assert status == 200 and data["owner"] == {"type": "agent", "id": "bruno"}
    cid = data["contact"]
    assert (await api.call("GET", f"/api/contacts/{cid}"))[1]["owner"] == {
        "type": "agent", "id": "bruno"}
    assert (await api.call("DELETE", f"/api/contacts/{cid}/owner"))[0] == 200
    assert (await api.call("GET", "/api/contacts/+525512345678"))[1]["owner"]["type"] == \
        "unassigned"


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"type": "agent", "id": "zoe"}, 404, "no agent 'zoe'"),
    ({"type": "department", "id": "shop/nope"}, 404, "no department 'shop/nope'"),
    ({"type": "agent"}, 400, "needs an id"),
    ({"type": "robot", "id": "x"}, 400, "type:"),
    ({"type": "unassigned", "id": "ana"}, 400, "takes no id"),
])
async def test_bad_owner_is_4xx_and_changes_nothing(api: Api, body: dict, status: int,
                                                    message: str) -> None:
    before = api.system.snapshot()
    got, data = await api.call("PUT", "/api/contacts/+525512345678/owner", body=body)
    assert got == status and message in data["error"]
    assert api.system.snapshot() == before


async def test_bad_contact_reference_is_400(api: Api) -> None:
    status, data = await api.call("PUT", "/api/contacts/not-a-phone/owner",
                                  body={"type": "agent", "id": "ana"})
    assert status == 400 and "neither a contact id" in data["error"]
    assert (await api.call("PUT", "/api/contacts/c999/owner",
                           body={"type": "agent", "id": "ana"}))[0] == 404


async def test_non_json_body_is_415(api: Api) -> None:
    async with api.system.http.put(api.system.base + "/api/contacts/c1/owner", data="x",
                                   headers={"Authorization": "Bearer tok-admin"}) as resp:
        assert resp.status == 415


async def test_owner_assignment_roles_are_configurable_admin_always(api: Api) -> None:
    body = {"type": "agent", "id": "ana"}
    status, data = await api.call("PUT", "/api/contacts/+525512345678/owner", who="ana",
                                  body=body)
    assert status == 403 and "needs one of the roles" in data["error"]
    assert (await api.call("PUT", "/api/contacts/+525512345678/owner", who="carla",
                           body=body))[0] == 200  # supervisor is in the default owner_assigners
    assert (await api.call("PUT", "/api/contacts/+525512345678/owner", who="shopbot",
                           body=body))[0] == 403


async def test_bulk_owner_reports_each_contact(api: Api) -> None:
    status, data = await api.call("POST", "/api/owners/bulk", body={
        "contacts": ["+525500000001", "+525500000002", "c999"],
        "owner": {"type": "department", "id": "help/desk"}})
    assert status == 200 and data["updated"] == 2
    assert [r["ok"] for r in data["results"]] == [True, True, False]
    assert data["results"][2]["error"] == "no such contact"
    status, data = await api.call("POST", "/api/owners/bulk", body={
        "contacts": [], "owner": {"type": "unassigned"}})
    assert status == 400 and "contacts" in data["error"]


async def test_exclusive_agent_set_and_removed_and_routes(api: Api) -> None:
    sys = api.system
    status, data = await api.call("PUT", "/api/contacts/+525512345678/exclusive/help",
                                  body={"agent": "dora"})
    assert status == 200 and data["exclusive_agent"] == "dora"
    sys.store.redis.hset(sys.store.keys.agent("dora"), "presence", "online")
    await sys.post_twilio("/twilio/messages", sms_form("SM" + "1" * 32, "hola", to=HELP))
    [vid] = list(sys.store.redis.hvals(sys.store.keys.open))
    assert where(sys.store, vid) == "agent:dora"
    assert (await api.call("DELETE", "/api/contacts/+525512345678/exclusive/help"))[0] == 200
    assert (await api.call("GET", "/api/contacts/+525512345678"))[1]["exclusive_agents"] == {}


async def test_exclusive_agent_must_serve_the_campaign(api: Api) -> None:
    status, data = await api.call("PUT", "/api/contacts/+525512345678/exclusive/help",
                                  body={"agent": "bruno"})
    assert status == 422 and "does not serve campaign help" in data["error"]
    assert (await api.call("PUT", "/api/contacts/+525512345678/exclusive/nope",
                           body={"agent": "ana"}))[0] == 404


async def test_presence_from_api_takes_waiting_work(api: Api) -> None:
    sys = api.system
    await sys.post_twilio("/twilio/messages", sms_form("SM" + "2" * 32, "hola", to=HELP))
    [vid] = list(sys.store.redis.hvals(sys.store.keys.open))
    assert where(sys.store, vid) == "dept:help/desk"  # everyone starts offline
    status, data = await api.call("PUT", "/api/agents/dora/presence", who="dora",
                                  body={"presence": "online"})
    assert status == 200 and data["assigned"] == [vid] and data["open"] == 1
    await sys.drain()
    dms = [m for (ch, _), m in sys.slack.messages.items() if ch == "DU0DORA"]
    assert dms and "New conversation for you" in dms[0]["text"]


async def test_agent_read_and_presence_answer_as_the_readme_says(api: Api) -> None:
    """GET /api/agents/{agent}: ``open`` a count, ``inbox`` a list of conversation ids; the
    presence PUT: the same after the change, plus ``assigned``, the ids it gave them."""
    sys = api.system
    await api.call("PUT", "/api/contacts/+525512345678/owner",
                   body={"type": "agent", "id": "dora"})
    await sys.post_twilio("/twilio/messages", sms_form("SM" + "7" * 32, "hola", to=HELP))
    [vid] = list(sys.store.redis.hvals(sys.store.keys.open))
    assert where(sys.store, vid) == "inbox:dora"  # dora, the owner, is offline
    status, data = await api.call("GET", "/api/agents/dora", who="dora")
    assert status == 200
    assert data == {"id": "dora", "presence": "offline", "capacity": 3, "open": 0,
                    "inbox": [vid]}
    status, data = await api.call("PUT", "/api/agents/dora/presence", who="dora",
                                  body={"presence": "online"})
    assert status == 200
    assert data == {"id": "dora", "presence": "online", "capacity": 3, "open": 1,
                    "inbox": [], "assigned": [vid]}


async def test_presence_of_others_needs_a_supervisor(api: Api) -> None:
    assert (await api.call("PUT", "/api/agents/bruno/presence", who="ana",
                           body={"presence": "online"}))[0] == 403
    assert (await api.call("PUT", "/api/agents/bruno/presence", who="carla",
                           body={"presence": "online"}))[0] == 200
    status, data = await api.call("PUT", "/api/agents/bruno/presence", body={"presence": "busy"})
    assert status == 400 and "presence" in data["error"]
    assert (await api.call("PUT", "/api/agents/zoe/presence", body={"presence": "online"}))[0] \
        == 404


async def test_capacity_changes_at_run_time(api: Api) -> None:
    assert (await api.call("PUT", "/api/agents/ana/capacity", who="ana",
                           body={"capacity": 9}))[0] == 403
    status, data = await api.call("PUT", "/api/agents/ana/capacity", body={"capacity": 7})
    assert status == 200 and data["capacity"] == 7
    assert (await api.call("PUT", "/api/agents/ana/capacity", body={"capacity": -1}))[0] == 400


async def test_conversation_read_and_dry_run(api: Api) -> None:
    sys = api.system
    await api.call("PUT", "/api/contacts/+525512345678/owner",
                   body={"type": "agent", "id": "dora"})
    status, plan = await api.call(
        "GET", "/api/routing/dry-run?campaign=help&contact=%2B525512345678", who="dora")
    assert status == 200
    assert (plan["rule"], plan["action"], plan["target"]) == ("owner_agent", "inbox", "dora")
    assert plan["skipped"] == ["no exclusive agent in help"]
    await sys.post_twilio("/twilio/messages", sms_form("SM" + "3" * 32, "hola", to=HELP))
    [vid] = list(sys.store.redis.hvals(sys.store.keys.open))
    status, data = await api.call("GET", f"/api/conversations/{vid}", who="dora")
    assert status == 200 and data["conversation"]["status"] == "waiting"
    queued = next(e for e in data["events"] if e["type"] == "queued")
    assert queued["reason"] == plan["reason"]
    assert (await api.call("GET", f"/api/conversations/{vid}", who="ana"))[0] == 403
    assert (await api.call("GET", f"/api/conversations/{vid}", who="shopbot"))[0] == 403
    assert (await api.call("GET", "/api/routing/dry-run?campaign=help", who="dora"))[0] == 400
    assert (await api.call("GET", "/api/routing/dry-run?campaign=x&contact=c1"))[0] == 404


async def test_close_validates_typification_and_frees_capacity(api: Api) -> None:
    sys = api.system
    sys.store.redis.hset(sys.store.keys.agent("carla"), "presence", "online")  # capacity 1
    for i in (1, 2):
        await sys.post_twilio("/twilio/messages", sms_form(
            f"SM{i}" + "4" * 31, "hola", phone=f"+52550000000{i}", to=HELP))
    vids = sorted(sys.store.redis.hvals(sys.store.keys.open))
    assert [where(sys.store, v) for v in vids] == ["agent:carla", "dept:help/desk"]
    assert (await api.call("POST", f"/api/conversations/{vids[0]}/close", who="ana",
                           body={}))[0] == 403
    status, data = await api.call("POST", f"/api/conversations/{vids[0]}/close", who="carla",
                                  body={"note": "done"})
    assert status == 200 and data["assigned_next"] == [vids[1]]
    assert (await api.call("POST", f"/api/conversations/{vids[0]}/close", who="carla",
                           body={}))[0] == 409


async def test_openapi_lists_exactly_the_api_routes(api: Api) -> None:
    async with api.system.http.get(api.system.base + "/api/openapi.json") as resp:
        doc = await resp.json()
    assert doc == json.loads(json.dumps(document()))
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    from gateway.app import create_app

    for route in create_app(api.system.settings, WORLD).router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/") and path != "/api/openapi.json" and route.method != "HEAD":
            served.add((route.method, path))
    assert documented == served


async def test_every_api_refusal_is_json(api: Api) -> None:
    async with api.system.http.get(api.system.base + "/api/agents/ana") as resp:
        assert resp.status == 401 and resp.content_type == "application/json"
    async with api.system.http.get(api.system.base + "/api/nothing-here") as resp:
        assert resp.status == 404 and "error" in await resp.json()



async def test_contact_audit_is_readable_by_who_may(api: Api) -> None:
    """Issue 13: owner, exclusive-agent and data changes, who, when, old, new."""
    await api.call("PUT", "/api/contacts/+525512345678/owner", body={"type": "agent",
                                                                      "id": "bruno"})
    await api.call("PUT", "/api/contacts/+525512345678/owner",
                   body={"type": "department", "id": "shop/care"}, who="carla")
    await api.call("PUT", "/api/contacts/+525512345678/exclusive/help", body={"agent": "dora"})
    status, data = await api.call("GET", "/api/contacts/+525512345678/audit", who="dora")
    assert status == 200
    trail = [(a["actor"], a["field"], a["old"], a["new"]) for a in data["audit"]]
    assert trail == [("admin:ops", "owner", ":", "agent:bruno"),
                     ("carla", "owner", "agent:bruno", "department:shop/care"),
                     ("admin:ops", "exclusive:help", "", "dora")]
    assert all(float(a["at"]) > 0 for a in data["audit"])
    status, data = await api.call("GET", "/api/contacts/+525512345678/audit", who="ana")
    assert status == 403 and "audit trail" in data["error"]
    assert (await api.call("GET", "/api/contacts/+525599999999/audit"))[0] == 404
