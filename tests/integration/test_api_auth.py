"""The API authenticates before anything else, and refuses sandbox tokens in live mode."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestServer

from gateway.api.openapi import OPERATIONS
from gateway.app import SANDBOX_ADMIN_TOKEN, create_app, sandbox_bot_token, seed_sandbox_tokens
from gateway.redis_launcher import free_port
from routing.config import Workspace
from routing.permissions import Principal, token_hash
from tests.integration.conftest import System

ADMIN = {"Authorization": "Bearer tok-admin"}
BOGUS = {"conversation": "v999", "contact": "c999", "agent": "zoe", "campaign": "nowhere"}
REAL = {"conversation": "v1", "contact": "c1", "agent": "ana", "campaign": "support-wa"}


async def call(system: System, method: str, path: str, headers: dict | None = None,
               **kw: object) -> tuple[int, dict]:
    async with system.http.request(method, system.base + path, headers=headers or {},
                                   **kw) as resp:
        return resp.status, await resp.json()


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m[1], "nope1"), path)


@pytest.mark.parametrize(("method", "path"), [(m.upper(), p) for m, p, *_ in OPERATIONS])
async def test_no_token_is_401_before_any_validation_or_lookup(system: System, method: str,
                                                               path: str) -> None:
    """Existing and unknown ids, no body or a wrong one: always the same 401, so an anonymous
    caller cannot tell which agents, campaigns or conversations exist."""
    answers = set()
    for ids in (BOGUS, REAL):
        for kw in ({}, {"data": b"not json"}, {"json": {"wrong": True}}):
            for headers in ({}, {"Authorization": "Bearer nope"},
                            {"Authorization": "Basic abc"}):
                status, body = await call(system, method, fill(path, ids), headers, **kw)
                answers.add((status, body["error"].split(" (")[0]))
    assert answers == {(401, "missing bearer token"), (401, "unknown or revoked token")}


async def test_non_ascii_token_is_401(system: System) -> None:
    status, _ = await call(system, "GET", "/api/agents/ana",
                           {"Authorization": "Bearer tok\u00e9n"})
    assert status == 401


@pytest.mark.parametrize("vid", ["v1:events", "v1:to_slack", "1", "v", "conv", "v1 "])
async def test_conversation_ids_are_validated(system: System, vid: str) -> None:
    system.store.add_token(token_hash("tok-admin"), '{"kind": "admin", "name": "ops"}')
    system.store.redis.xadd(system.store.keys.events("v1"), {"type": "x"})
    for method, suffix, kw in (("GET", "", {}), ("POST", "/close", {"json": {}}),
                               ("POST", "/messages", {"json": {"text": "x"}}),
                               ("POST", "/handoff", {"json": {"target": {"type": "route"}}})):
        status, body = await call(system, method, f"/api/conversations/{vid}{suffix}", ADMIN,
                                  **kw)
        assert status == 404, (method, suffix, body)
        assert body["error"].startswith("no conversation")


async def test_sandbox_tokens_do_not_work_with_real_credentials(system: System,
                                                                 workspace: Workspace) -> None:
    """A sandbox once ran on this data (make run without accounts); now credentials are set."""
    assert not system.settings.sandbox
    await seed_sandbox_tokens(system.services.store, workspace)
    for token in (SANDBOX_ADMIN_TOKEN, sandbox_bot_token("sales-wa"), "sandbox-anything"):
        status, body = await call(system, "GET", "/api/agents/ana",
                                  {"Authorization": f"Bearer {token}"})
        assert status == 401 and "sandbox" in body["error"]


async def test_a_live_start_removes_the_sandbox_tokens(system: System,
                                                       workspace: Workspace) -> None:
    await seed_sandbox_tokens(system.services.store, workspace)
    system.store.add_token(token_hash("rdk_real"), json.dumps(Principal("admin", "ops").to_json()))
    server = TestServer(create_app(system.settings, workspace), host="127.0.0.1",
                        port=free_port())
    await server.start_server()
    try:
        stored = system.store.redis.hgetall(system.store.keys.tokens())
    finally:
        await server.close()
    assert [k.decode() if isinstance(k, bytes) else k for k in stored] == [token_hash("rdk_real")]
