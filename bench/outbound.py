"""Outbound benchmark: how fast workers relay to Slack and send to Twilio when the providers
answer slowly, and how Relay Desk lives within Slack's posting limits.

    python -m bench.outbound [--delay 0.15] [--conversations 40] [--seconds 20] [--every 2]

Real worker processes (``python -m gateway worker``) against the Slack and Twilio fakes served
by this process, on an embedded Redis. Customer messages and agent replies are stored by the
same Lua scripts the gateway runs (``Store.inbound``, ``Store.agent_reply``) and their jobs
enqueued as the gateway enqueues them: the HTTP side is ``python -m bench``'s subject, not this.

1. **Rate with slow providers** (issue 11 item 5): every fake call answers after ``--delay``
   seconds; N conversations each get a customer message (card + reply: 2 Slack posts) and then
   an agent reply (a Twilio send + a status reaction). Printed: posts/s and sends/s for one
   worker thread, then for more threads and processes, and the ratio to one.
2. **A busy campaign under Slack's limits** (issue 11 item 4): ``--conversations`` customers of
   one campaign each write every ``--every`` s for ``--seconds`` s (the issue's 60 s scaled down
   by default; ``--seconds 60`` runs it whole), Slack limited to 1 post/s per channel (burst 3)
   and 300/min per workspace, workers pacing themselves to the same limits. Meanwhile an agent
   answers another campaign's (SMS) customers twice a second. Printed: messages delivered, lost,
   duplicated, out of order; 429s Slack had to answer; posts per message (coalescing); the
   worst and median customer → Slack delay; the SMS sends' delay against the same sends with
   Slack idle. Run once with the campaign on one channel and once spread over 4 department
   channels.

Prints counts and ratios; nothing here is asserted (timings are not tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import yaml
from aiohttp import web

from bench.processes import ROOT, Server, spawn
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.sandbox.fake_slack import FakeSlack, SlackLimits
from gateway.sandbox.fake_twilio import FakeTwilio
from gateway.settings import Settings
from routing.config import Workspace, parse_config
from routing.store import Store
from routing.types import AgentReply, InboundMessage
from workers.dispatch import Dispatcher

SID, TOKEN = "AC" + "b" * 32, "bench-twilio-token"
SLACK_TOKEN = "xoxb-bench"
WA_NUMBER, SMS_NUMBER = "+14155238886", "+15005550006"
TAG = re.compile(r"\bq(\d+)#(\d+)\b")  # customer q<conversation>#<n> in every message
DEPARTMENTS = 4


def bench_config(spread: bool) -> dict[str, Any]:
    depts = [{"id": f"d{i}", **({"slack_channel": f"C0BENCHD{i}"} if spread else {})}
             for i in range(DEPARTMENTS)]
    return {
        "name": "Bench",
        "supervisors_channel": "C0SUPERVISORS",
        "campaigns": [
            {"id": "busy", "channel": "whatsapp", "number": WA_NUMBER, "slack_channel": "C0BUSY",
             "departments": depts, "default_department": "d0",
             "options": {"history_hours": 0}},
            {"id": "other", "channel": "sms", "number": SMS_NUMBER,
             "slack_channel": "C0OTHER", "departments": [{"id": "desk"}],
             "default_department": "desk", "options": {"history_hours": 0}},
        ],
        "agents": [{"id": "ana", "slack_user": "U0ANA", "capacity": 1000, "presence": "online",
                    "departments": [f"busy/d{i}" for i in range(DEPARTMENTS)] + ["other/desk"]}],
    }


class TimedSlack(FakeSlack):
    """The Slack fake, noting when each customer message (by its tag) was shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown: list[tuple[float, int, int]] = []  # (when, conversation, n) in post order

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._post_message(params)
        now = time.monotonic()
        for block in params.get("blocks") or []:
            text = (block.get("text") or {}).get("text", "") if isinstance(block, dict) else ""
            for conv, n in TAG.findall(text):
                self.shown.append((now, int(conv), int(n)))
        return result


