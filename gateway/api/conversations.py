"""Conversations: read with events, the bot's messages and handoff, close, the dry run."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import body, principal, services
from gateway.api.models import Close, Escalate, Handoff, Message
from routing import actions
from routing.results import Decision


async def get_conversation(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    conv, events = await actions.read_conversation(svc.ctx, who,
                                                   request.match_info["conversation"])
    return web.json_response({"conversation": conv,
                              "events": [{"id": eid, **fields} for eid, fields in events]})


async def post_message(request: web.Request) -> web.Response:
    """The bot answers the customer (while it holds the conversation)."""
    svc, who = services(request), await principal(request)
    vid = request.match_info["conversation"]
    await actions.conversation(svc.ctx, vid)
    req = await body(request, Message)
    sent = svc.done(await actions.bot_message(svc.ctx, who, vid, req.text,
                                              request.headers.get("Idempotency-Key", "")))
    return web.json_response({"message": sent.message, "duplicate": sent.replayed},
                             status=200 if sent.replayed else 202)


async def post_handoff(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    vid = request.match_info["conversation"]
    await actions.conversation(svc.ctx, vid)
    req = await body(request, Handoff)
    moved = svc.done(await actions.handoff(
        svc.ctx, who, vid, req.target.type, req.target.id, req.escalation or "", req.note,
        request.headers.get("Idempotency-Key", "")))
    return web.json_response({"conversation": vid, "status": moved.status,
                              "assignee": moved.assignee or None})


async def post_close(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    vid = request.match_info["conversation"]
    await actions.conversation(svc.ctx, vid)
    req = await body(request, Close)
    closed = svc.done(await actions.close(svc.ctx, who, vid, req.typification,
                                          req.subtypification, req.note))
    return web.json_response({"conversation": vid, "status": "closed",
                              "assigned_next": list(closed.assigned)})


async def post_escalate(request: web.Request) -> web.Response:
    """S6 by people: what the card's Escalate button does."""
    svc, who = services(request), await principal(request)
    vid = request.match_info["conversation"]
    await actions.conversation(svc.ctx, vid)
    req = await body(request, Escalate)
    svc.done(await actions.escalate(svc.ctx, who, vid, req.type, req.note))
    return web.json_response({"conversation": vid, "priority": "escalated",
                              "escalation": req.type})


async def dry_run(request: web.Request) -> web.Response:
    """Where would a new conversation of this contact in this campaign go now, and why."""
    svc, who = services(request), await principal(request)
    decision = await actions.dry_run(svc.ctx, who, request.query.get("campaign", ""),
                                     request.query.get("contact", ""))
    return web.json_response(explain(decision, request.query.get("campaign", "")))


def explain(d: Decision, campaign: str) -> dict:
    """The dry run's answer (also printed by ``python -m gateway route explain``)."""
    return {"contact": d.contact or None, "campaign": campaign, "rule": d.rule,
            "action": d.action, "target": d.target, "reason": d.reason,
            "skipped": list(d.skipped)}
