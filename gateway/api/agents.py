"""Agent presence, capacity and grants, read and changed at run time."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import allow, body, principal, services
from gateway.api.models import BulkGrants, Capacity, Grants, Presence
from routing import actions
from routing.actions.agents import known_agent
from routing.permissions import effective_grants, may_read_agent


async def agent_view(request: web.Request, agent: str) -> dict:
    store = services(request).store
    state = await store.agent_hash(agent)
    return {"id": agent, "presence": state.get("presence", "offline"),
            "capacity": int(state.get("capacity", 0)), "open": int(state.get("load", 0)),
            "inbox": await store.inbox(agent)}


async def get_agent(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    agent = known_agent(svc.ctx, request.match_info["agent"])
    allow(may_read_agent(who, svc.workspace, agent))
    return web.json_response(await agent_view(request, agent))


async def put_presence(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), request.match_info["agent"]
    req = await body(request, Presence)
    changed = svc.done(await actions.set_presence(svc.ctx, who, agent, req.presence))
    return web.json_response(await agent_view(request, agent) |
                             {"assigned": list(changed.assigned)})


async def put_capacity(request: web.Request) -> web.Response:
    svc, who, agent = services(request), await principal(request), request.match_info["agent"]
    req = await body(request, Capacity)
    changed = svc.done(await actions.set_capacity(svc.ctx, who, agent, req.capacity))
    return web.json_response(await agent_view(request, agent) |
                             {"assigned": list(changed.assigned)})


async def _set_grants(request: web.Request, agents: list[str], campaign: str,
                      grants: list[str]) -> web.Response:
    svc, who = services(request), await principal(request)
    await actions.set_grants(svc.ctx, who, agents, campaign, grants)
    return web.json_response({"agents": agents, "campaign": campaign, "grants": sorted(grants)})


async def get_grants(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    agent = known_agent(svc.ctx, request.match_info["agent"])
    allow(may_read_agent(who, svc.workspace, agent))
    runtime = await svc.store.grants(agent)
    return web.json_response({c.id: sorted(effective_grants(svc.workspace, agent, c.id, runtime))
                              for c in svc.workspace.campaigns})


async def put_grants(request: web.Request) -> web.Response:
    agent = known_agent(services(request).ctx, request.match_info["agent"])
    req = await body(request, Grants)
    return await _set_grants(request, [agent], request.match_info["campaign"], req.grants)


async def bulk_grants(request: web.Request) -> web.Response:
    req = await body(request, BulkGrants)
    return await _set_grants(request, req.agents, req.campaign, req.grants)
