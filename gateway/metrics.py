"""Prometheus metrics at ``/metrics`` (prometheus-client).

Counters and histograms are incremented where things happen: webhooks here (a middleware: by
channel, webhook and result, with their latency), routing decisions in ``Services.done``, sends
in the worker (``workers.metrics``). With ``PROMETHEUS_MULTIPROC_DIR`` set (``gateway up`` sets
it for the Procfile's processes) every web and worker process writes its samples there and the
scrape sums them (prometheus-client's multiprocess mode); without it, ``/metrics`` shows this
process alone and a worker may serve its own with ``WORKER_METRICS_PORT``.

Gauges that describe the desk (queues, agents, outboxes, work marks, RQ) are read from Redis at
scrape time by ``DeskCollector``, with a bounded number of commands: one pipeline per scrape
whose size grows with the configured departments and agents, not with the traffic.

With ``ADMIN_PORT`` set, ``/metrics`` and ``/healthz`` are served on that port (``ADMIN_HOST``,
default ``HOST``) and ``/metrics`` is not served on the public one.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import redis
import structlog
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from rq import Queue
from rq.registry import FailedJobRegistry

from routing.config import Workspace
from routing.keys import Keys
from routing.results import Inbound, Result

log = structlog.get_logger("metrics")

WEBHOOKS = Counter("relaydesk_webhooks_total", "Inbound webhooks by channel, webhook and result",
                   ["channel", "webhook", "result"])
WEBHOOK_SECONDS = Histogram(
    "relaydesk_webhook_seconds", "Time to answer an inbound webhook", ["channel", "webhook"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
ROUTED = Counter("relaydesk_routing_decisions_total",
                 "New conversations routed, by the rule that placed them", ["rule"])

#: The webhooks observed, by path.
WEBHOOK_PATHS = {"/twilio/messages": "message", "/twilio/status": "status",
                 "/slack/events": "events"}
#: At most this many work marks (oldest first) are looked at per scrape for outbox depths.
MARKS_SCANNED = 1000
ESCALATED = 1e12  # policy.lua: escalated conversations score this much lower in a queue


def result_of(status: int) -> str:
    if status < 400:
        return "ok"
    return {403: "bad_signature", 400: "invalid", 415: "invalid", 404: "unknown_number"}.get(
        status, "error")


async def _channel(request: web.Request, webhook: str) -> str:
    """WhatsApp or SMS, from the raw body the handler already read (no second form parse on
    the hot path): Twilio writes ``whatsapp:`` addresses, URL-encoded, for WhatsApp."""
    if webhook == "events":
        return "slack"
    body = b"&" + await request.read()  # cached by aiohttp
    field = b"&From=" if webhook == "message" else b"&To="
    return "whatsapp" if field + b"whatsapp%3A" in body or field + b"whatsapp:" in body \
        else "sms"


class WebhookTally:
    """Webhook counts and latencies, kept in plain dicts on the hot path and handed to
    prometheus-client in one go, a second after the first one tallied (``flush_every``) and
    before every scrape of this process. A labelled ``inc()`` plus a histogram
    ``observe()`` per webhook was about a twentieth of the gateway's CPU per request under
    load (a profile during ``make bench``); adding to a dict is a fraction of that. A scrape
    sees every webhook answered before it."""

    def __init__(self) -> None:
        self.counts: Tally[tuple[str, str, str]] = Tally()
        # (channel, webhook) -> [sum of seconds, count in bucket 0, 1, ... , +Inf]
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.bounds = WEBHOOK_SECONDS._upper_bounds  # the histogram's, +Inf last
        self.flush_every = 1.0
        self._scheduled: asyncio.TimerHandle | None = None

    def add(self, channel: str, webhook: str, result: str, seconds: float) -> None:
        self.counts[channel, webhook, result] += 1
        sums = self.latency.get((channel, webhook))
        if sums is None:
            sums = self.latency[channel, webhook] = [0.0] * (len(self.bounds) + 1)
        sums[0] += seconds
        sums[1 + bisect_left(self.bounds, seconds)] += 1  # le: the first bound >= seconds
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_later(self.flush_every, self.flush)

    def flush(self) -> None:
        """Add what was tallied to the prometheus-client metrics (and the multiprocess files)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        counts, self.counts = self.counts, Tally()
        latency, self.latency = self.latency, {}
        for labels, count in counts.items():
            WEBHOOKS.labels(*labels).inc(count)
        for labels, sums in latency.items():
            child = WEBHOOK_SECONDS.labels(*labels)
            # Histogram.observe() adds the amount to _sum and 1 to the first bucket whose
            # bound holds it (buckets are cumulated at collection): the same, n at a time.
            child._sum.inc(sums[0])
            for bucket, count in zip(child._buckets, sums[1:], strict=True):
                if count:
                    bucket.inc(count)


