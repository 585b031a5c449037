"""Contact owners (agent, department, unassigned; one or in bulk) and exclusive agents."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import ApiError, allow, body, contact_ref, decode, principal, services
from gateway.api.models import BulkOwner, Exclusive, Owner
from routing.config import Workspace, serves
from routing.permissions import may_assign_owners


def check_owner(ws: Workspace, owner: Owner) -> None:
    if owner.type == "agent" and ws.agent(owner.id) is None:
        raise ApiError(404, f"no agent {owner.id!r}")
    if owner.type == "department":
        campaign_id, _, dept = owner.id.partition("/")
        campaign = ws.campaign(campaign_id)
        if campaign is None or dept not in {d.id for d in campaign.departments}:
            raise ApiError(404, f"no department {owner.id!r} (write it as campaign/department)")


async def _set_owner(request: web.Request, refs: list[str], owner: Owner) -> list[str]:
    svc, who = services(request), await principal(request)
    allow(may_assign_owners(who, svc.workspace))
    check_owner(svc.workspace, owner)
    ids = await svc.store.set_owner([contact_ref(r) for r in refs], owner.type
                                    if owner.type != "unassigned" else "", owner.id, who.actor)
    return [i.decode() for i in ids]


async def put_owner(request: web.Request) -> web.Response:
    owner = await body(request, Owner)
    [cid] = await _set_owner(request, [request.match_info["contact"]], owner)
    if not cid:
        raise ApiError(404, f"no contact {request.match_info['contact']!r}")
    return web.json_response({"contact": cid, "owner": owner.model_dump()})


async def delete_owner(request: web.Request) -> web.Response:
    [cid] = await _set_owner(request, [request.match_info["contact"]], Owner(type="unassigned"))
    if not cid:
        raise ApiError(404, f"no contact {request.match_info['contact']!r}")
    return web.json_response({"contact": cid, "owner": {"type": "unassigned", "id": ""}})


async def bulk_owner(request: web.Request) -> web.Response:
    req = await body(request, BulkOwner)
    ids = await _set_owner(request, req.contacts, req.owner)
    results = [{"contact": ref, "id": cid, "ok": bool(cid)} | ({} if cid else
               {"error": "no such contact"}) for ref, cid in zip(req.contacts, ids, strict=True)]
    return web.json_response({"updated": sum(bool(c) for c in ids), "results": results})


async def _exclusive(request: web.Request, agent: str) -> web.Response:
    svc, who = services(request), await principal(request)
    allow(may_assign_owners(who, svc.workspace))
    campaign = request.match_info["campaign"]
    if svc.workspace.campaign(campaign) is None:
        raise ApiError(404, f"no campaign {campaign!r}")
    if agent:
        if svc.workspace.agent(agent) is None:
            raise ApiError(404, f"no agent {agent!r}")
        if not serves(svc.workspace.agent(agent), campaign):
            raise ApiError(422, f"agent {agent} does not serve campaign {campaign}")
    cid = (await svc.store.set_exclusive(contact_ref(request.match_info["contact"]), campaign,
                                         agent, who.actor)).decode()
    if not cid:
        raise ApiError(404, f"no contact {request.match_info['contact']!r}")
    return web.json_response({"contact": cid, "campaign": campaign,
                              "exclusive_agent": agent or None})


async def put_exclusive(request: web.Request) -> web.Response:
    return await _exclusive(request, (await body(request, Exclusive)).agent)


async def delete_exclusive(request: web.Request) -> web.Response:
    return await _exclusive(request, "")


async def get_contact(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    allow(may_assign_owners(who, svc.workspace))
    ref = contact_ref(request.match_info["contact"])
    cid = ref if ref.startswith("c") else (await svc.store.redis.hget(svc.store.keys.ident, ref))
    cid = cid.decode() if isinstance(cid, bytes) else cid
    data = decode(await svc.store.contact_hash(cid)) if cid else {}
    if not data:
        raise ApiError(404, f"no contact {request.match_info['contact']!r}")
    exclusive = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("exclusive:")}
    return web.json_response({
        "id": data["id"], "name": data.get("name", ""), "phone": data.get("phone", ""),
        "owner": {"type": data.get("owner_type") or "unassigned", "id": data.get("owner_id", "")},
        "exclusive_agents": exclusive,
    })

