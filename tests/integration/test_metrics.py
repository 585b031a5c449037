"""Prometheus metrics: webhook counters and latency, routing decisions, sends, and the gauges
read from Redis at scrape time (queues, agents, work marks, RQ)."""

from __future__ import annotations

import json
import re

import aiohttp
import yaml
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.settings import Settings
from routing.config import Workspace
from tests.conftest import ROOT
from tests.integration.conftest import System
from tests.signing import sms_form, thread_reply_event, whatsapp_form


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(system: System) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with system.http.get(system.base + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        return samples(await resp.text())


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_webhooks_routing_and_sends_are_counted(system: System) -> None:
    before = await scrape(system)
    wa = ("relaydesk_webhooks_total", {"channel": "whatsapp", "webhook": "message",
                                       "result": "ok"})
    resp = await system.post_twilio("/twilio/messages", whatsapp_form("SM" + "a" * 32, "Hola"))
    assert resp.status == 200
    bad = await system.post_twilio("/twilio/messages", sms_form("SM" + "b" * 32, "hi"),
                                   signature="forged")
    assert bad.status == 403
    await system.drain()
    card = next(m for m in system.slack.messages.values() if not m.get("thread_ts"))
    reply = await system.post_slack(thread_reply_event("EvM1", "C0SUPPORTWA", card["ts"],
                                                       "U0ANA", "Hola, soy Ana"))
    assert reply.status == 200
    await system.drain()
    after = await scrape(system)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(wa[0], **wa[1]) == 1
    assert grew("relaydesk_webhooks_total", channel="sms", webhook="message",
                result="bad_signature") == 1
    assert grew("relaydesk_webhooks_total", channel="slack", webhook="events", result="ok") == 1
    assert grew("relaydesk_webhook_seconds_count", channel="whatsapp", webhook="message") == 1
    assert grew("relaydesk_routing_decisions_total", rule="default_department") == 1
    # The workers run in this process (a thread), so their counters are on this /metrics.
    assert grew("relaydesk_sends_total", provider="twilio", outcome="sent") == 1
    assert grew("relaydesk_sends_total", provider="slack", outcome="sent") >= 3  # card, 2 posts


async def test_gauges_are_read_from_redis_at_scrape_time(system: System) -> None:
    system.store.set_presence("ana", "offline", "test")  # nobody serves support-sms now
    for n in range(2):
        resp = await system.post_twilio("/twilio/messages", sms_form(
            f"SM{n:032d}", "hello", phone=f"+52551234000{n}"))
        assert resp.status == 200
    await system.services.idle()
    found = await scrape(system)
    assert value(found, "relaydesk_redis_up") == 1
    assert value(found, "relaydesk_queue_waiting", department="support-sms/general") == 2
    assert value(found, "relaydesk_queue_escalated", department="support-sms/general") == 0
    assert 0 <= value(found, "relaydesk_queue_oldest_wait_seconds",
                      department="support-sms/general") < 60
    assert value(found, "relaydesk_agents", presence="offline") == 2
    assert value(found, "relaydesk_agents", presence="online") == 0
    # Two cards to post, not drained yet: marks, their outboxes and their jobs on RQ.
    assert value(found, "relaydesk_pending_work_by_kind", kind="slack") == 2
    assert value(found, "relaydesk_outbox_depth", outbox="slack") == 2
    assert value(found, "relaydesk_pending_oldest_seconds") < 60
    assert value(found, "relaydesk_rq_queue_length") >= 2
    assert value(found, "relaydesk_rq_failed_jobs") == 0
    assert value(found, "relaydesk_customers_awaiting_answer") == 2
    await system.drain()
    found = await scrape(system)
    assert value(found, "relaydesk_outbox_depth", outbox="slack") == 0
    assert value(found, "relaydesk_rq_queue_length") == 0


async def test_metrics_on_the_admin_port(redis_server: EmbeddedRedis, namespace: str,
                                         workspace: Workspace) -> None:
    port, admin = free_port(), free_port()
    settings = Settings(_env_file=None, host="127.0.0.1", port=port, admin_port=admin,
                        redis_url=redis_server.url, redis_namespace=namespace)
    server = TestServer(create_app(settings, workspace), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 404
            async with http.get(f"http://127.0.0.1:{admin}/metrics") as resp:
                assert resp.status == 200
                assert "relaydesk_queue_waiting" in await resp.text()
            async with http.get(f"http://127.0.0.1:{admin}/healthz") as resp:
                assert resp.status == 200
    finally:
        await server.close()


async def test_the_examples_use_only_metrics_that_exist(system: System) -> None:
    """The Grafana dashboard and the alert rules in examples/monitoring/ name real metrics."""
    async with system.http.get(system.base + "/metrics") as resp:
        text = await resp.text()
    exposed = set(re.findall(r"^# HELP (relaydesk_\w+)", text, re.M))
    folder = ROOT / "examples" / "monitoring"
    dashboard = json.loads((folder / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((folder / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {n for e in exprs for n in re.findall(r"relaydesk_\w+", e)}
    assert len(used) > 10
    unknown = {n for n in used if n not in exposed
               and not (n.endswith(("_bucket", "_count", "_sum"))
                        and n.rsplit("_", 1)[0] in exposed)}
    assert not unknown, unknown
