"""Turn the measurements into one JSON-ready summary, and print it compactly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from bench.load import Phase


def target_summary(phase: Phase, server_cpu: float | None) -> dict[str, Any]:
    def share(seconds: float | None) -> float | None:
        if seconds is None or not phase.elapsed:
            return None
        return round(100 * seconds / phase.elapsed, 1)  # percent of one core

    return {
        "requests": phase.sent,
        "ok": phase.ok,
        "errors": dict(phase.errors),
        "truncated_by_time_budget": phase.truncated,
        "seconds": round(phase.elapsed, 3),
        "rps": round(phase.rps, 1),
        "latency_ms": {k: None if v is None else round(v, 2)
                       for k, v in phase.percentiles_ms().items()},
        "cpu_percent": {"server": share(server_cpu), "loadgen": share(phase.loadgen_cpu)},
    }


def comparison(gateway: dict[str, Any], ceiling: dict[str, Any]) -> dict[str, Any]:
    rps = round(100 * gateway["rps"] / ceiling["rps"], 1) if ceiling["rps"] else None
    gw_p50, ceil_p50 = gateway["latency_ms"]["p50"], ceiling["latency_ms"]["p50"]
    p50 = round(gw_p50 / ceil_p50, 2) if gw_p50 and ceil_p50 else None
    return {"rps_percent_of_ceiling": rps, "p50_latency_ratio": p50}


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
    cut = " (time budget hit)" if t["truncated_by_time_budget"] else ""
    return (f"{name:<8} {t['rps']:>8.1f} {_num(lat['p50']):>7} {_num(lat['p95']):>7} "
            f"{_num(lat['p99']):>7} {errors:>6} {_pct(cpu['server']):>6} "
            f"{_pct(cpu['loadgen']):>7}{cut}")


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _redis_line(name: str, r: dict[str, Any]) -> str:
    parts = ", ".join(f"{cmd} {n:.2f}" for cmd, n in r["by_command"].items()) or "none"
    return (f"{name}: {r['round_trips']:.2f} round trips, {r['lua_calls']:.2f} Lua calls, "
            f"{r['commands']:.2f} commands incl. inside Lua (cpu {_pct(r['cpu_percent'])})\n"
            + textwrap.fill(parts, 100, initial_indent="    ", subsequent_indent="    "))


def render(summary: dict[str, Any]) -> str:
    run, t, cmp_, rd = (summary["run"], summary["targets"], summary["comparison"],
                        summary["redis_per_message"])
    lines = [
        f"relaydesk bench: {run['requests']} signed WhatsApp webhooks per target after "
        f"{run['warmup']} warm-up, {run['customers']} customers, "
        f"concurrency {run['concurrency']}, {run['cpus']} CPUs",
        f"{'target':<8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'srvcpu':>6} {'loadcpu':>7}",
        _target_line("ceiling", t["ceiling"]),
        _target_line("gateway", t["gateway"]),
        f"gateway vs ceiling: {_num(cmp_['rps_percent_of_ceiling'], '.1f')}% of the "
        f"throughput, p50 latency x{_num(cmp_['p50_latency_ratio'])}",
        "redis per inbound message (gateway run):",
        _redis_line("  routing", rd["routing"]),
        _redis_line("  rq     ", rd["rq"]),
        f"rq jobs queued: {summary['checks']['jobs_queued']} "
        f"(messages stored: {summary['checks']['messages_ok']})",
    ]
    for name in ("ceiling", "gateway"):
        if t[name]["errors"]:
            lines.append(f"{name} errors: {t[name]['errors']}")
    return "\n".join(lines)
