"""The attendance history through the API (seed 000): acting as the token's agent, with the
same visibility rule as Slack; admins and auditors may pass ``as_agent``."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import ApiError, principal, services
from routing import actions


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit():
        raise ApiError(400, "page: a whole number from 1")
    return int(raw)


async def get_contacts(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    q = request.query
    return web.json_response(await actions.history_contacts(
        svc.ctx, who, q.get("q", ""), q.get("sort", "recent"),  # type: ignore[arg-type]
        _page(request), q.get("as_agent", "")))


async def get_contact(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    return web.json_response(await actions.history_contact(
        svc.ctx, who, request.match_info["contact"], request.query.get("as_agent", "")))


async def get_ticket(request: web.Request) -> web.Response:
    svc, who = services(request), await principal(request)
    return web.json_response(await actions.history_ticket(
        svc.ctx, who, request.match_info["ticket"], request.query.get("as_agent", "")))
