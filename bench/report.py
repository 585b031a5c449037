"""Turn the measurements into one JSON-ready summary, and print it compactly."""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path
from typing import Any

from bench.wrk import WrkResult


def target_summary(result: WrkResult, server_cpu: float | None) -> dict[str, Any]:
    def share(seconds: float | None) -> float | None:
        if seconds is None or not result.seconds:
            return None
        return round(100 * seconds / result.seconds, 1)  # percent of one core

    return {
        "requests": result.requests,
        "errors": result.errors,
        "wraps": result.wraps,
        "seconds": round(result.seconds, 3),
        "rps": round(result.rps, 1),
        "latency_ms": {"p50": round(result.p50_ms, 2), "p90": round(result.p90_ms, 2),
                       "p99": round(result.p99_ms, 2), "max": round(result.max_ms, 2)},
        "cpu_percent": {"server": share(server_cpu), "loadgen": share(result.loadgen_cpu)},
        "server_cpu_us_per_request": (round(1e6 * server_cpu / result.requests, 1)
                                      if server_cpu is not None and result.requests else None),
    }


def comparison(gateway: dict[str, Any], ceiling: dict[str, Any]) -> dict[str, Any]:
    ratio = round(gateway["rps"] / ceiling["rps"], 3) if ceiling["rps"] else None
    gw_p50, ceil_p50 = gateway["latency_ms"]["p50"], ceiling["latency_ms"]["p50"]
    p50 = round(gw_p50 / ceil_p50, 2) if gw_p50 and ceil_p50 else None
    gw_cpu, ceil_cpu = (t["server_cpu_us_per_request"] for t in (gateway, ceiling))
    cpu = round(ceil_cpu / gw_cpu, 3) if gw_cpu and ceil_cpu else None
    return {"rps_ratio": ratio, "p50_latency_ratio": p50, "cpu_per_request_ratio": cpu}


def write_json(summary: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    path = directory / "latest.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def _target_line(name: str, t: dict[str, Any]) -> str:
    lat, cpu = t["latency_ms"], t["cpu_percent"]
    errors = sum(t["errors"].values())
    wraps = f" (list wrapped {t['wraps']}x)" if t["wraps"] else ""
    per_request = t["server_cpu_us_per_request"]
    return (f"  {name:<8} {t['rps']:>8.0f} {lat['p50']:>7.2f} {lat['p90']:>7.2f} "
            f"{lat['p99']:>7.2f} {errors:>6} {_pct(cpu['server']):>6} "
            f"{'n/a' if per_request is None else f'{per_request:.0f}':>7} "
            f"{_pct(cpu['loadgen']):>7}{wraps}")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _redis_line(name: str, r: dict[str, Any]) -> str:
    parts = ", ".join(f"{cmd} {n:.2f}" for cmd, n in r["by_command"].items()) or "none"
    return (f"{name}: {r['round_trips']:.2f} round trips, {r['lua_calls']:.2f} Lua calls, "
            f"{r['commands']:.2f} commands incl. inside Lua (server cpu "
            f"{_pct(r['cpu_percent'])} of a core)\n"
            + textwrap.fill(parts, 100, initial_indent="    ", subsequent_indent="    "))


def _capacity_line(r: dict[str, Any]) -> str:
    script, cpu = r["script_us"], r["cpu_us"]
    lines = [f"  routing Redis CPU per message: {script:.1f} us inside the Lua script "
             f"(commandstats), {cpu:.1f} us for the whole redis-server process "
             "(I/O and parsing included)"]
    if script and cpu:
        lines.append(
            f"  => one Redis core routes about {1e6 / cpu:,.0f} messages/s for one namespace "
            "(a namespace is one hash slot and its scripts run one at a time); the script's "
            f"own time says {1e6 / script:,.0f}/s, but commandstats time is wall-clock inside "
            "Redis and grows when a busy machine preempts it")
    return "\n".join(lines)


def render(summary: dict[str, Any]) -> str:
    run, rounds, rd = summary["run"], summary["rounds"], summary["redis_per_message"]
    pinned = "wrk and both Redis servers on one core, the server under test on the other" \
        if run["pinned"] else "no CPU pinning (fewer than 2 CPUs)"
    lines = [
        f"relaydesk bench: wrk, 1 thread, {run['concurrency']} connections, "
        f"{run['seconds']:g} s per run, {run['rounds']} round(s), distinct signed WhatsApp "
        f"webhooks over {run['customers']} customers after {run['warmup']} warm-up; "
        f"{run['cpus']} CPUs, {pinned}; both servers on {run['loop']}, log level warning",
        f"  {'target':<8} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'srvcpu':>6} {'us/req':>7} {'wrkcpu':>7}",
    ]
    for i, r in enumerate(rounds, 1):
        lines.append(f" round {i}:")
        lines.append(_target_line("ceiling", r["ceiling"]))
        lines.append(_target_line("gateway", r["gateway"]))
        c = r["comparison"]
        lines.append(f"  gateway / ceiling: {c['rps_ratio']:.2f} of the throughput, "
                     f"p50 latency x{c['p50_latency_ratio']:.2f}, "
                     f"{_num(c['cpu_per_request_ratio'])} of the CPU efficiency")
    for key, what in (("rps_ratio", "throughput"),
                      ("cpu_per_request_ratio", "CPU efficiency (ceiling us/req / gateway's)")):
        ratios = [r["comparison"][key] for r in rounds if r["comparison"][key] is not None]
        if ratios:
            lines.append(f"gateway / ceiling {what}: {statistics.median(ratios):.2f} (median "
                         f"of {len(ratios)}: {', '.join(f'{x:.2f}' for x in ratios)})")
    lines += [
        "redis per inbound message (last gateway run):",
        _redis_line("  routing", rd["routing"]),
        _redis_line("  rq     ", rd["rq"]),
        _capacity_line(rd["routing"]),
        f"rq jobs queued: {summary['checks']['jobs_queued']}",
    ]
    for i, r in enumerate(rounds, 1):
        for name in ("ceiling", "gateway"):
            if r[name]["errors"]:
                lines.append(f"round {i} {name} errors: {r[name]['errors']}")
    return "\n".join(lines)
