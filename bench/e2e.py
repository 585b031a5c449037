"""End-to-end latency with workers running: customer webhook -> post in the Slack fake, and
agent Slack event -> ``Messages.create`` at the Twilio fake.

The real processes (gateway, ``WORKERS`` RQ workers, two Redis servers) run live, not in
sandbox mode, against the Slack and Twilio stand-ins in their own process (bench/fakes.py),
which stamp each bench message on arrival. Load is open-loop: webhooks are sent on a fixed
schedule whatever the answers, over keep-alive connections, from pre-built, signed requests,
so a slow system meets the same offered rate (no coordinated omission). Every message is
timed, from the moment its request is written to the moment the fake receives it; the part
before the gateway's 200 is reported separately from the queue and worker part.

Nothing is pinned here: the processes share the machine's cores as they would in production.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis
from rq import Queue

from bench.load import CUSTOMERS, PATH, WHATSAPP_SENDER, customer_phones
from bench.processes import CONFIG, ROOT, Server, spawn, wait_ready
from bench.redis_stats import Meter
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.settings import Settings
from routing.config import load_config
from routing.keys import Keys
from routing.store import Store
from tests.signing import dumps, slack_headers, thread_reply_event, twilio_signature, whatsapp_form

WORKERS = 2
TWILIO_SID, TWILIO_TOKEN = "AC" + "3" * 32, "bench-twilio-token"
SLACK_TOKEN, SLACK_SECRET = "xoxb-bench", "bench-signing-secret"
AGENT_RATE = 20.0  # agent replies per second during the load
CONNECTIONS = 64
DRAIN = 30.0  # seconds the bench waits after the load for the last deliveries
GOAL_MS = 50.0  # issue 11: p99 under 50 ms for both paths


@dataclass
class Timings:
    sent: dict[str, float] = field(default_factory=dict)
    answered: dict[str, tuple[float, int]] = field(default_factory=dict)


class OpenLoop:
    """Pre-built HTTP/1.1 requests written on a schedule over keep-alive connections; the
    answers are read as they come (in order, per connection)."""

    def __init__(self, port: int, timings: Timings) -> None:
        self.port = port
        self.timings = timings
        self.conns: list[tuple[asyncio.StreamWriter, deque[str]]] = []
        self.readers: list[asyncio.Task[None]] = []
        self._next = 0

    async def open(self, count: int) -> None:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            waiting: deque[str] = deque()
            self.conns.append((writer, waiting))
            self.readers.append(asyncio.create_task(self._read(reader, waiting)))

    async def _read(self, reader: asyncio.StreamReader, waiting: deque[str]) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            self.timings.answered[waiting.popleft()] = (time.time(), status)

    def send(self, key: str, request: bytes) -> None:
        writer, waiting = self.conns[self._next % len(self.conns)]
        self._next += 1
        waiting.append(key)
        self.timings.sent[key] = time.time()
        writer.write(request)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for writer, _ in self.conns:
            writer.close()


def raw_post(port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def customer_request(port: int, ref: int, phone: str) -> bytes:
    form = whatsapp_form(f"SM{ref:032x}", f"Necesito ayuda ref{ref}x", phone=phone,
                         to=WHATSAPP_SENDER)
    url = f"http://127.0.0.1:{port}{PATH}"
    return raw_post(port, PATH, {"Content-Type": "application/x-www-form-urlencoded",
                                 "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form)},
                    urlencode(form).encode())


def agent_request(port: int, ref: int, channel: str, thread_ts: str, user: str) -> bytes:
    event = thread_reply_event(f"EvBench{ref}", channel, thread_ts, user,
                               f"Con gusto ref{ref}x", ts=f"1800000000.{ref:06d}")
    body = dumps(event)
    return raw_post(port, "/slack/events", slack_headers(SLACK_SECRET, body), body.encode())


def percentiles(values: list[float], missing: int = 0) -> dict[str, float | None]:
    """p50, p99 and max in ms; ``missing`` values never arrived and count as infinitely late
    (reported as None), so a lost or stuck message cannot flatter a percentile."""
    ranked = sorted(values) + [math.inf] * missing
    if not ranked:
        return {"p50": None, "p99": None, "max": None}

    def at(q: float) -> float | None:
        value = ranked[min(len(ranked) - 1, math.ceil(q * len(ranked)) - 1)]
        return None if math.isinf(value) else round(value, 2)

    return {"p50": at(0.50), "p99": at(0.99), "max": at(1.0)}


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stamps(slack_port: int) -> dict[str, dict[str, float]]:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{slack_port}/bench/stamps") as resp:
        return await resp.json()


async def drive(rate: float, seconds: float, gw: Server, slack_port: int, routing_url: str,
                rq_url: str, workers: list[Server], others: dict[str, int]) -> dict[str, Any]:
    """``others``: the pids of the remaining processes (Redis servers, the fakes) whose CPU
    is counted in the budget along with the gateway's, the workers' and this driver's."""
    port = gw.port
    namespace = Settings.model_fields["redis_namespace"].default
    keys = Keys(namespace)
    sync = redis.Redis.from_url(routing_url)
    rq = redis.Redis.from_url(rq_url)
    queue_key = "rq:queue:" + Settings.model_fields["rq_queue"].default
    workspace = load_config(CONFIG)
    store = Store(sync, namespace)
    for agent in workspace.agents:  # room for every bench conversation, everyone online
        store.set_capacity(agent.id, 10_000, "bench")
        store.set_presence(agent.id, "online", "bench")
    phones = customer_phones(CUSTOMERS)
    timings = Timings()
    loop = OpenLoop(port, timings)
    await loop.open(CONNECTIONS)
    try:
        # Warm-up: every customer's first message opens a conversation and its Slack thread.
        for i, phone in enumerate(phones):
            loop.send(f"c{i}", customer_request(port, i, phone))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len((await stamps(slack_port))["slack"]) >= len(phones):
                break
            await asyncio.sleep(0.2)
        running = Queue(queue_key.removeprefix("rq:queue:"), connection=rq).started_job_registry
        while time.monotonic() < deadline and (rq.llen(queue_key) or running.count):
            await asyncio.sleep(0.2)  # cards, alerts: all done, not only taken
        threads = []
        for vid in sync.hvals(keys.open):
            conv = {k.decode(): v.decode()
                    for k, v in sync.hgetall(keys.conv(vid.decode())).items()}
            agent = workspace.agent(conv.get("assignee", ""))
            if conv.get("slack_ts") and agent:
                threads.append((conv["slack_channel"], conv["slack_ts"], agent.slack_user))
        if not threads:
            raise RuntimeError("e2e warm-up: no conversation got a Slack thread and an agent")
        # The measured load: customers at `rate`, agents at AGENT_RATE, open-loop.
        n_customer, n_agent = int(rate * seconds), int(AGENT_RATE * seconds)
        customers = [(f"c{r}", customer_request(port, r, phones[r % len(phones)]))
                     for r in range(len(phones), len(phones) + n_customer)]
        agents = [(f"a{r}", agent_request(port, r, *threads[r % len(threads)]))
                  for r in range(n_agent)]
        schedule = sorted([(i / rate, k, req) for i, (k, req) in enumerate(customers)]
                          + [(i / AGENT_RATE, k, req) for i, (k, req) in enumerate(agents)],
                          key=lambda item: item[0])
        worker_cpu = [cpu_seconds(w.process.pid) for w in workers]
        gw_cpu = cpu_seconds(gw.process.pid)
        pids = {"gateway": [gw.process.pid], "workers": [w.process.pid for w in workers]} | {
            name: [pid] for name, pid in others.items()}

        def cpu_now() -> dict[str, float]:
            """CPU seconds so far of each process group, and of this driver (the load)."""
            return {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()
                    } | {"load generator": time.process_time()}

        calls_before = (await stamps(slack_port))["calls"]
        budget = cpu_now()
        meters = {"routing": Meter(sync), "rq": Meter(rq)}
        for meter in meters.values():
            meter.start()
        queue_lengths = []
        start = time.perf_counter()
        wall_start = time.time()
        index = 0
        while index < len(schedule):
            elapsed = time.perf_counter() - start
            while index < len(schedule) and schedule[index][0] <= elapsed:
                _, key, request = schedule[index]
                loop.send(key, request)
                index += 1
            if index % 200 == 0:
                queue_lengths.append(rq.llen(queue_key))
            await asyncio.sleep(0.001)
        offered_for = time.perf_counter() - start
        gw_cpu = cpu_seconds(gw.process.pid) - gw_cpu
        # Drain: wait for every measured message to arrive (or give up).
        wanted_c = {k[1:] for k, _ in customers}
        wanted_a = {k[1:] for k, _ in agents}
        deadline = time.monotonic() + DRAIN
        while True:
            got = await stamps(slack_port)
            if (wanted_c <= got["slack"].keys() and wanted_a <= got["twilio"].keys()) \
                    or time.monotonic() > deadline:
                break
            queue_lengths.append(rq.llen(queue_key))
            await asyncio.sleep(0.2)
        drained_at = time.time()
        budget = {name: spent - budget[name] for name, spent in cpu_now().items()}
        counted = {name: meter.stop() for name, meter in meters.items()}
        worker_cpu = [cpu_seconds(w.process.pid) - c for w, c in zip(workers, worker_cpu,
                                                                        strict=True)]
    finally:
        await loop.close()
        sync.close()
        rq.close()

    def lat(kind: str, refs: set[str], prefix: str) -> dict[str, Any]:
        arrived = got[kind]
        total, after_200, http = [], [], []
        for ref in refs:
            key = prefix + ref
            sent = timings.sent[key]
            answered = timings.answered.get(key)
            if answered:
                http.append(1000 * (answered[0] - sent))
            if ref in arrived:
                total.append(1000 * (arrived[ref] - sent))
                if answered:
                    after_200.append(1000 * (arrived[ref] - answered[0]))
        last = max((arrived[r] for r in refs if r in arrived), default=wall_start)
        return {"sent": len(refs), "delivered": len(total),
                "end_to_end_ms": percentiles(total, len(refs) - len(total)),
                "http_ms": percentiles(http, len(refs) - len(http)),
                "after_200_ms": percentiles(after_200, len(refs) - len(after_200)),
                "delivered_per_s": round(len(total) / max(last - wall_start, 1e-9), 1),
                "non_200": sum(1 for r in refs if timings.answered.get(prefix + r, (0, 200))[1]
                               != 200)}

    customer, agent = lat("slack", wanted_c, "c"), lat("twilio", wanted_a, "a")
    delivered = max(customer["delivered"] + agent["delivered"], 1)
    return {
        "workers": len(workers), "rate": rate, "agent_rate": AGENT_RATE, "seconds": seconds,
        # CPU of each process from the start of the load to the last delivery (or the drain's
        # end), per delivered message: what this machine's cores must carry.
        "cpu_us_per_message": {name: round(1e6 * used / delivered, 1)
                               for name, used in budget.items()},
        "offered_for_s": round(offered_for, 2), "customer": customer, "agent": agent,
        "rq_queue_max": max(queue_lengths, default=0),
        # Provider calls that carried measured messages (a post may coalesce several).
        "calls": {kind: got["calls"][kind] - calls_before[kind] for kind in calls_before},
        "worker_cpu_percent": [round(100 * c / (drained_at - wall_start), 0)
                               for c in worker_cpu],
        "gateway_cpu_percent": round(100 * gw_cpu / offered_for, 0),
        "jobs": counted["rq"].commands.get("lpush", 0) + counted["rq"].commands.get("rpush", 0),
        "round_trips": {name: c.round_trips for name, c in counted.items()},
    }


