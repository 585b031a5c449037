"""``python -m bench`` (``make bench``): the gateway's inbound webhook path against a bare
aiohttp ceiling, both driven by ``wrk`` pinned to the other core, on 127.0.0.1, with Redis
round trips, commands and CPU per message.

Everything it needs it starts itself (two throw-away Redis servers, the gateway in sandbox
mode, the ceiling) and stops on the way out, whatever happens. The run is bounded both in
requests and in time; figures go to stdout and to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis
from rq import Queue

from bench import e2e, floor, report
from bench import routing as routing_bench
from bench.load import CUSTOMERS, PATH
from bench.processes import Server, StartupFailed, gateway_env, spawn, wait_ready
from bench.redis_stats import Counters, Meter, per_message
from bench.wrk import WrkMissing, WrkResult, cores, pin, run_wrk, write_webhooks
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.settings import SANDBOX_TWILIO_TOKEN, Settings
from routing.config import load_config

LIGHT = 50.0  # customer messages per second of the reference end-to-end run
RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "relaydesk.yaml"


@dataclass(frozen=True)
class Config:
    seconds: float  # each measured wrk run
    rounds: int  # ceiling then gateway, this many times
    concurrency: int
    warmup: int  # webhooks in the gateway's warm-up (opens every customer's conversation)
    quick: bool
    e2e_seconds: float  # each end-to-end run; 0 skips them

    @property
    def per_round(self) -> int:
        """Distinct webhooks per measured gateway run: enough for 25k req/s."""
        return int(self.seconds * 25_000)


def parse_args(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, help="each measured wrk run (default 4)")
    p.add_argument("--rounds", type=int, help="ceiling + gateway pairs (default 5)")
    p.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    p.add_argument("--e2e-seconds", type=float, help="each end-to-end run (default 5; 0: none)")
    p.add_argument("--quick", action="store_true", help="a short smoke run")
    args = p.parse_args(argv)
    if args.concurrency < 1 or (args.rounds is not None and args.rounds < 1):
        p.error("--rounds and --concurrency must be at least 1")
    e2e = args.e2e_seconds
    if args.quick:
        return Config(args.seconds or 2.0, args.rounds or 1, args.concurrency, 1000, True,
                      2.0 if e2e is None else e2e)
    return Config(args.seconds or 4.0, args.rounds or 5, args.concurrency, 2000, False,
                  5.0 if e2e is None else e2e)


@dataclass
class Measured:
    result: WrkResult
    server_cpu: float | None
    counters: dict[str, Counters]


def measure_target(cfg: Config, server: Server, webhooks: Path, first: int,
                   meters: dict[str, Meter], load_core: int | None) -> Measured:
    """One measured wrk run; Redis counters are reset right before it."""
    for meter in meters.values():
        meter.start()
    cpu_before = server.cpu_seconds()
    result = run_wrk(server.base_url + PATH, webhooks, first, cfg.per_round, cfg.seconds,
                     cfg.concurrency, load_core)
    cpu_after = server.cpu_seconds()
    counters = {name: meter.stop() for name, meter in meters.items()}
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Measured(result, cpu, counters)


def measure(cfg: Config, webhooks: Path, gateway: Server, ceiling: Server, routing_url: str,
            rq_url: str, load_core: int | None) -> dict[str, Any]:
    routing, rq = redis.Redis.from_url(routing_url), redis.Redis.from_url(rq_url)
    rounds: list[dict[str, Measured]] = []
    try:
        meters = {"routing": Meter(routing), "rq": Meter(rq)}
        for server in (gateway, ceiling):  # opens every customer's conversation; JIT-free
            run_wrk(server.base_url + PATH, webhooks, 0, cfg.warmup, 1.0, cfg.concurrency,
                    load_core)
        for r in range(cfg.rounds):
            first = cfg.warmup + r * cfg.per_round
            ceil = measure_target(cfg, ceiling, webhooks, first, {}, load_core)
            gw = measure_target(cfg, gateway, webhooks, first, meters, load_core)
            rounds.append({"ceiling": ceil, "gateway": gw})
        log_tail = gateway.log_tail() if any(
            m["gateway"].result.errors for m in rounds) else ""
        routing_figures = asyncio.run(routing_bench.measure(
            routing_url, load_config(EXAMPLE_CONFIG), 3000, cfg.concurrency))
        queue = Queue(Settings.model_fields["rq_queue"].default, connection=rq)
        jobs, version = queue.count, routing.info("server")["redis_version"]
    finally:
        routing.close()
        rq.close()
    summaries = [{name: report.target_summary(m.result, m.server_cpu)
                  for name, m in pair.items()} for pair in rounds]
    last = rounds[-1]["gateway"]
    return {
        "run": run_info(cfg, version, load_core),
        "rounds": [{**s, "comparison": report.comparison(s["gateway"], s["ceiling"])}
                   for s in summaries],
        "redis_per_message": redis_figures(last.counters, last.result),
        "routing": routing_figures,
        "checks": {"jobs_queued": jobs, "gateway_log_tail": log_tail},
    }


def run_info(cfg: Config, redis_version: str, load_core: int | None) -> dict[str, Any]:
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": cfg.seconds,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "rounds": cfg.rounds, "warmup": cfg.warmup, "customers": CUSTOMERS,
        "concurrency": cfg.concurrency, "quick": cfg.quick, "cpus": os.cpu_count(),
        "pinned": load_core is not None, "python": platform.python_version(),
        "aiohttp": aiohttp.__version__, "redis_server": redis_version,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }


def redis_figures(counters: dict[str, Counters], result: WrkResult) -> dict[str, Any]:
    figures = {}
    for name, counted in counters.items():
        figures[name] = per_message(counted, result.requests)
        figures[name]["cpu_percent"] = round(100 * counted.cpu / result.seconds, 1)
    return figures


def two_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


async def _ready(*servers: Server) -> None:
    await asyncio.gather(*(wait_ready(s) for s in servers))


def run(cfg: Config) -> dict[str, Any]:
    gw_port, ceil_port = two_ports()
    server_core, load_core = cores()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relaydesk-bench-")))
        # Signed for the gateway's public URL (http://HOST:PORT); the ceiling gets the same bytes.
        webhooks = write_webhooks(tmp / "webhooks.txt", cfg.warmup + cfg.rounds * cfg.per_round,
                                  f"http://127.0.0.1:{gw_port}", SANDBOX_TWILIO_TOKEN)
        routing = stack.enter_context(EmbeddedRedis(tmp / "routing", appendonly=False))
        rq = stack.enter_context(EmbeddedRedis(tmp / "rq", appendonly=False))
        for server in (routing, rq):  # Redis shares the load generator's core, not the server's
            assert server.process is not None
            pin(server.process.pid, load_core)
        gateway = spawn("gateway", ["-m", "gateway", "web"], gw_port, tmp,
                        gateway_env(gw_port, routing.url, rq.url))
        stack.callback(gateway.stop)
        ceiling = spawn("ceiling", ["-m", "bench.ceiling", str(ceil_port)], ceil_port, tmp)
        stack.callback(ceiling.stop)
        for server in (gateway, ceiling):
            pin(server.process.pid, server_core)
        asyncio.run(_ready(gateway, ceiling))
        return measure(cfg, webhooks, gateway, ceiling, routing.url, rq.url, load_core)


def run_e2e(cfg: Config, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """At half the gateway's measured maximum inbound rate (what issue 11 asks), at a light
    load, then at doubling rates from there while both paths keep p99 under the goal: the
    highest rate that does is the end-to-end rate this machine sustains."""
    half = statistics.median(r["gateway"]["rps"] for r in summary["rounds"]) / 2
    runs = []
    for label, rate in (("at half the max inbound rate", half), ("at a light load", LIGHT)):
        result = e2e.run(rate, cfg.e2e_seconds)
        result["label"] = label
        runs.append(result)
    rate = LIGHT * 2
    while e2e.meets_goal(runs[-1]) and rate < half:
        result = e2e.run(rate, cfg.e2e_seconds)
        result["label"] = f"climbing to the goal's limit, at {rate:.0f} msg/s"
        runs.append(result)
        rate *= 2
    return runs


def floor_budget(summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Slack SDK and fake's own cost per post, and what it leaves the workers at half the
    max (``bench/floor.py``), from this run's figures."""
    half = summary["e2e"][0]
    met = [r for r in summary["e2e"][1:] if e2e.meets_goal(r)]  # each message its own post
    light = max(met, key=lambda r: r["rate"]) if met else summary["e2e"][1]
    measured = floor.measure()
    gateway_us = statistics.median(r["gateway"]["server_cpu_us_per_request"]
                                   for r in summary["rounds"])
    inbound_us = {"gateway": gateway_us,
                  "routing Redis": summary["redis_per_message"]["routing"]["cpu_us"],
                  "load generator": half["cpu_us_per_message"]["load generator"]}
    calls = sum(light["calls"].values())
    delivered = light["customer"]["delivered"] + light["agent"]["delivered"]
    cpu = light["cpu_us_per_message"]
    own = None  # the workers' own work per provider call, as the floor's "left" counts it
    if calls:
        per_call = (cpu["workers"] + cpu["routing Redis"] + cpu["RQ Redis"]) * delivered / calls
        own = (light["rate"], bool(met), per_call - measured["client_us_per_post"]
               - inbound_us["routing Redis"])
    return measured, floor.budget(measured, half["rate"], CUSTOMERS, inbound_us, own)


