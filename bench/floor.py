"""What the end-to-end goal at half the inbound maximum needs, against what this machine can
give: the floor under the workers' own work, whatever its design.

Issue 11 asks for customer -> Slack p99 under 50 ms at half the gateway's maximum inbound
rate. Within that time a post can carry only the messages of one conversation that arrived in
the last 50 ms, so the rate sets a minimum number of ``chat.postMessage`` calls per second.
Each call costs CPU that no change to the workers' own work removes: the issue fixes how Slack
is reached (the official SDK; here the workers' synchronous client) and the bench runs the
Slack stand-in on the same two cores; the webhooks' cost is the gateway's as it is. This
module measures that cost alone: the workers' Slack client (``KeepAliveWebClient``), in as many
processes and threads as the bench's workers, posting to the bench's fake as fast as it
answers, with nothing else running. ``bench.__main__`` adds the gateway's, Redis's and the load
generator's measured cost per message, and prints what is left per post for the workers' own
work (queue, routing reads, bookkeeping).

Run alone as ``python -m bench.floor``.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.e2e import GOAL_MS, SLACK_TOKEN, WORKERS, cpu_seconds, start_fakes
from bench.processes import wait_ready
from channels.slack.client import KeepAliveWebClient
from gateway.redis_launcher import free_port
from workers.main import DEFAULT_THREADS

CHANNEL, THREAD = "C0BENCHFLOOR", "1700000000.000100"
START_AFTER = 3.0  # seconds for the posting processes to start (spawn) before they post
STAND_IN = "load generator"  # the one ``inbound_us`` entry that stands in for the customers
#: A busy share of the cores at which queues stay short enough for a p99 to hold: an assumption
#: (at about 93 % busy the end-to-end runs met the goal in some runs and missed it in others).
BUSY = 0.8


def posts_needed(rate: float, customers: int, goal_ms: float = GOAL_MS) -> float:
    """Fewest posts per second that deliver every message within ``goal_ms`` when ``rate``
    messages per second arrive round-robin over ``customers`` conversations (as the bench
    sends them): one message per conversation every ``customers / rate`` s, so a post can carry
    at most ``1 + floor(goal / gap)`` of them."""
    gap_ms = 1000 * customers / rate
    return rate / (1 + math.floor(goal_ms / gap_ms))


def _poster(url: str, threads: int, start_at: float, seconds: float, out: Any) -> None:
    """One process's posting threads, from ``start_at`` to ``start_at + seconds`` (wall clock,
    the same window for every process: one that starts late posts less, never more)."""
    client = KeepAliveWebClient(token=SLACK_TOKEN, base_url=url)
    counts = [0] * threads
    stop = start_at + seconds
    time.sleep(max(0.0, start_at - time.time()))

    def post(i: int) -> None:
        while time.time() < stop:
            client.chat_postMessage(channel=CHANNEL, thread_ts=THREAD,
                                    text=f"a customer's message ref{i}x")
            counts[i] += 1

    started = os.times()
    pool = [threading.Thread(target=post, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    ended = os.times()
    out.put((sum(counts), ended.user - started.user + ended.system - started.system))


def measure(seconds: float = 4.0, processes: int = WORKERS,
            threads: int = DEFAULT_THREADS) -> dict[str, Any]:
    """Posts per second and CPU per post (client, fake) of the Slack SDK against the fake."""
    with ExitStack() as stack:
        slack_port = free_port()
        fakes = start_fakes(stack, slack_port, free_port(), Path(os.devnull))
        asyncio.run(wait_ready(fakes))
        spawn = multiprocessing.get_context("spawn")
        results: Any = spawn.Queue()
        url = f"http://127.0.0.1:{slack_port}/api/"
        fake_cpu = cpu_seconds(fakes.process.pid)
        start_at = time.time() + START_AFTER
        pool = [spawn.Process(
            target=_poster, args=(url, threads, start_at, seconds, results))
            for _ in range(processes)]
        for process in pool:
            process.start()
        done = [results.get(timeout=seconds + 60) for _ in pool]
        for process in pool:
            process.join()
        fake_cpu = cpu_seconds(fakes.process.pid) - fake_cpu
    posts = sum(n for n, _ in done)
    client_cpu = sum(c for _, c in done)
    return {"processes": processes, "threads": threads, "seconds": seconds,
            "posts_per_s": round(posts / seconds, 1),
            "client_us_per_post": round(1e6 * client_cpu / max(posts, 1), 1),
            "fake_us_per_post": round(1e6 * fake_cpu / max(posts, 1), 1)}


def budget(floor: dict[str, Any], rate: float, customers: int, inbound_us: dict[str, float],
           workers_now: tuple[float, bool, float] | None) -> dict[str, Any]:
    """What is left per post for the workers' own work at half the max rate, with the cores
    100 % busy (where a queue grows without bound) and ``BUSY`` busy.

    ``inbound_us``: the webhook's cost per message as the gateway has it (the gateway's and
    its Redis script's, from the wrk part of the same run; the load generator's, from the
    half-maximum run). ``workers_now``: a rate of the same run (the highest that met the
    goal, else the lightest), whether it met the goal, and what the workers' own work cost
    per provider call there (each message its own job), for comparison."""
    posts = posts_needed(rate, customers)
    per_post = floor["client_us_per_post"] + floor["fake_us_per_post"]
    cores = os.cpu_count() or 1
    inbound = sum(inbound_us.values())
    used = (rate * inbound + posts * per_post) / 1e6
    left = {f"{round(100 * busy)}%": round(max(0.0, (busy * cores - used) * 1e6 / posts))
            for busy in (1.0, BUSY)}
    # Were the stand-ins (the load generator, the fake) elsewhere, as the real ones are:
    ours = (rate * (inbound - inbound_us.get(STAND_IN, 0.0))
            + posts * floor["client_us_per_post"]) / 1e6
    left_alone = round(max(0.0, (BUSY * cores - ours) * 1e6 / posts))
    return {"rate": rate, "customers": customers, "posts_needed": round(posts),
            "per_post_us": round(per_post, 1), "inbound_us": inbound_us,
            "cores_used": round(used, 2), "cores": cores, "left_us_per_post": left,
            "left_us_per_post_without_stand_ins": left_alone,
            "workers_now": workers_now}


def render(floor: dict[str, Any], b: dict[str, Any]) -> str:
    gap = 1000 * b["customers"] / b["rate"]
    inbound = " + ".join(f"{name} {us:.0f}" for name, us in b["inbound_us"].items())
    lines = [
        "what the end-to-end goal at half the max needs on this machine (bench/floor.py):",
        f"  {b['rate']:,.0f} msg/s over {b['customers']} customers is one message per "
        f"conversation every {gap:.1f} ms: to deliver each within {GOAL_MS:.0f} ms a post "
        f"carries at most {1 + math.floor(GOAL_MS / gap)}, so at least "
        f"{b['posts_needed']:,} posts/s",
        f"  the workers' Slack client and the Slack fake alone ({floor['processes']} processes x "
        f"{floor['threads']} threads, as the workers; nothing else running): "
        f"{floor['posts_per_s']:,.0f} posts/s, {b['per_post_us']:.0f} µs of CPU per post "
        f"(client {floor['client_us_per_post']:.0f}, fake {floor['fake_us_per_post']:.0f})",
        f"  webhooks ({inbound} µs per message, measured above) and posts together take "
        f"{b['cores_used']:.2f} of {b['cores']} cores; left per post for everything else the "
        "workers do: " + ", ".join(f"{us:,} µs with the cores {busy} busy" for busy, us in
                                   b["left_us_per_post"].items())
        + f" (a queue grows without bound at 100 %; {round(100 * BUSY)}% is an assumed margin "
        "for short queues)",
        "  were the load generator and the fake on other machines, as the real ones are: "
        f"{b['left_us_per_post_without_stand_ins']:,} µs with the cores {round(100 * BUSY)}% busy",
    ]
    if b.get("workers_now"):
        rate, met, spent = b["workers_now"]
        lines.append(f"  against {spent:,.0f} µs per provider call that the same work costs "
                     f"today at {rate:,.0f} msg/s, "
                     + ("the highest rate where the goal held" if met else "the lightest run")
                     + " (workers less their Slack client, plus both Redis servers less the "
                     "webhook's script: measured above)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(measure())
