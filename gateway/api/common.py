"""Shared by the API handlers: bearer-token principals, JSON bodies, refusals."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.services import SERVICES, Services
from routing.permissions import Principal, token_hash

M = TypeVar("M", bound=BaseModel)
PRINCIPAL = web.RequestKey("principal", Principal)
PUBLIC = {"/api/openapi.json"}  # the only /api path served without a token
SANDBOX_TOKEN_PREFIX = "sandbox-"  # the sandbox's well-known tokens start with this
# Ids in paths, checked before any lookup: a Redis key built from anything else could name
# another kind of key (``v1:events`` is a stream, not a conversation).
PATH_IDS = {"conversation": re.compile(r"v[0-9]{1,18}"), "ticket": re.compile(r"v[0-9]{1,18}")}


class ApiError(web.HTTPException):
    """A JSON refusal: ``{"error": "..."}`` with the given status."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


async def authenticate(request: web.Request) -> None:
    """Every ``/api`` request is authenticated first (401 before any validation or lookup, so
    an anonymous caller learns nothing), then its path ids are checked (404). Unknown routes
    stay a plain 404/405: the route table is public (``/api/openapi.json``). Called by the
    gateway's middleware (gateway/app.py) for paths under ``/api/``."""
    if request.match_info.http_exception is None and request.path not in PUBLIC:
        request[PRINCIPAL] = await _authenticate(request)
        for name, pattern in PATH_IDS.items():
            value = request.match_info.get(name)
            if value is not None and not pattern.fullmatch(value):
                raise ApiError(404, f"no {name} {value!r}")


async def _authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
    if not token.isascii() or not token.isprintable():
        raise ApiError(401, "unknown or revoked token")
    if token.startswith(SANDBOX_TOKEN_PREFIX) and not services(request).settings.sandbox:
        raise ApiError(401, "sandbox tokens do not work when real credentials are set")
    raw = await services(request).store.token(token_hash(token))
    if raw is None:
        raise ApiError(401, "unknown or revoked token")
    return Principal(**json.loads(raw))


async def principal(request: web.Request) -> Principal:
    """Who is calling (authenticated by ``authenticate`` before the handler runs)."""
    if PRINCIPAL not in request:
        request[PRINCIPAL] = await _authenticate(request)
    return request[PRINCIPAL]


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def allow(refusal: str | None) -> None:
    if refusal:
        raise ApiError(403, refusal)


async def body(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as application/json")
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "body"
            problems.append(f"{where}: {err['msg']}")
        raise ApiError(400, "; ".join(problems)) from None