def _interrupt(_signum: int, _frame: object) -> None:
    # Raise at once, not when asyncio.run's own handler would (at the next await): a terminal's
    # Ctrl-C also stops the Redis servers, which share our process group, and the bench must
    # unwind before it trips over them. run()'s ExitStack then stops everything else.
    raise KeyboardInterrupt


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = run(cfg)
    except KeyboardInterrupt:
        sys.exit("bench: interrupted; servers stopped")
    except (StartupFailed, WrkMissing) as exc:
        sys.exit(f"bench: {exc}")
    print(report.render(summary))
    print(routing_bench.render(summary["routing"]))
    if cfg.e2e_seconds:
        try:
            summary["e2e"] = run_e2e(cfg, summary)
            for result in summary["e2e"]:
                print(e2e.render(result, f" {result['label']}"))
            print(e2e.render_goal(summary["e2e"]))
            try:
                measured, budget = floor_budget(summary)
                summary["floor"] = {"measured": measured, "budget": budget}
                print(floor.render(measured, budget))
            except Exception as exc:  # the figures above still count: keep them
                summary["floor"] = {"error": repr(exc)}
                print(f"floor: not measured ({exc!r})")
        except KeyboardInterrupt:
            sys.exit("bench: interrupted; servers stopped")
    summary["run"]["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    print(f"machine load average (1/5/15 min): {summary['run']['load_average']} at the start, "
          f"{summary['run']['load_average_end']} at the end (2 CPUs; above ~2 other work "
          "competed with the bench)")
    if tail := summary["checks"]["gateway_log_tail"]:
        print(f"gateway log (last lines):\n{tail}", file=sys.stderr)
    print(f"results: {report.write_json(summary, RESULTS)}")


if __name__ == "__main__":
    main()
