"""Measured: kill -9 the worker, the web process and the Redis server (each restarted) while
signed Twilio webhooks stream in; the client retries as Twilio does with connection overrides
(``#rc=5&rp=all``: on a connect failure, a timeout or a 5xx); then count. Every message the
gateway acknowledged (200) must reach the Slack fake exactly once: 0 lost, 0 duplicated.

Redis runs as the README recommends for production: AOF with ``appendfsync everysec``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import (
    SLACK_SECRET,
    SLACK_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    clean_env,
    stop,
    wait_healthy,
)
from tests.faults.conftest import gateway_process, kill9
from tests.signing import encode_form, twilio_signature, whatsapp_form

pytestmark = pytest.mark.timeout(150)

APPENDFSYNC = os.environ.get("FAULTS_APPENDFSYNC", "everysec")  # or "always"
SENDERS = 6            # webhooks in flight at once
CONTACTS = 18          # customers writing (one conversation each)
STREAM = 12.0          # seconds of traffic
# (second, what to kill -9). Redis first: a job whose enqueue its death lost is found by the
# worker's sweeper after its grace, which bounds how long this test waits.
FAULTS = [(1.5, "redis"), (5.0, "worker"), (8.5, "web")]
RETRIES = 5            # Twilio's rc maximum
BACKOFF = [0.5, 1, 2, 4, 8]  # between attempts; Twilio's own spacing is not documented
SWEEPER_GRACE = 5     # seconds (default 30): a job whose enqueue a kill lost is redone sooner
BODY = re.compile(r"^ft-\d+-\d+$")


@dataclass
class Tally:
    acked: set[str] = field(default_factory=set)
    gave_up: set[str] = field(default_factory=set)
    attempts: int = 0
    retried: Counter[str] = field(default_factory=Counter)  # why a delivery was retried
    faults: list[str] = field(default_factory=list)


async def send_like_twilio(http: aiohttp.ClientSession, url: str, form: dict[str, str],
                           tally: Tally) -> None:
    headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form),
               "Content-Type": "application/x-www-form-urlencoded"}
    for attempt in range(RETRIES + 1):
        tally.attempts += 1
        try:
            async with http.post(url, data=encode_form(form), headers=headers) as resp:
                await resp.read()
                if resp.status == 200:
                    tally.acked.add(form["Body"])
                    return
                assert resp.status >= 500, f"{resp.status} for {form['Body']}"
                tally.retried[str(resp.status)] += 1
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            tally.retried[type(exc).__name__] += 1
        if attempt < RETRIES:
            await asyncio.sleep(BACKOFF[attempt])
    tally.gave_up.add(form["Body"])


@dataclass
class Processes:
    env: dict[str, str]
    base: str
    logs: Path
    redis: EmbeddedRedis
    web: object = None
    worker: object = None

    async def start(self, kind: str) -> None:
        process = gateway_process(kind, self.env, self.logs / f"{kind}.log")
        setattr(self, kind, process)
        if kind == "web":
            await wait_healthy(self.base, process, timeout=30)

    async def kill_and_restart(self, kind: str, tally: Tally) -> None:
        start = time.monotonic()
        if kind == "redis":
            self.redis.process.kill()
            self.redis.process.wait()
            await asyncio.sleep(0.3)
            await asyncio.to_thread(self.redis.start)
        else:
            kill9(getattr(self, kind))
            await self.start(kind)
        tally.faults.append(f"{kind} down {time.monotonic() - start:.1f}s")


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTwilio, FakeSlack, list[TestServer]]]:
    twilio, slack = FakeTwilio(TWILIO_SID, TWILIO_TOKEN), FakeSlack(SLACK_TOKEN)
    servers = [TestServer(fake.app(), host="127.0.0.1") for fake in (twilio, slack)]
    for server in servers:
        await server.start_server()
    yield twilio, slack, servers
    await twilio.close()
    for server in servers:
        await server.close()


async def test_kill9_worker_web_and_redis_under_load_loses_and_doubles_nothing(
        tmp_path: Path, fakes: tuple[FakeTwilio, FakeSlack, list[TestServer]]) -> None:
    _, slack, servers = fakes
    redis_server = EmbeddedRedis(tmp_path / "redis", appendfsync=APPENDFSYNC).start()
    port = free_port()
    env = clean_env(
        WEB_PORT=str(port), HOST="127.0.0.1", REDIS_URL=redis_server.url,
        REDIS_NAMESPACE="faults", RQ_QUEUE="faults", GATEWAY_CONFIG=str(EXAMPLE_CONFIG),
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_API_BASE=str(servers[0].make_url("")).rstrip("/"),
        SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_BASE=str(servers[1].make_url("/")), SWEEPER_GRACE=str(SWEEPER_GRACE),
        # faults, not Slack's rate limits, are under test here (the fake Slack has none)
        SLACK_CHANNEL_RATE="10000", SLACK_CHANNEL_BURST="10000",
        SLACK_WORKSPACE_PER_MINUTE="1000000")
    base = f"http://127.0.0.1:{port}"
    procs = Processes(env, base, tmp_path, redis_server)
    tally = Tally()
    try:
        await procs.start("web")
        await procs.start("worker")
        timeout = aiohttp.ClientTimeout(total=10, sock_connect=2)  # Twilio: ct=2000&rt=10000
        async with aiohttp.ClientSession(timeout=timeout) as http:
            loop = asyncio.get_running_loop()
            began = loop.time()

            async def sender(k: int) -> None:
                n = 0
                while loop.time() - began < STREAM:
                    contact = (k + SENDERS * n) % CONTACTS
                    form = whatsapp_form(f"SM{k:02d}{n:030d}", f"ft-{k}-{n}",
                                         phone=f"+5255{10000000 + contact}")
                    await send_like_twilio(http, base + "/twilio/messages", form, tally)
                    n += 1
                    await asyncio.sleep(0.02)

            async def faults() -> None:
                for at, kind in FAULTS:
                    await asyncio.sleep(max(0.0, at - (loop.time() - began)))
                    await procs.kill_and_restart(kind, tally)

            await asyncio.gather(faults(), *(sender(k) for k in range(SENDERS)))

        # Every acknowledged message reaches Slack (a lost enqueue is found by the sweeper
        # after its grace), then nothing more arrives.
        def delivered() -> Counter[str]:  # a post may show several (coalesced) messages
            return Counter(line for p in slack.calls_to("chat.postMessage")
                           for line in str(p.get("text", "")).split("\n")
                           if BODY.match(line))

        deadline = time.monotonic() + 50
        while time.monotonic() < deadline and not tally.acked <= set(delivered()):
            await asyncio.sleep(0.5)
        settled = loop.time() - began
        await asyncio.sleep(1.0)
        got = delivered()
        lost = tally.acked - set(got)
        duplicated = sum(count - 1 for count in got.values() if count > 1)
        unacked_delivered = set(got) - tally.acked
        print(f"\nfault run (AOF appendfsync {APPENDFSYNC}, sweeper grace {SWEEPER_GRACE}s): "
              f"{len(tally.acked)} acknowledged, "
              f"{sum(got.values())} delivered to Slack ({len(got)} distinct), "
              f"{len(lost)} lost, {duplicated} duplicated, {len(tally.gave_up)} never "
              f"acknowledged after {RETRIES} retries, {len(unacked_delivered)} delivered "
              f"without acknowledgement; {tally.attempts} attempts, retried on "
              f"{dict(tally.retried)}; faults: {', '.join(tally.faults)}; all delivered "
              f"{settled:.0f}s after the first webhook")
        assert tally.acked and len(tally.faults) == len(FAULTS)
        assert lost == set(), sorted(lost)[:10]
        assert duplicated == 0, [b for b, c in got.items() if c > 1][:10]
        assert tally.gave_up == set(), sorted(tally.gave_up)[:10]
        assert set(got) == tally.acked
        assert procs.web.poll() is None and procs.worker.poll() is None
    finally:
        for process in (procs.web, procs.worker):
            if process is not None:
                stop(process)
        redis_server.stop()
