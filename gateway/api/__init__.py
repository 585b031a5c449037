"""The JSON API (bearer tokens, stored hashed; bot tokens scoped to their campaign)."""

from __future__ import annotations

from aiohttp import web

from gateway.api import openapi
from gateway.api.common import authenticate

__all__ = ["authenticate", "setup"]


def setup(app: web.Application) -> None:
    for method, path, handler, *_ in openapi.OPERATIONS:
        app.router.add_route(method.upper(), path, handler)
    app.router.add_get("/api/openapi.json", openapi.serve)
