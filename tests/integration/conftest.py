"""A whole Relay Desk in one test process: the real gateway app, real RQ jobs run in a thread
by the worker class production runs (``workers.main.ThreadWorker``), and the Twilio and Slack
stand-ins on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer
from rq import Queue

from gateway.app import create_app
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio
from gateway.services import SERVICES, Services
from gateway.settings import Settings
from routing.config import Workspace
from routing.store import Store
from tests.signing import dumps, encode_form, slack_headers, slash_command, twilio_signature
from tests.snapshot import snapshot
from workers.context import Context, SlackPacing, install
from workers.main import ThreadWorker

#: Slack pacing loose enough that tests not about it never wait (tests of pacing set theirs).
UNPACED = SlackPacing(channel_rate=10_000, channel_burst=10_000, workspace_per_minute=600_000)

TWILIO_SID, TWILIO_TOKEN = "AC" + "1" * 32, "test-twilio-token"
SLACK_TOKEN, SLACK_SECRET = "xoxb-test", "test-signing-secret"


@dataclass
class System:
    settings: Settings
    store: Store
    twilio: FakeTwilio
    slack: FakeSlack
    http: aiohttp.ClientSession
    queue: Queue
    base: str
    services: Services

    async def post_twilio(self, path: str, form: dict[str, str],
                          signature: str | None = None) -> aiohttp.ClientResponse:
        url = self.settings.public_url + path
        sig = twilio_signature(TWILIO_TOKEN, url, form) if signature is None else signature
        headers = {"X-Twilio-Signature": sig,
                   "Content-Type": "application/x-www-form-urlencoded"}
        async with self.http.post(self.base + path, data=encode_form(form),
                                  headers=headers) as resp:
            await resp.read()  # the body stays readable after the block
            return resp

    async def post_slack(self, payload: dict[str, Any], secret: str = SLACK_SECRET,
                         retry: int = 0) -> aiohttp.ClientResponse:
        body = dumps(payload)
        headers = slack_headers(secret, body)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        async with self.http.post(self.base + "/slack/events", data=body,
                                  headers=headers) as resp:
            await resp.read()
            return resp

    async def interact(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """A signed Slack interactivity request (button, select, modal submission)."""
        body = encode_form({"payload": dumps(payload)})
        headers = slack_headers(SLACK_SECRET, body) | {
            "Content-Type": "application/x-www-form-urlencoded"}
        async with self.http.post(self.base + "/slack/events", data=body,
                                  headers=headers) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text.startswith("{") else text

    async def slash(self, user: str, text: str, secret: str = SLACK_SECRET) -> tuple[int, str]:
        """A signed ``/relaydesk`` slash command; Slack shows the plain-text answer."""
        body = encode_form(slash_command(user, text))
        headers = slack_headers(secret, body) | {
            "Content-Type": "application/x-www-form-urlencoded"}
        async with self.http.post(self.base + "/slack/events", data=body,
                                  headers=headers) as resp:
            return resp.status, await resp.text()

    def snapshot(self) -> dict[bytes, bytes]:
        """Every key of this test's namespace with its serialized value."""
        return snapshot(self.store.redis, self.store.keys.prefix)

    async def error_of(self, resp: aiohttp.ClientResponse) -> str:
        return (await resp.json())["error"]

    async def drain(self, rounds: int = 10) -> None:
        """Run queued jobs until none are left (jobs may enqueue more jobs)."""
        await self.services.idle()
        for _ in range(rounds):
            if not self.queue.count:
                return
            worker = ThreadWorker([self.queue], connection=self.queue.connection)
            await asyncio.to_thread(worker.work, burst=True, logging_level="WARNING")


@pytest.fixture
async def system(redis_server: EmbeddedRedis, namespace: str,
                 workspace: Workspace) -> AsyncIterator[System]:
    twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN)
    slack = FakeSlack(SLACK_TOKEN)
    twilio_server, slack_server = TestServer(twilio.app()), TestServer(slack.app())
    await twilio_server.start_server()
    await slack_server.start_server()
    port = free_port()
    settings = Settings(
        _env_file=None, host="127.0.0.1", port=port, redis_url=redis_server.url,
        redis_namespace=namespace, rq_queue=f"q-{namespace}",
        twilio_account_sid=TWILIO_SID, twilio_auth_token=TWILIO_TOKEN,
        twilio_api_base=str(twilio_server.make_url("")).rstrip("/"),
        slack_bot_token=SLACK_TOKEN, slack_signing_secret=SLACK_SECRET,
        slack_api_base=str(slack_server.make_url("/")),
    )
    app = create_app(settings, workspace)
    gateway = TestServer(app, host="127.0.0.1", port=port)
    await gateway.start_server()
    rq_redis = redis.Redis.from_url(redis_server.url)
    context = Context.build(
        workspace=workspace, redis_url=settings.redis_url, rq_redis_url=settings.rq_redis_url,
        namespace=namespace, queue=settings.rq_queue, twilio_sid=TWILIO_SID,
        twilio_token=TWILIO_TOKEN, twilio_api_base=settings.twilio_api_base,
        slack_token=SLACK_TOKEN, slack_api_base=settings.slack_api_base,
        public_url=settings.public_url, slack_pacing=UNPACED,
    )
    install(context)
    async with aiohttp.ClientSession() as http:
        yield System(settings, context.store, twilio, slack, http,
                     Queue(settings.rq_queue, connection=rq_redis), f"http://127.0.0.1:{port}",
                     app[SERVICES])
    install(None)
    await gateway.close()
    await twilio.close()
    await twilio_server.close()
    await slack_server.close()
    rq_redis.close()
