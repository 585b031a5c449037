"""Active messages: one template to one contact, and bulk sends (marketing)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import body, principal, services
from gateway.api.models import ActiveMessage, Bulk
from routing.actions import active, bulk


async def post_active_message(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    req = await body(request, ActiveMessage)
    sent = svc.done(await active.send_active(
        svc.ctx, who, req.campaign, req.to, req.template, req.variables, req.agent,
        request.headers.get("Idempotency-Key", "")))
    return web.json_response({"contact": sent.contact, "conversation": sent.conversation,
                              "message": sent.message, "assignee": sent.assignee or None,
                              "opened": sent.opened, "duplicate": sent.replayed},
                             status=200 if sent.replayed else 202)


async def post_bulk(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    req = await body(request, Bulk)
    created = svc.done(await bulk.create_bulk(
        svc.ctx, who, request.match_info["campaign"], req.template,
        [(r.to, r.variables) for r in req.recipients], req.department,
        request.headers.get("Idempotency-Key", "")))
    return web.json_response({"id": created.bulk, "total": created.total,
                              "skipped": created.skipped, "duplicate": created.replayed},
                             status=200 if created.replayed else 202)


async def get_bulk(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    report = await bulk.bulk_report(svc.ctx, who, request.match_info["campaign"],
                                    request.match_info["bulk"],
                                    results=request.query.get("results", "1") != "0")
    return web.json_response(report)


async def cancel_bulk(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    cancelled = svc.done(await bulk.cancel_bulk(svc.ctx, who, request.match_info["campaign"],
                                                request.match_info["bulk"]))
    return web.json_response({"id": cancelled.bulk, "status": cancelled.status})
