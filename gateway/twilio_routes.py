"""Twilio webhooks: incoming messages and message status callbacks.

Order of checks: the body decodes as UTF-8 (415 for another charset, 400 for bad bytes: the
signature covers the decoded parameters, so they come first), signature (403, nothing touched),
shape (400 with the reason), campaign (404), then one Lua script stores everything; only then
does Twilio get its empty TwiML.
"""

from __future__ import annotations

import structlog
from aiohttp import hdrs, web

from channels.twilio.inbound import (
    BadWebhook,
    UnsupportedCharset,
    parse_form,
    parse_message,
    parse_status,
    signature_valid,
)
from gateway.services import SERVICES, error
from gateway.settings import Settings
from routing.store import Store

log = structlog.get_logger("twilio")
# On the webhooks' path ``log.bind().info(...)``: the lazy proxy's ``bind`` is the configured
# logger once used, while ``log.info`` goes through its ``__getattr__`` every time (1.5 µs
# against 0.3 µs a call, even when the level filters the line out).
# The store the webhooks run their scripts through: the same Store over the auto-pipelining
# client (gateway/redis_fast.py) when the app has one, else the services' redis-py store.
SCRIPTS = web.AppKey("twilio_scripts", Store)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FORM = "application/x-www-form-urlencoded"


def verified_form(request: web.Request, body: bytes, settings: Settings) -> dict[str, str]:
    """The form parameters of ``body``, if Twilio signed them; raises 400/403 otherwise."""
    content_type = request.headers.get(hdrs.CONTENT_TYPE, "")  # cheaper than .content_type
    if content_type != FORM and content_type.partition(";")[0].strip().lower() != FORM:
        raise web.HTTPBadRequest(reason=f"expected {FORM}, got {request.content_type or 'none'}")
    try:
        form = parse_form(body, request.charset)
    except UnsupportedCharset as exc:
        raise web.HTTPUnsupportedMediaType(reason=str(exc)) from None
    except BadWebhook as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None
    signature = request.headers.get("X-Twilio-Signature", "")
    for url in settings.signed_urls(request.path_qs):
        if signature_valid(settings.twilio_auth_token, url, form, signature):
            return form
    log.warning("twilio.bad_signature", path=request.path)
    raise web.HTTPForbidden(reason="invalid or missing X-Twilio-Signature")


async def incoming(request: web.Request) -> web.Response:
    app = request.app
    services = app[SERVICES]
    form = verified_form(request, await request.read(), services.settings)
    try:
        msg = parse_message(form)
    except BadWebhook as exc:
        return error(400, str(exc))
    campaign = services.workspace.entry_campaign(msg.campaign_addr)
    if campaign is None:
        return error(404, f"no campaign is bound to {msg.campaign_addr}")
    store = app.get(SCRIPTS) or services.store
    result = services.done(await store.inbound(
        msg, campaign.id, campaign.default_department or "", campaign.bot is not None,
        help_text=campaign.options.help_text))
    log.bind().info("twilio.inbound", outcome=result.outcome, conversation=result.conversation,
                    message=result.message, opened=result.opened, assignee=result.assignee)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        sid, state, code = parse_status(verified_form(request, await request.read(),
                                                    services.settings))
    except BadWebhook as exc:
        return error(400, str(exc))
    store = request.app.get(SCRIPTS) or services.store
    applied = services.done(await store.status(sid, state, code))
    log.bind().info("twilio.status", sid=sid, status=state, outcome=applied.outcome,
                    message=applied.message)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post("/twilio/messages", incoming)
    app.router.add_post("/twilio/status", status)
