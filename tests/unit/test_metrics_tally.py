"""The webhook tally (gateway/metrics.py) hands prometheus-client exactly what observing each
webhook one by one would have: same counters, same histogram buckets and sum."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Histogram

from gateway.metrics import WEBHOOK_SECONDS, WEBHOOKS, WebhookTally

LATENCIES = [0.0001, 0.005, 0.0051, 0.01, 0.3, 0.3, 2.0, 9.99, 10.0, 42.0]


def _samples(metric: Histogram, **labels: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("le", "")): s.value
            for family in metric.collect() for s in family.samples
            if all(s.labels.get(k) == v for k, v in labels.items())}


async def test_a_flushed_tally_equals_observing_each_webhook() -> None:
    tally = WebhookTally()
    for seconds in LATENCIES:
        tally.add("tally-test", "message", "ok", seconds)
    tally.add("tally-test", "message", "bad_signature", 0.002)
    assert _samples(WEBHOOK_SECONDS, channel="tally-test") == {}  # not flushed yet
    tally.flush()

    reference = Histogram("reference_seconds", "same buckets", ["channel", "webhook"],
                          buckets=WEBHOOK_SECONDS._upper_bounds,
                          registry=CollectorRegistry())
    for seconds in [*LATENCIES, 0.002]:
        reference.labels("tally-test", "message").observe(seconds)
    ours = {(name.replace("relaydesk_webhook", "reference"), le): v for (name, le), v
            in _samples(WEBHOOK_SECONDS, channel="tally-test").items()
            if not name.endswith("_created")}
    theirs = {k: v for k, v in _samples(reference, channel="tally-test").items()
              if not k[0].endswith("_created")}
    assert ours == theirs
    assert WEBHOOKS.labels("tally-test", "message", "ok")._value.get() == len(LATENCIES)
    assert WEBHOOKS.labels("tally-test", "message", "bad_signature")._value.get() == 1


async def test_the_tally_flushes_itself_a_moment_later() -> None:
    tally = WebhookTally()
    tally.flush_every = 0.05
    tally.add("tally-late", "status", "ok", 0.001)
    await asyncio.sleep(0.2)
    assert WEBHOOKS.labels("tally-late", "status", "ok")._value.get() == 1
    assert not tally.counts