def env(port: int, routing_url: str, rq_url: str, slack_port: int, twilio_port: int
        ) -> dict[str, str]:
    settings_vars = {name.lower() for name in Settings.model_fields}
    base = {k: v for k, v in os.environ.items() if k.lower() not in settings_vars}
    return base | {
        "HOST": "127.0.0.1", "PORT": str(port), "REDIS_URL": routing_url, "RQ_REDIS_URL": rq_url,
        "GATEWAY_CONFIG": str(CONFIG), "LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1",
        "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_API_BASE": f"http://127.0.0.1:{twilio_port}",
        "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_BASE": f"http://127.0.0.1:{slack_port}/api/",
        # The fake Slack has no rate limits here, so Relay Desk's pacing (about 1 post/s per
        # channel, as Slack allows) is lifted to match: this measures Relay Desk's own latency.
        # Behaviour under Slack's real limits is measured by ``python -m bench.outbound``.
        "SLACK_CHANNEL_RATE": "10000", "SLACK_CHANNEL_BURST": "10000",
        "SLACK_WORKSPACE_PER_MINUTE": "100000000",
    }


async def _ready(servers: list[Server]) -> None:
    await asyncio.gather(*(wait_ready(s) for s in servers))


def start_fakes(stack: ExitStack, slack_port: int, twilio_port: int, log_path: Path) -> Server:
    """The Slack and Twilio stand-ins in their own process (``bench.fakes``), stopped when
    ``stack`` closes; wait for it with ``wait_ready``."""
    log = stack.enter_context(log_path.open("wb"))
    fakes = subprocess.Popen(
        [sys.executable, "-m", "bench.fakes", str(slack_port), str(twilio_port), TWILIO_SID,
         TWILIO_TOKEN, SLACK_TOKEN], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    stack.callback(lambda: (fakes.terminate(), fakes.wait()))
    return Server("fakes", slack_port, fakes, log_path, log)


def run(rate: float, seconds: float = 10.0, workers: int = WORKERS) -> dict[str, Any]:
    """One end-to-end run at ``rate`` customer messages per second."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relaydesk-e2e-")))
        routing = stack.enter_context(EmbeddedRedis(tmp / "routing", appendonly=False))
        rq = stack.enter_context(EmbeddedRedis(tmp / "rq", appendonly=False))
        gw_port, slack_port, twilio_port = free_port(), free_port(), free_port()
        fake_health = start_fakes(stack, slack_port, twilio_port, tmp / "fakes.log")
        fakes = fake_health.process
        environment = env(gw_port, routing.url, rq.url, slack_port, twilio_port)
        gateway = spawn("e2e-gateway", ["-m", "gateway", "web"], gw_port, tmp, environment)
        stack.callback(gateway.stop)
        procs = []
        for i in range(workers):
            worker = spawn(f"e2e-worker{i}", ["-m", "gateway", "worker"], gw_port, tmp,
                           environment)
            stack.callback(worker.stop)
            procs.append(worker)
        asyncio.run(_ready([gateway, fake_health]))
        others = {"routing Redis": routing.process.pid, "RQ Redis": rq.process.pid,
                  "Slack and Twilio fakes": fakes.pid}
        return asyncio.run(drive(rate, seconds, gateway, slack_port, routing.url, rq.url, procs,
                                 others))


def _per(r: dict[str, Any], name: str) -> str:
    delivered = r["customer"]["delivered"] + r["agent"]["delivered"]
    return f"{r['round_trips'][name] / delivered:.1f}" if delivered else "n/a"


def _ms(value: float | None) -> str:
    return f"> {DRAIN:.0f} s (undelivered)" if value is None else f"{value:.1f} ms"


def render(r: dict[str, Any], label: str = "") -> str:
    def line(name: str, d: dict[str, Any]) -> str:
        e, h, a = d["end_to_end_ms"], d["http_ms"], d["after_200_ms"]
        return (f"  {name}: {d['delivered']}/{d['sent']} delivered; end-to-end p50 "
                f"{_ms(e['p50'])}, p99 {_ms(e['p99'])}\n"
                f"      = webhook answered (p50 {_ms(h['p50'])}, p99 {_ms(h['p99'])}) + queue "
                f"and worker (p50 {_ms(a['p50'])}, p99 {_ms(a['p99'])})")
    posts = r["calls"]["slack"]
    return "\n".join([
        f"end-to-end{label}, {r['workers']} RQ workers: customers at {r['rate']:.0f} msg/s and "
        f"agents at {r['agent_rate']:.0f} replies/s, open-loop for {r['seconds']:g} s",
        line("customer webhook -> Slack post", r["customer"]),
        line("agent event -> Twilio send    ", r["agent"]),
        f"  relayed to Slack at {r['customer']['delivered_per_s']}/s in {posts} posts "
        f"({r['customer']['delivered'] / max(posts, 1):.1f} messages per post); RQ queue up to "
        f"{r['rq_queue_max']} jobs; CPU: gateway {r['gateway_cpu_percent']:.0f}%, workers "
        + ", ".join(f"{c:.0f}%" for c in r["worker_cpu_percent"]),
        f"  Redis round trips per delivered message (webhooks, RQ and jobs): "
        f"{_per(r, 'routing')} routing + {_per(r, 'rq')} RQ",
        budget_line(r["cpu_us_per_message"]),
    ])


def meets_goal(r: dict[str, Any]) -> bool:
    """Every message delivered, and both paths' p99 under ``GOAL_MS``."""
    return all(r[path]["delivered"] == r[path]["sent"]
               and (r[path]["end_to_end_ms"]["p99"] or math.inf) < GOAL_MS
               for path in ("customer", "agent"))


def render_goal(runs: list[dict[str, Any]]) -> str:
    met = [r["rate"] for r in runs if meets_goal(r)]
    missed = [r["rate"] for r in runs if not meets_goal(r)]
    above = [rate for rate in missed if not met or rate > max(met)]
    return (f"end-to-end goal (every message delivered, p99 under {GOAL_MS:.0f} ms on both "
            f"paths): met up to " + (f"{max(met):.0f} msg/s" if met else "none of the rates")
            + (f"; missed from {min(above):.0f} msg/s" if above else ""))


#: The processes that are Relay Desk (the rest stand in for the customers and the providers).
RELAY_DESK = ("gateway", "workers", "routing Redis", "RQ Redis")


def budget_line(cpu: dict[str, float]) -> str:
    """CPU per delivered message by process, and the end-to-end rate it allows on this
    machine's cores if nothing else ran (the bench's own stand-ins do run, on the same cores)."""
    ours = sum(cpu[name] for name in RELAY_DESK)
    everything = sum(cpu.values())
    cores = os.cpu_count() or 1
    return ("  CPU per delivered message: " + ", ".join(f"{name} {cpu[name]:.0f} µs"
                                                      for name in RELAY_DESK)
            + f" = Relay Desk {ours:.0f} µs (at most {cores * 1e6 / ours:,.0f} msg/s on "
            f"{cores} cores); with the load generator ({cpu['load generator']:.0f} µs) and the "
            f"fakes ({cpu['Slack and Twilio fakes']:.0f} µs), {everything:.0f} µs: at most "
            f"{cores * 1e6 / everything:,.0f} msg/s here")


if __name__ == "__main__":
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 100.0
    result = run(rate, float(sys.argv[2]) if len(sys.argv) > 2 else 10.0,
                 int(sys.argv[3]) if len(sys.argv) > 3 else WORKERS)
    print(render(result))
    print(json.dumps(result))
