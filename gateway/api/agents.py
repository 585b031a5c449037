"""Agent presence and capacity, read and changed at run time."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import ApiError, allow, body, decode, principal, services
from gateway.api.models import BulkGrants, Capacity, Grants, Presence
from routing.permissions import (
    effective_grants,
    may_manage_grants,
    may_read_agent,
    may_set_capacity,
    may_set_presence,
)


def _agent(request: web.Request) -> str:
    agent = request.match_info["agent"]
    if services(request).workspace.agent(agent) is None:
        raise ApiError(404, f"no agent {agent!r}")
    return agent


async def agent_view(request: web.Request, agent: str) -> dict:
    store = services(request).store
    state = decode(await store.agent_hash(agent))
    inbox = await store.redis.zrange(store.keys.inbox(agent), 0, -1)
    return {"id": agent, "presence": state.get("presence", "offline"),
            "capacity": int(state.get("capacity", 0)), "open": int(state.get("load", 0)),
            "inbox": [v.decode() for v in inbox]}


async def get_agent(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), _agent(request)
    allow(may_read_agent(who, svc.workspace, agent))
    return web.json_response(await agent_view(request, agent))


async def put_presence(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), _agent(request)
    allow(may_set_presence(who, svc.workspace, agent))
    req = await body(request, Presence)
    _, assigned = await svc.store.set_presence(agent, req.presence, who.actor)
    await_jobs(request, assigned)
    return web.json_response(await agent_view(request, agent) |
                             {"assigned": [v.decode() for v in assigned]})


async def put_capacity(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), _agent(request)
    allow(may_set_capacity(who, svc.workspace))
    req = await body(request, Capacity)
    _, assigned = await svc.store.set_capacity(agent, req.capacity, who.actor)
    await_jobs(request, assigned)
    return web.json_response(await agent_view(request, agent) |
                             {"assigned": [v.decode() for v in assigned]})


def await_jobs(request: web.Request, assigned: list) -> None:
    """Conversations just assigned: refresh their cards and alert the agent."""
    vids = [v.decode() if isinstance(v, bytes) else v for v in assigned]
    services(request).dispatch(*(f"{kind}:{v}" for v in vids for kind in ("card", "alert")))



async def _set_grants(request: web.Request, agents: list[str], campaign: str,
                      grants: list[str]) -> web.Response:
    svc, who = services(request), await principal(request)
    allow(may_manage_grants(who, svc.workspace))
    if svc.workspace.campaign(campaign) is None:
        raise ApiError(404, f"no campaign {campaign!r}")
    unknown = [a for a in agents if svc.workspace.agent(a) is None]
    if unknown:
        raise ApiError(404, f"no agent(s) {unknown}")
    await svc.store.set_grants(agents, campaign, grants, who.actor)
    return web.json_response({"agents": agents, "campaign": campaign, "grants": sorted(grants)})


async def get_grants(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), _agent(request)
    allow(may_read_agent(who, svc.workspace, agent))
    runtime = decode(await svc.store.grants(agent))
    return web.json_response({c.id: sorted(effective_grants(svc.workspace, agent, c.id, runtime))
                              for c in svc.workspace.campaigns})


async def put_grants(request: web.Request) -> web.Response:
    agent = _agent(request)
    req = await body(request, Grants)
    return await _set_grants(request, [agent], request.match_info["campaign"], req.grants)


async def bulk_grants(request: web.Request) -> web.Response:
    req = await body(request, BulkGrants)
    return await _set_grants(request, req.agents, req.campaign, req.grants)
