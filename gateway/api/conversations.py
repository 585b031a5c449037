"""Conversations: read with events, the bot's messages and handoff, close, the dry run."""

from __future__ import annotations

from aiohttp import web

from gateway.api.agents import await_jobs
from gateway.api.common import ApiError, allow, body, contact_ref, decode, principal, services
from gateway.api.models import Close, Handoff, Message
from routing.config import Campaign, serves
from routing.permissions import (
    may_act_as_bot,
    may_close,
    may_dry_run,
    may_read_conversation,
)
from routing.store import Store


async def _conversation(request: web.Request) -> dict[str, str]:
    vid = request.match_info["conversation"]
    conv = decode(await services(request).store.conversation_hash(vid))
    if not conv:
        raise ApiError(404, f"no conversation {vid!r}")
    return conv


async def get_conversation(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    conv = await _conversation(request)
    allow(may_read_conversation(who, svc.workspace, conv["campaign"], conv.get("assignee", "")))
    events = [{"id": eid.decode(), **decode(fields)}
              for eid, fields in await svc.store.events(conv["id"])]
    return web.json_response({"conversation": conv, "events": events})


async def post_message(request: web.Request) -> web.Response:
    """The bot answers the customer (while it holds the conversation)."""
    svc, who = services(request), await principal(request)
    conv = await _conversation(request)
    allow(may_act_as_bot(who, conv["campaign"]))
    req = await body(request, Message)
    idem = request.headers.get("Idempotency-Key", "")
    outcome, detail = (x.decode() for x in await svc.store.outbound(
        conv["id"], "bot", req.text, f"{who.actor}:msg:{idem}" if idem else "", "bot"))
    if outcome == "wrong_status":
        raise ApiError(409, f"the bot no longer holds this conversation (status {detail})")
    if outcome == "window_closed":
        raise ApiError(422, "more than 24 hours since the customer's last WhatsApp message: "
                            "only an approved template may be sent")
    if outcome == "queued":
        svc.dispatch(f"twilio:{conv['id']}", f"slack:{conv['id']}")
    return web.json_response({"message": detail, "duplicate": outcome == "duplicate"},
                             status=200 if outcome == "duplicate" else 202)


async def post_handoff(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    conv = await _conversation(request)
    allow(may_act_as_bot(who, conv["campaign"]))
    req = await body(request, Handoff)
    campaign = svc.workspace.campaign(conv["campaign"])
    target = req.target
    if target.type == "agent":
        agent = svc.workspace.agent(target.id)
        if agent is None:
            raise ApiError(404, f"no agent {target.id!r}")
        if not serves(agent, conv["campaign"]):
            raise ApiError(422, f"agent {target.id} does not serve campaign {conv['campaign']}")
    if target.type == "department" and (campaign is None or target.id not in
                                        {d.id for d in campaign.departments}):
        raise ApiError(404, f"no department {target.id!r} in campaign {conv['campaign']}")
    idem = request.headers.get("Idempotency-Key", "")
    outcome, status, assignee = (x.decode() for x in await svc.store.handoff(
        conv["id"], f"{who.actor}:handoff:{idem}" if idem else "", target.type, target.id,
        (campaign.default_department or "") if campaign else "", req.escalation or "",
        req.note, who.actor))
    if outcome == "not_bot":
        raise ApiError(409, f"the bot does not hold this conversation (status {status})")
    await_jobs(request, [conv["id"]] if assignee else [])
    svc.dispatch(f"card:{conv['id']}")
    return web.json_response({"conversation": conv["id"], "status": status,
                              "assignee": assignee or None})


async def post_close(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    conv = await _conversation(request)
    allow(may_close(who, svc.workspace, conv.get("assignee", "")))
    req = await body(request, Close)
    campaign = svc.workspace.campaign(conv["campaign"])
    if campaign and campaign.typifications:
        names = {t.name: t for t in campaign.typifications}
        if req.typification not in names:
            raise ApiError(400, f"typification must be one of {sorted(names)}")
        subs = names[req.typification].subtypes
        if subs and req.subtypification not in subs:
            raise ApiError(400, f"subtypification of {req.typification} must be one of "
                                f"{list(subs)}")
    outcome, assigned = await svc.store.close(conv["id"], who.actor, req.typification,
                                              req.subtypification, req.note)
    if outcome == b"already_closed":
        raise ApiError(409, "the conversation is already closed")
    svc.dispatch(f"card:{conv['id']}")
    await_jobs(request, assigned)
    return web.json_response({"conversation": conv["id"], "status": "closed",
                              "assigned_next": [v.decode() for v in assigned]})


async def dry_run(request: web.Request) -> web.Response:
    """Where would a new conversation of this contact in this campaign go now, and why."""
    svc, who = services(request), await principal(request)
    allow(may_dry_run(who, svc.workspace))
    campaign_id, contact = request.query.get("campaign", ""), request.query.get("contact", "")
    campaign = svc.workspace.campaign(campaign_id)
    if campaign is None:
        raise ApiError(400 if not campaign_id else 404,
                       f"no campaign {campaign_id!r}" if campaign_id else "campaign is required")
    if not contact:
        raise ApiError(400, "contact is required (a contact id or an E.164 phone)")
    return web.json_response(await explain(svc.store, campaign, contact_ref(contact)))


async def explain(store: Store, campaign: Campaign, ref: str) -> dict:
    """The dry run's answer (also used by ``python -m gateway route explain``)."""
    rule, action, target, reason, skipped, cid = (x.decode() for x in await store.dry_run(
        ref, campaign.id, campaign.default_department or "", campaign.bot is not None))
    return {"contact": cid or None, "campaign": campaign.id, "rule": rule, "action": action,
            "target": target, "reason": reason,
            "skipped": [s for s in skipped.split("; ") if s]}

