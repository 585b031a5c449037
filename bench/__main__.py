"""``python -m bench`` (``make bench``): the gateway's inbound webhook path against a bare
aiohttp ceiling, on 127.0.0.1, with Redis commands per message.

Everything it needs it starts itself (two throw-away Redis servers, the gateway in sandbox
mode, the ceiling) and stops on the way out, whatever happens. The run is bounded both in
requests and in time; figures go to stdout and to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
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

from bench import report
from bench import routing as routing_bench
from bench.load import CUSTOMERS, PATH, Phase, Webhook, build_webhooks, run_phase, session
from bench.processes import Server, StartupFailed, gateway_env, spawn, wait_ready
from bench.redis_stats import Counters, Meter, per_message
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.settings import SANDBOX_TWILIO_TOKEN, Settings
from routing.config import load_config

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "relaydesk.yaml"


@dataclass(frozen=True)
class Config:
    requests: int
    concurrency: int
    warmup: int
    budget: float  # seconds a measured phase may send for
    warmup_budget: float
    quick: bool


def parse_args(argv: list[str] | None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, help="measured requests per target (default 3000)")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    p.add_argument("--quick", action="store_true", help="a ~10 s smoke run")
    args = p.parse_args(argv)
    if args.concurrency < 1 or (args.requests is not None and args.requests < 1):
        p.error("--requests and --concurrency must be at least 1")
    if args.quick:
        return Config(args.requests or 1000, args.concurrency, 100, 5.0, 3.0, True)
    return Config(args.requests or 3000, args.concurrency, 200, 30.0, 10.0, False)


async def run_target(cfg: Config, server: Server, warm: list[Webhook], measured: list[Webhook],
                     meters: dict[str, Meter]) -> tuple[Phase, Phase, float | None,
                                                        dict[str, Counters]]:
    """Warm up, then one measured phase; Redis counters are reset right before it."""
    url = server.base_url + PATH
    async with session(cfg.concurrency) as http:
        warmup = await run_phase(http, url, warm, cfg.concurrency, cfg.warmup_budget)
        for meter in meters.values():
            meter.start()
        cpu_before = server.cpu_seconds()
        phase = await run_phase(http, url, measured, cfg.concurrency, cfg.budget)
        cpu_after = server.cpu_seconds()
        counters = {name: meter.stop() for name, meter in meters.items()}
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return warmup, phase, cpu, counters


async def measure(cfg: Config, hooks: list[Webhook], gateway: Server, ceiling: Server,
                  routing_url: str, rq_url: str) -> dict[str, Any]:
    await asyncio.gather(wait_ready(gateway), wait_ready(ceiling))
    warm, measured = hooks[:cfg.warmup], hooks[cfg.warmup:]
    routing, rq = redis.Redis.from_url(routing_url), redis.Redis.from_url(rq_url)
    try:
        meters = {"routing": Meter(routing), "rq": Meter(rq)}
        gw_warm, gw, gw_cpu, counters = await run_target(cfg, gateway, warm, measured, meters)
        log_tail = gateway.log_tail() if gw_warm.errors or gw.errors else ""
        ceil_warm, ceil, ceil_cpu, _ = await run_target(cfg, ceiling, warm, measured, {})
        routing_figures = await routing_bench.measure(
            routing_url, load_config(EXAMPLE_CONFIG), cfg.requests, cfg.concurrency)
        queue = Queue(Settings.model_fields["rq_queue"].default, connection=rq)
        jobs, version = queue.count, routing.info("server")["redis_version"]
    finally:
        routing.close()
        rq.close()
    targets = {"ceiling": report.target_summary(ceil, ceil_cpu),
               "gateway": report.target_summary(gw, gw_cpu)}
    return {
        "run": run_info(cfg, version),
        "targets": targets,
        "comparison": report.comparison(targets["gateway"], targets["ceiling"]),
        "redis_per_message": redis_figures(counters, gw),
        "routing": routing_figures,
        "checks": {
            "jobs_queued": jobs, "messages_ok": gw_warm.ok + gw.ok,
            "warmup_errors": {"gateway": dict(gw_warm.errors), "ceiling": dict(ceil_warm.errors)},
            "gateway_log_tail": log_tail,  # only when the gateway answered anything but 200
        },
    }


def run_info(cfg: Config, redis_version: str) -> dict[str, Any]:
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "requests": cfg.requests,
        "warmup": cfg.warmup, "customers": CUSTOMERS, "concurrency": cfg.concurrency,
        "quick": cfg.quick, "cpus": os.cpu_count(), "python": platform.python_version(),
        "aiohttp": aiohttp.__version__, "redis_server": redis_version,
    }


def redis_figures(counters: dict[str, Counters], phase: Phase) -> dict[str, dict[str, Any]]:
    figures = {}
    for name, counted in counters.items():
        figures[name] = per_message(counted, phase.sent)
        figures[name]["cpu_percent"] = round(100 * counted.cpu / phase.elapsed, 1)
    return figures


def two_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def run(cfg: Config) -> dict[str, Any]:
    gw_port, ceil_port = two_ports()
    # Signed for the gateway's public URL (http://HOST:PORT); the ceiling gets the same bytes.
    hooks = build_webhooks(cfg.warmup + cfg.requests, f"http://127.0.0.1:{gw_port}",
                           SANDBOX_TWILIO_TOKEN)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relaydesk-bench-")))
        routing = stack.enter_context(EmbeddedRedis(tmp / "routing", appendonly=False))
        rq = stack.enter_context(EmbeddedRedis(tmp / "rq", appendonly=False))
        gateway = spawn("gateway", ["-m", "gateway", "web"], gw_port, tmp,
                        gateway_env(gw_port, routing.url, rq.url))
        stack.callback(gateway.stop)
        ceiling = spawn("ceiling", ["-m", "bench.ceiling", str(ceil_port)], ceil_port, tmp)
        stack.callback(ceiling.stop)
        return asyncio.run(measure(cfg, hooks, gateway, ceiling, routing.url, rq.url))


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
    except StartupFailed as exc:
        sys.exit(f"bench: {exc}")
    print(report.render(summary))
    print(routing_bench.render(summary["routing"]))
    warmup_errors = {k: v for k, v in summary["checks"]["warmup_errors"].items() if v}
    if warmup_errors:
        print(f"warm-up errors: {warmup_errors}")
    if tail := summary["checks"]["gateway_log_tail"]:
        print(f"gateway log (last lines):\n{tail}", file=sys.stderr)
    print(f"results: {report.write_json(summary, RESULTS)}")


if __name__ == "__main__":
    main()
