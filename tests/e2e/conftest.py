"""End-to-end: the real ``web`` and ``worker`` processes, started as the Procfile starts them,
talking to the Twilio and Slack stand-ins served by the test on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.signing import dumps, encode_form, slack_headers, twilio_signature

TWILIO_SID, TWILIO_TOKEN = "AC" + "2" * 32, "e2e-twilio-token"
SLACK_TOKEN, SLACK_SECRET = "xoxb-e2e", "e2e-signing-secret"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SLACK_", "REDIS_", "RQ_", "PUBLIC_", "GATEWAY_"))
           and k not in ("PORT", "WEB_PORT", "HOST")}
    return env | {"PYTHONUNBUFFERED": "1", "LOG_FORMAT": "json"} | extra


async def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"process exited with {process.returncode}")
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {timeout}s")


def wait_healthy_sync(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    base: str
    twilio: FakeTwilio
    slack: FakeSlack
    http: aiohttp.ClientSession
    redis: redis.Redis
    prefix: str

    async def post_twilio(self, form: dict[str, str], signature: str | None = None) -> int:
        url = self.base + "/twilio/messages"
        sig = twilio_signature(TWILIO_TOKEN, url, form) if signature is None else signature
        async with self.http.post(url, data=encode_form(form), headers={
                "X-Twilio-Signature": sig,
                "Content-Type": "application/x-www-form-urlencoded"}) as resp:
            return resp.status

    async def post_slack(self, payload: dict) -> int:
        body = dumps(payload)
        async with self.http.post(self.base + "/slack/events", data=body,
                                  headers=slack_headers(SLACK_SECRET, body)) as resp:
            return resp.status

    def keys(self) -> list[bytes]:
        return self.redis.keys(self.prefix + "*")


@pytest.fixture(scope="module")
def e2e_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("e2e-redis"), appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture
async def stack(e2e_redis: EmbeddedRedis, namespace: str) -> AsyncIterator[Stack]:
    twilio, slack = FakeTwilio(TWILIO_SID, TWILIO_TOKEN), FakeSlack(SLACK_TOKEN)
    servers = [TestServer(fake.app(), host="127.0.0.1") for fake in (twilio, slack)]
    for server in servers:
        await server.start_server()
    port = free_port()
    env = clean_env(
        WEB_PORT=str(port), HOST="127.0.0.1", REDIS_URL=e2e_redis.url, REDIS_NAMESPACE=namespace,
        RQ_QUEUE=f"e2e-{namespace}", GATEWAY_CONFIG=str(EXAMPLE_CONFIG),
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_API_BASE=str(servers[0].make_url("")).rstrip("/"),
        SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_BASE=str(servers[1].make_url("/")),
    )
    processes = [
        subprocess.Popen([sys.executable, "-m", "gateway", kind], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for kind in ("web", "worker")
    ]
    base = f"http://127.0.0.1:{port}"
    client = redis.Redis.from_url(e2e_redis.url)
    try:
        await wait_healthy(base, processes[0])
        async with aiohttp.ClientSession() as http:
            yield Stack(base, twilio, slack, http, client, f"rd:{{{namespace}}}:")
    finally:
        for process in processes:
            stop(process)
        await twilio.close()
        for server in servers:
            await server.close()
        client.close()


@dataclass
class SandboxUp:
    """`python -m gateway up` as a newcomer runs it: no credentials, no REDIS_URL."""

    base: str
    env: dict[str, str]  # what every other command is given: the same variables
    var: Path

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sandbox_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxUp]:
    var = tmp_path_factory.mktemp("var")
    port = free_port()
    env = clean_env(WEB_PORT=str(port), EMBEDDED_REDIS_PORT=str(free_port()),
                    RELAYDESK_VAR=str(var))
    up = subprocess.Popen([sys.executable, "-m", "gateway", "up"], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        wait_healthy_sync(f"http://127.0.0.1:{port}", up, timeout=30)
        yield SandboxUp(f"http://127.0.0.1:{port}", env, var)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        stop(up)
