"""The operator commands: tokens from the CLI work against the API; the CLI dry run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from gateway.redis_launcher import EmbeddedRedis, free_port
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.integration.conftest import System


def cli(system: System, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gateway ARGS``; ``env`` replaces the Redis variables (default: the
    test system's REDIS_URL and namespace)."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("TWILIO_", "SLACK_", "REDIS_", "RQ_", "EMBEDDED_REDIS"))}
    redis_env = {"REDIS_URL": system.settings.redis_url,
                 "REDIS_NAMESPACE": system.settings.redis_namespace} if env is None else env
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT,
                          env=base | redis_env | {"GATEWAY_CONFIG": str(EXAMPLE_CONFIG)},
                          capture_output=True, text=True, timeout=30)


async def test_token_create_use_and_revoke(system: System) -> None:
    made = await asyncio.to_thread(cli, system, "token", "create", "--agent", "ana")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("rdk_") and len(token) > 40
    assert token not in "".join(
        k + v for k, v in system.store.redis.hgetall(system.store.keys.tokens()).items())
    headers = {"Authorization": f"Bearer {token}"}
    async with system.http.put(system.base + "/api/agents/ana/presence", headers=headers,
                               json={"presence": "away"}) as resp:
        assert resp.status == 200 and (await resp.json())["presence"] == "away"
    assert (await asyncio.to_thread(cli, system, "token", "revoke", token)).returncode == 0
    async with system.http.get(system.base + "/api/agents/ana", headers=headers) as resp:
        assert resp.status == 401
    bad = await asyncio.to_thread(cli, system, "token", "create", "--agent", "zoe")
    assert bad.returncode != 0 and "no agent 'zoe'" in bad.stderr


async def test_route_explain(system: System) -> None:
    system.store.set_owner(["+525512345678"], "agent", "bruno", "test")
    out = await asyncio.to_thread(cli, system, "route", "explain", "--campaign", "support-wa",
                                  "--contact", "+525512345678")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert (answer["rule"], answer["action"], answer["target"]) == ("owner_agent", "inbox",
                                                                   "bruno")
    assert answer["reason"] == "owner bruno is offline: waiting in their inbox"


async def test_embedded_redis_port_reaches_every_command(system: System,
                                                         redis_server: EmbeddedRedis) -> None:
    """No REDIS_URL: token create and route explain find the Redis the web process uses from
    EMBEDDED_REDIS_PORT alone, as `up` derives it."""
    env = {"EMBEDDED_REDIS_PORT": str(redis_server.port),
           "REDIS_NAMESPACE": system.settings.redis_namespace}
    made, explained = await asyncio.gather(
        asyncio.to_thread(cli, system, "token", "create", "--agent", "ana", env=env),
        asyncio.to_thread(cli, system, "route", "explain", "--campaign", "support-wa",
                          "--contact", "+525512345678", env=env))
    assert made.returncode == 0, made.stderr
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["rule"] == "default_department"
    async with system.http.get(system.base + "/api/agents/ana", headers={
            "Authorization": f"Bearer {made.stdout.strip()}"}) as resp:
        assert resp.status == 200


async def test_commands_refuse_a_redis_without_relay_desk_data(
        system: System, redis_server: EmbeddedRedis) -> None:
    """A namespace (or a server) no web process ever seeded: say so, write nothing."""
    empty = f"{system.settings.redis_namespace}-empty"
    env = {"EMBEDDED_REDIS_PORT": str(redis_server.port), "REDIS_NAMESPACE": empty}
    runs = await asyncio.gather(*(asyncio.to_thread(cli, system, *args, env=env) for args in (
        ("token", "create", "--name", "ops"),
        ("route", "explain", "--campaign", "support-wa", "--contact", "+525512345678"),
        ("simulate", "--url", system.base, "--say", "hola", "--reply", "hola", "--timeout", "2"),
    )))
    for run in runs:
        assert run.returncode != 0, run.args
        assert (f"no Relay Desk data at {redis_server.url} in namespace {empty!r}"
                in run.stderr), run.stderr
        assert run.stdout == "", run.stdout
    assert system.store.redis.keys(f"rd:{{{empty}}}:*") == []
    nobody = await asyncio.to_thread(cli, system, "token", "create", env={
        "EMBEDDED_REDIS_PORT": str(free_port())})
    assert nobody.returncode != 0 and "cannot reach Redis" in nobody.stderr


async def test_simulate_exit_code_for_an_unknown_campaign(system: System) -> None:
    run = await asyncio.to_thread(cli, system, "simulate", "--url", system.base,
                                  "--campaign", "nope", "--say", "hola")
    assert run.returncode == 2 and "no campaign 'nope'" in run.stdout, run.stdout + run.stderr