class TimedTwilio(FakeTwilio):
    """The Twilio fake, noting when each message arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived: dict[str, float] = {}  # body -> when

    async def _create(self, request: web.Request) -> web.Response:
        response = await super()._create(request)
        if self.messages and self.messages[-1]["body"] not in self.arrived:
            self.arrived[self.messages[-1]["body"]] = time.monotonic()
        return response


class Rig:
    """Redis, the fakes, and the worker processes of one run."""

    def __init__(self, redis_server: EmbeddedRedis, workdir: Path, name: str,
                 workspace_raw: dict[str, Any], delay: float,
                 limits: SlackLimits | None) -> None:
        self.redis_server, self.workdir, self.name = redis_server, workdir, name
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(workspace_raw))
        self.workspace: Workspace = parse_config(workspace_raw)
        self.slack = TimedSlack(SLACK_TOKEN, limits=limits, delay=delay)
        self.twilio = TimedTwilio(SID, TOKEN, delay=delay)
        self.queue = f"bench-{name}"
        self.r = redis.Redis.from_url(redis_server.url, decode_responses=True)
        self.store = Store(self.r, name)
        self.store.seed(self.workspace)
        self.dispatcher = Dispatcher(redis.Redis.from_url(redis_server.url), self.queue)
        self.workers: list[Server] = []
        self._runners: list[web.AppRunner] = []
        self.slack_url = self.twilio_url = ""

    async def start(self, processes: int, threads: int, pacing: SlackLimits | None) -> None:
        for fake in (self.slack, self.twilio):
            runner = web.AppRunner(fake.app(), access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self._runners.append(runner)
            url = f"http://127.0.0.1:{port}"
            if fake is self.slack:
                self.slack_url = url + "/"
            else:
                self.twilio_url = url
        loose = SlackLimits(1e6, 1_000_000, 100_000_000)
        p = pacing or loose
        settings_vars = {n.lower() for n in Settings.model_fields}
        env = {k: v for k, v in os.environ.items() if k.lower() not in settings_vars} | {
            "REDIS_URL": self.redis_server.url, "REDIS_NAMESPACE": self.name,
            "RQ_QUEUE": self.queue, "GATEWAY_CONFIG": str(self.config_path),
            "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE": self.twilio_url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": "bench-secret", "SLACK_API_BASE": self.slack_url,
            "PUBLIC_URL": "http://127.0.0.1:9", "LOG_LEVEL": "warning",
            "WORKER_THREADS": str(threads), "PYTHONUNBUFFERED": "1",
            "SLACK_CHANNEL_RATE": repr(p.channel_rate),
            "SLACK_CHANNEL_BURST": str(p.channel_burst),
            "SLACK_WORKSPACE_PER_MINUTE": str(p.workspace_per_minute),
        }
        for i in range(processes):
            self.workers.append(spawn(f"{self.name}-worker{i}", ["-m", "gateway", "worker"], 0,
                                      self.workdir, env))
        await asyncio.sleep(1.5)  # imports and RQ registration
        for w in self.workers:
            if w.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{w.log_tail()}")

    async def stop(self) -> None:
        for w in self.workers:
            await asyncio.to_thread(w.stop)
        for runner in self._runners:
            await runner.cleanup()
        await self.twilio.close()
        self.r.close()

    # -- what customers and agents do (the gateway's scripts, its enqueues) ---------------

    def customer(self, conv: int, n: int, campaign: str = "busy") -> str:
        phone = f"+52155{conv:08d}"
        wa = campaign == "busy"
        msg = InboundMessage(
            sid=f"SM{self.name}{conv:06d}{n:06d}", channel="whatsapp" if wa else "sms",
            phone=phone, customer_addr=f"whatsapp:{phone}" if wa else phone,
            campaign_addr=f"whatsapp:{WA_NUMBER}" if wa else SMS_NUMBER,
            body=f"q{conv}#{n} hola, sigo esperando mi pedido número {n}")
        result = self.store.inbound(msg, campaign, "d0" if wa else "desk")
        self.dispatcher.enqueue(*result.jobs)
        return result.conversation

    def agent(self, vid: str, text: str, event: str) -> None:
        conv = self.store.conversation_hash(vid)
        result = self.store.agent_reply(AgentReply(
            event, conv["slack_channel"], conv["slack_ts"], "U0ANA", text,
            f"{time.time():.6f}"), "ana")
        assert result.outcome == "queued", result
        self.dispatcher.enqueue(*result.jobs)

    def busy(self) -> bool:
        return bool(self.r.zcard(self.store.keys.pending))

    async def settle(self, timeout: float) -> float:
        """Seconds until every work mark is settled (or the timeout)."""
        start = time.monotonic()
        while self.busy() and time.monotonic() - start < timeout:
            await asyncio.sleep(0.02)
        return time.monotonic() - start


@contextmanager
def embedded_redis() -> Iterator[tuple[EmbeddedRedis, Path]]:
    with tempfile.TemporaryDirectory(prefix="relaydesk-outbound-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", appendonly=False).start()
        try:
            yield server, Path(tmp)
        finally:
            server.stop()


# -- 1. rate with slow providers --------------------------------------------------------------

async def rate(server: EmbeddedRedis, workdir: Path, delay: float, conversations: int,
               processes: int, threads: int) -> tuple[float, float]:
    """(Slack posts/s, Twilio sends/s) with ``processes`` x ``threads`` workers."""
    name = f"rate{processes}x{threads}"
    rig = Rig(server, workdir, name, bench_config(spread=False), delay, None)
    await rig.start(processes, threads, None)
    try:
        start = time.monotonic()
        vids = [rig.customer(c, 1) for c in range(conversations)]
        await rig.settle(300)
        posts = len(rig.slack.calls_to("chat.postMessage"))
        slack_rate = posts / (time.monotonic() - start)
        start = time.monotonic()
        for i, vid in enumerate(vids):
            rig.agent(vid, f"answer {i}", f"Ev{name}{i}")
        await rig.settle(300)
        # until the last send arrived (the status reactions that follow are Slack's work)
        last = max(rig.twilio.arrived.values(), default=time.monotonic())
        twilio_rate = len(rig.twilio.messages) / max(1e-3, last - start)
        return slack_rate, twilio_rate
    finally:
        await rig.stop()


# -- 2. a busy campaign under Slack's limits -------------------------------------------------

async def campaign(server: EmbeddedRedis, workdir: Path, *, spread: bool, conversations: int,
                   seconds: float, every: float, delay: float, threads: int,
                   slack_busy: bool = True) -> dict[str, Any]:
    name = ("spread" if spread else "one") + ("" if slack_busy else "-idle")
    limits = SlackLimits(channel_rate=1.0, channel_burst=3, workspace_per_minute=300)
    rig = Rig(server, workdir, name, bench_config(spread), delay, limits)
    await rig.start(1, threads, limits)
    try:
        for c in range(conversations):  # owners spread the customers over the departments
            rig.store.set_owner([f"+52155{c:08d}"], "department", f"busy/d{c % DEPARTMENTS}",
                                "admin")
        others = [rig.customer(10_000 + i, 0, "other") for i in range(5)]
        await rig.settle(60)
        sent_at: dict[tuple[int, int], float] = {}
        replies: dict[str, float] = {}
        start = time.monotonic()
        rounds = int(seconds / every)
        next_reply, r = start, 0
        for n in range(rounds):
            tick = start + n * every
            for c in range(conversations if slack_busy else 0):
                # customers of one round write spread over the round, not all at once
                at = tick + every * c / conversations
                while time.monotonic() < at:
                    if time.monotonic() >= next_reply:
                        text = f"reply {r}"
                        replies[text] = time.monotonic()
                        rig.agent(others[r % len(others)], text, f"Ev{name}{r}")
                        r, next_reply = r + 1, next_reply + 0.5
                    await asyncio.sleep(0.005)
                rig.customer(c, n)
                sent_at[(c, n)] = time.monotonic()
            while time.monotonic() < tick + every:
                if time.monotonic() >= next_reply:
                    text = f"reply {r}"
                    replies[text] = time.monotonic()
                    rig.agent(others[r % len(others)], text, f"Ev{name}{r}")
                    r, next_reply = r + 1, next_reply + 0.5
                await asyncio.sleep(0.005)
        drained = await rig.settle(600)
        shown = rig.slack.shown
        seen: dict[tuple[int, int], float] = {}
        dupes = 0
        order: dict[int, list[int]] = defaultdict(list)
        for when, c, n in shown:
            if (c, n) not in sent_at:
                continue  # the other campaign's customers
            if (c, n) in seen:
                dupes += 1
                continue
            seen[(c, n)] = when
            order[c].append(n)
        delays = [seen[k] - t for k, t in sent_at.items() if k in seen]
        sms = [rig.twilio.arrived[t] - at for t, at in replies.items() if t in rig.twilio.arrived]
        busy = {"C0BUSY", *(f"C0BENCHD{i}" for i in range(DEPARTMENTS))}
        posts = len([p for p in rig.slack.calls_to("chat.postMessage")
                     if p.get("thread_ts") and p.get("channel") in busy])
        return {
            "messages": len(sent_at), "delivered": len(seen),
            "lost": len(set(sent_at) - set(seen)), "duplicated": dupes,
            "out_of_order": sum(ns != sorted(ns) for ns in order.values()),
            "throttled_429": rig.slack.throttled, "thread_posts": posts,
            "worst_delay": max(delays, default=0.0),
            "median_delay": statistics.median(delays) if delays else 0.0,
            "drain_after_end": drained,
            "sms_sent": len(sms), "sms_asked": len(replies),
            "sms_p50": statistics.median(sms) if sms else 0.0,
            "sms_max": max(sms, default=0.0),
        }
    finally:
        await rig.stop()


async def main(args: argparse.Namespace) -> None:
    with embedded_redis() as (server, workdir):
        print(f"outbound bench: fakes answer after {args.delay * 1000:.0f} ms; "
              f"{os.cpu_count()} cores; workers are `python -m gateway worker` processes")
        if args.only in ("", "rate"):
            await _rates(server, workdir, args)
        if args.only in ("", "campaign"):
            await _campaigns(server, workdir, args)


async def _rates(server: EmbeddedRedis, workdir: Path, args: argparse.Namespace) -> None:
    print("\n1. rate with slow providers (issue 11 item 5): "
          f"{args.rate_conversations} conversations, card + reply each, then an agent "
          "reply each")
    base: tuple[float, float] | None = None
    for processes, threads in ((1, 1), (1, 4), (1, 8), (2, 8)):
        slack, twilio = await rate(server, workdir, args.delay, args.rate_conversations,
                                   processes, threads)
        base = base or (slack, twilio)
        print(f"   {processes} process x {threads} thread(s): Slack {slack:6.1f} posts/s "
              f"({slack / base[0]:4.1f}x), Twilio {twilio:6.1f} sends/s "
              f"({twilio / base[1]:4.1f}x)")
        print(f"      ceiling at {args.delay * 1000:.0f} ms per call: "
              f"{processes * threads / args.delay:.0f} calls/s")


async def _campaigns(server: EmbeddedRedis, workdir: Path, args: argparse.Namespace) -> None:
    print(f"\n2. a busy campaign under Slack's limits (issue 11 item 4): "
          f"{args.conversations} conversations, each customer writing every {args.every:g} s "
          f"for {args.seconds:g} s (the issue's 60 s scaled to {args.seconds:g} s), Slack "
          "1 post/s per channel (burst 3), 300/min per workspace; 1 worker process x "
          f"{args.threads} threads; an agent answers SMS customers of another campaign "
          "twice a second")
    idle = await campaign(server, workdir, spread=False, conversations=args.conversations,
                          seconds=min(args.seconds, 10), every=args.every, delay=0.05,
                          threads=args.threads, slack_busy=False)
    for spread in (False, True):
        res = await campaign(server, workdir, spread=spread,
                             conversations=args.conversations, seconds=args.seconds,
                             every=args.every, delay=0.05, threads=args.threads)
        where = (f"{DEPARTMENTS} department channels" if spread
                 else "one channel (the campaign's)")
        print(f"   {where}:")
        print(f"      messages {res['messages']}, delivered {res['delivered']}, lost "
              f"{res['lost']}, duplicated {res['duplicated']}, conversations out of order "
              f"{res['out_of_order']}; 429s from Slack {res['throttled_429']}")
        print(f"      coalescing: {res['thread_posts']} thread posts for "
              f"{res['delivered']} messages "
              f"({res['delivered'] / max(1, res['thread_posts']):.1f} messages per post)")
        print(f"      customer -> Slack delay: median {res['median_delay']:.1f} s, worst "
              f"{res['worst_delay']:.1f} s (all shown {res['drain_after_end']:.1f} s after "
              "the last message)")
        ratio = res["sms_p50"] / idle["sms_p50"] if idle["sms_p50"] else float("nan")
        print(f"      SMS sends of other conversations: {res['sms_sent']}/{res['sms_asked']} "
              f"sent, p50 {res['sms_p50'] * 1000:.0f} ms, max {res['sms_max'] * 1000:.0f} ms "
              f"(Slack idle: p50 {idle['sms_p50'] * 1000:.0f} ms, max "
              f"{idle['sms_max'] * 1000:.0f} ms; ratio {ratio:.2f})")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.outbound", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--delay", type=float, default=0.15, help="fake answer delay, seconds")
    p.add_argument("--rate-conversations", type=int, default=40)
    p.add_argument("--conversations", type=int, default=40)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--every", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=4, help="worker threads in part 2")
    p.add_argument("--only", choices=("rate", "campaign"), default="", help="one part only")
    return p.parse_args(argv)


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main(parse()))
