"""Contact owners (agent, department, unassigned; one or in bulk) and exclusive agents."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import ApiError, body, principal, services
from gateway.api.models import BulkOwner, Exclusive, Owner
from routing import actions


async def _one_owner(request: web.Request, owner: Owner) -> web.Response:
    svc, who, ref = services(request), await principal(request), request.match_info["contact"]
    changed = svc.done(await actions.set_owner(svc.ctx, who, [ref], owner.type, owner.id))
    if not changed.contacts[0]:
        raise ApiError(404, f"no contact {ref!r}")
    return web.json_response({"contact": changed.contacts[0], "owner": owner.model_dump()})


async def put_owner(request: web.Request) -> web.Response:
    return await _one_owner(request, await body(request, Owner))


async def delete_owner(request: web.Request) -> web.Response:
    return await _one_owner(request, Owner(type="unassigned"))


async def bulk_owner(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    req = await body(request, BulkOwner)
    changed = svc.done(await actions.set_owner(svc.ctx, who, req.contacts, req.owner.type,
                                               req.owner.id))
    results = [{"contact": ref, "id": cid, "ok": bool(cid)} | ({} if cid else
               {"error": "no such contact"})
               for ref, cid in zip(req.contacts, changed.contacts, strict=True)]
    return web.json_response({"updated": sum(bool(c) for c in changed.contacts),
                              "results": results})


async def _exclusive(request: web.Request, agent: str) -> web.Response:
    svc, who = services(request), await principal(request)
    ref, campaign = request.match_info["contact"], request.match_info["campaign"]
    changed = svc.done(await actions.set_exclusive(svc.ctx, who, ref, campaign, agent))
    return web.json_response({"contact": changed.contact, "campaign": campaign,
                              "exclusive_agent": agent or None})


async def put_exclusive(request: web.Request) -> web.Response:
    return await _exclusive(request, (await body(request, Exclusive)).agent)


async def delete_exclusive(request: web.Request) -> web.Response:
    return await _exclusive(request, "")


async def get_audit(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    ref = request.match_info["contact"]
    return web.json_response({"contact": ref,
                              "audit": await actions.contact_audit(svc.ctx, who, ref)})


async def get_contact(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    data = await actions.read_owners(svc.ctx, who, request.match_info["contact"])
    exclusive = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("exclusive:")}
    return web.json_response({
        "id": data["id"], "name": data.get("name", ""), "phone": data.get("phone", ""),
        "owner": {"type": data.get("owner_type") or "unassigned", "id": data.get("owner_id", "")},
        "exclusive_agents": exclusive,
    })
