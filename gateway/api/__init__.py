"""The JSON API (bearer tokens, stored hashed; bot tokens scoped to their campaign)."""

from __future__ import annotations

from aiohttp import web

from gateway.api import agents, contacts, conversations, openapi


def setup(app: web.Application) -> None:
    contacts.setup(app)
    agents.setup(app)
    conversations.setup(app)
    app.router.add_get("/api/openapi.json", openapi.serve)
