"""The operator commands: tokens from the CLI work against the API; the CLI dry run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.integration.conftest import System


def cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SLACK_"))}
    env |= {"REDIS_URL": system.settings.redis_url,
            "REDIS_NAMESPACE": system.settings.redis_namespace,
            "GATEWAY_CONFIG": str(EXAMPLE_CONFIG)}
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


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