TALLY = web.AppKey("webhook_tally", WebhookTally)


async def observe(request: web.Request, webhook: str,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """Count a webhook (``WEBHOOK_PATHS``) by channel and result and time it (the form is read
    once: aiohttp keeps what the handler parsed). Called by the gateway's middleware."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        try:
            channel = await _channel(request, webhook)
        except Exception:  # an unreadable body: still counted
            channel = "unknown"
        request.app[TALLY].add(channel, webhook, result_of(status), time.perf_counter() - started)


def observe_result(result: Result) -> None:
    """What a use case's result tells the metrics (called by ``Services.done``)."""
    if isinstance(result, Inbound) and result.opened:
        ROUTED.labels(result.rule or "unknown").inc()


class DeskCollector:
    """Gauges read from Redis at scrape time (one pipeline, bounded)."""

    def __init__(self, client: redis.Redis, namespace: str, workspace: Workspace,
                 rq_queue: Queue) -> None:
        self.redis, self.keys, self.ws, self.rq = client, Keys(namespace), workspace, rq_queue

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("relaydesk_redis_up", "Whether the scrape could read Redis")
        try:
            families = list(self._families(time.time()))
        except redis.RedisError as exc:
            log.warning("metrics.redis_unreachable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: float) -> Iterator[Metric]:
        k, ws = self.keys, self.ws
        depts = [(c.id, d.id) for c in ws.campaigns for d in c.departments]
        pipe = self.redis.pipeline(transaction=False)
        for campaign, dept in depts:
            queue = k.dept_queue(campaign, dept)
            pipe.zcard(queue)
            pipe.zcount(queue, "-inf", "(0")
            pipe.zrange(queue, 0, 0, withscores=True)
            pipe.zrangebyscore(queue, 0, "+inf", start=0, num=1, withscores=True)
        for c in ws.campaigns:
            pipe.zcard(k.unassigned(c.id))
            pipe.zrange(k.unassigned(c.id), 0, 0, withscores=True)
        for a in ws.agents:
            pipe.hmget(k.agent(a.id), "presence", "load", "capacity")
        pipe.zcard(k.pending)
        pipe.zrange(k.pending, 0, MARKS_SCANNED - 1, withscores=True)
        pipe.zcard(k.awaiting)
        pipe.zrange(k.awaiting, 0, 0, withscores=True)
        replies = iter(pipe.execute())

        waiting = GaugeMetricFamily("relaydesk_queue_waiting",
                                    "Conversations waiting in a department's queue",
                                    labels=["department"])
        escalated = GaugeMetricFamily("relaydesk_queue_escalated",
                                      "Escalated conversations waiting in a department's queue",
                                      labels=["department"])
        oldest = GaugeMetricFamily("relaydesk_queue_oldest_wait_seconds",
                                   "How long the longest-waiting conversation of a department's "
                                   "queue has waited (0 when empty)", labels=["department"])
        for campaign, dept in depts:
            size, urgent, first, first_normal = (next(replies) for _ in range(4))
            starts = [s + ESCALATED for _, s in first if s < 0] + [s for _, s in first_normal]
            label = [f"{campaign}/{dept}"]
            waiting.add_metric(label, size)
            escalated.add_metric(label, urgent)
            oldest.add_metric(label, max(0.0, now - min(starts)) if starts else 0.0)
        yield from (waiting, escalated, oldest)

        unassigned = GaugeMetricFamily("relaydesk_unassigned",
                                       "Conversations no rule placed, per campaign",
                                       labels=["campaign"])
        unassigned_age = GaugeMetricFamily("relaydesk_unassigned_oldest_wait_seconds",
                                           "Longest wait among a campaign's unassigned "
                                           "conversations", labels=["campaign"])
        for c in ws.campaigns:
            size, first = next(replies), next(replies)
            unassigned.add_metric([c.id], size)
            unassigned_age.add_metric([c.id], max(0.0, now - first[0][1]) if first else 0.0)
        yield from (unassigned, unassigned_age)

        presence = Tally({"online": 0, "away": 0, "offline": 0})
        load = capacity = 0
        for _ in ws.agents:
            state, busy, room = next(replies)
            presence[state or "offline"] += 1
            load += int(busy or 0)
            capacity += int(room or 0) if state == "online" else 0
        agents = GaugeMetricFamily("relaydesk_agents", "Agents by presence", labels=["presence"])
        for state, count in sorted(presence.items()):
            agents.add_metric([state], count)
        yield agents
        yield GaugeMetricFamily("relaydesk_agents_load", "Open conversations assigned to agents",
                                value=load)
        yield GaugeMetricFamily("relaydesk_agents_online_capacity",
                                "Capacity of the agents who are online", value=capacity)

        pending_total, marks = next(replies), next(replies)
        yield GaugeMetricFamily("relaydesk_pending_work", "Work marks not yet settled",
                                value=pending_total)
        yield GaugeMetricFamily("relaydesk_pending_oldest_seconds",
                                "Age of the oldest work mark not yet settled (0 when none)",
                                value=max(0.0, now - marks[0][1]) if marks else 0.0)
        by_kind = GaugeMetricFamily("relaydesk_pending_work_by_kind",
                                    f"Work marks by kind (among the {MARKS_SCANNED} oldest)",
                                    labels=["kind"])
        kinds = Tally(member.partition(":")[0] for member, _ in marks)
        for kind, count in sorted(kinds.items()):
            by_kind.add_metric([kind], count)
        yield by_kind
        awaiting, first = next(replies), next(replies)
        yield GaugeMetricFamily("relaydesk_customers_awaiting_answer",
                                "Open conversations whose customer waits for an answer",
                                value=awaiting)
        yield GaugeMetricFamily("relaydesk_customer_oldest_wait_seconds",
                                "Longest a customer has waited for an answer (0 when none)",
                                value=max(0.0, now - first[0][1]) if first else 0.0)

        outboxes = {"slack": k.to_slack, "twilio": k.to_twilio, "bot": k.to_bot}
        drains = [(kind, ident) for kind, _, ident in
                  (member.partition(":") for member, _ in marks) if kind in outboxes]
        pipe = self.redis.pipeline(transaction=False)
        for kind, ident in drains:
            pipe.llen(outboxes[kind](ident))
        depth = Tally(dict.fromkeys(outboxes, 0))
        for (kind, _), size in zip(drains, pipe.execute() if drains else [], strict=True):
            depth[kind] += size
        outbox = GaugeMetricFamily("relaydesk_outbox_depth",
                                   "Entries waiting in conversations' outboxes (of the "
                                   f"conversations among the {MARKS_SCANNED} oldest work marks)",
                                   labels=["outbox"])
        for kind, size in sorted(depth.items()):
            outbox.add_metric([kind], size)
        yield outbox

        yield GaugeMetricFamily("relaydesk_rq_queue_length", "Jobs waiting on the RQ queue",
                                value=self.rq.count)
        yield GaugeMetricFamily("relaydesk_rq_failed_jobs", "Jobs in RQ's failed job registry",
                                value=FailedJobRegistry(queue=self.rq).count)


class _ProcessMetrics:
    """This process's own metrics, when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(desk: DeskCollector | None) -> bytes:
    """One scrape: every process's counters (multiprocess mode) or this one's, and the desk."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    if desk is not None:
        registry.register(desk)
    return generate_latest(registry)


DESK = web.AppKey("metrics_desk", DeskCollector)


async def metrics(request: web.Request) -> web.Response:
    request.app[TALLY].flush()
    body = await asyncio.to_thread(exposition, request.app[DESK])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application, services: Any,
          health: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
    """Tally webhooks (``observe``); serve ``/metrics`` here or, with ``ADMIN_PORT``, on the
    admin port (with ``/healthz``)."""
    from gateway.services import SERVICES

    settings = services.settings
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True,
                                  socket_timeout=5)
    desk = DeskCollector(client, settings.redis_namespace, services.workspace,
                         services.dispatcher.queue)
    app[TALLY] = tally = WebhookTally()
    if not settings.admin_port:
        app[DESK] = desk
        app.router.add_get("/metrics", metrics)
    else:
        admin = web.Application()
        admin[DESK], admin[SERVICES], admin[TALLY] = desk, services, tally
        admin.router.add_get("/metrics", metrics)
        admin.router.add_get("/healthz", health)
        runner = web.AppRunner(admin, access_log=None)

        async def start(_: web.Application) -> None:
            await runner.setup()
            await web.TCPSite(runner, settings.admin_host or settings.host,
                              settings.admin_port).start()

        async def stop(_: web.Application) -> None:
            await runner.cleanup()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)

    async def close(_: web.Application) -> None:
        tally.flush()
        client.close()

    app.on_cleanup.append(close)
