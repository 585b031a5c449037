"""Shared by the API handlers: bearer-token principals, JSON bodies, refusals."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.services import SERVICES, Services
from routing.permissions import Principal, token_hash

M = TypeVar("M", bound=BaseModel)


class ApiError(web.HTTPException):
    """A JSON refusal: ``{"error": "..."}`` with the given status."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


async def principal(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
    raw = await services(request).store.token(token_hash(token.strip()))
    if raw is None:
        raise ApiError(401, "unknown or revoked token")
    return Principal(**json.loads(raw))


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
