"""Redis unreachable: every inbound webhook and the API get a fast JSON 503 with Retry-After
(never a bare 500, never a hang), and the first request after Redis comes back succeeds.
Also: Twilio's connection overrides (a URL fragment) keep the signature check passing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.sandbox.fake_slack import FakeSlack
from gateway.settings import Settings
from routing.config import Workspace
from tests.signing import (
    dumps,
    encode_form,
    slack_headers,
    thread_reply_event,
    twilio_signature,
    whatsapp_form,
)

TOKEN, SECRET = "outage-twilio-token", "outage-signing-secret"
OVERRIDES = "rc=5&rp=all&ct=2000&rt=10000"


@dataclass
class Gateway:
    settings: Settings
    http: aiohttp.ClientSession
    redis: EmbeddedRedis | None

    async def call(self, name: str, n: int = 1, signed_url: str | None = None
                   ) -> tuple[int, dict[str, str], str, float]:
        """One request of the given kind: (status, headers, body, seconds)."""
        base = self.settings.public_url
        start = time.monotonic()
        if name in ("messages", "status"):
            url = f"{base}/twilio/{name}"
            form = (whatsapp_form(f"SM{n:032d}", f"hola {n}") if name == "messages" else
                    {"MessageSid": f"SM{n:032d}", "MessageStatus": "delivered"})
            headers = {"X-Twilio-Signature": twilio_signature(TOKEN, signed_url or url, form),
                       "Content-Type": "application/x-www-form-urlencoded"}
            request = self.http.post(url, data=encode_form(form), headers=headers)
        elif name == "slack":
            body = dumps(thread_reply_event(f"Ev{n}", "C0SUPPORTWA", "1.000001", "U0ANA", "hi"))
            request = self.http.post(f"{base}/slack/events", data=body,
                                     headers=slack_headers(SECRET, body))
        else:
            request = self.http.get(f"{base}/api/agents/ana",
                                    headers={"Authorization": "Bearer nope"})
        async with request as resp:
            return (resp.status, dict(resp.headers), await resp.text(),
                    time.monotonic() - start)


async def _gateway(redis_url: str, workspace: Workspace, server: EmbeddedRedis | None,
                   **extra: str) -> AsyncIterator[Gateway]:
    port = free_port()
    slack = TestServer(FakeSlack("xoxb-outage").app(), host="127.0.0.1")
    await slack.start_server()
    settings = Settings(
        _env_file=None, host="127.0.0.1", port=port, redis_url=redis_url,
        redis_namespace="outage", twilio_account_sid="AC" + "3" * 32, twilio_auth_token=TOKEN,
        slack_bot_token="xoxb-outage", slack_signing_secret=SECRET,
        slack_api_base=str(slack.make_url("/")), **extra)
    app = create_app(settings, workspace)
    server_ = TestServer(app, host="127.0.0.1", port=port)
    await server_.start_server()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            yield Gateway(settings, http, server)
    finally:
        await server_.close()
        await slack.close()


@pytest.fixture
async def gateway(tmp_path: Path, workspace: Workspace) -> AsyncIterator[Gateway]:
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        async for g in _gateway(server.url, workspace, server,
                                twilio_connection_overrides=OVERRIDES):
            yield g
    finally:
        server.stop()


KINDS = ("messages", "status", "slack", "api")


def assert_unavailable(status: int, headers: dict[str, str], body: str, seconds: float) -> None:
    assert status == 503, body
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    assert '"error"' in body and "retry later" in body
    assert int(headers["Retry-After"]) > 0
    assert seconds < 3, f"took {seconds:.1f}s"


async def test_redis_down_is_a_fast_503_and_the_first_request_after_succeeds(
        gateway: Gateway) -> None:
    assert (await gateway.call("messages", 1))[0] == 200
    assert gateway.redis is not None
    gateway.redis.process.kill()  # kill -9: pooled connections are now dead
    gateway.redis.process.wait()
    for n, kind in enumerate(KINDS, start=2):
        assert_unavailable(*await gateway.call(kind, n))
    async with gateway.http.get(gateway.settings.public_url + "/healthz") as resp:
        assert resp.status == 503 and "Retry-After" in resp.headers

    gateway.redis.start()  # same port, same append-only file
    # The first request of each kind after the restart succeeds (no stale connection).
    assert (await gateway.call("messages", 2))[0] == 200
    assert (await gateway.call("status", 2))[0] == 204
    assert (await gateway.call("slack", 9))[0] == 200
    assert (await gateway.call("api"))[0] == 401
    assert (await gateway.call("messages", 1))[2].startswith("<?xml")  # stored before the kill


class FreezableProxy:
    """A TCP proxy in front of Redis that can stop answering (a partition, a hung server):
    bytes are accepted and dropped, nothing comes back."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.frozen = target_port, False
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def close(self) -> None:
        if self.server:
            self.server.close()


async def test_a_redis_that_stops_answering_is_a_503_not_a_hang(
        tmp_path: Path, workspace: Workspace) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    proxy = FreezableProxy(server.port)
    try:
        async for gateway in _gateway(await proxy.start(), workspace, None):
            assert (await gateway.call("messages", 1))[0] == 200
            proxy.frozen = True
            status, headers, body, seconds = await gateway.call("messages", 2)
            assert status == 503 and "Retry-After" in headers, body
            assert seconds < 8, f"took {seconds:.1f}s"  # the socket timeout, not forever
            proxy.frozen = False
            assert (await gateway.call("messages", 3))[0] == 200
    finally:
        await proxy.close()
        server.stop()


@pytest.mark.parametrize("signed", ["plain", "with_fragment"])
async def test_twilio_signature_holds_with_connection_overrides(
        gateway: Gateway, signed: str) -> None:
    """Twilio never sends the fragment; whether it signs the URL with or without it, the
    gateway accepts the request (and nothing else)."""
    url = gateway.settings.public_url + "/twilio/messages"
    signed_url = url if signed == "plain" else f"{url}#{OVERRIDES}"
    assert (await gateway.call("messages", 7, signed_url=signed_url))[0] == 200
    assert (await gateway.call("messages", 8, signed_url=f"{url}#rc=1"))[0] == 403
