"""The whole Procfile up: a customer message goes to a Slack thread, the agent's reply goes to
the customer, and Twilio's status callbacks show on the agent's message."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.sandbox.fake_slack import FakeSlack
from tests.e2e.conftest import SandboxUp, Stack
from tests.signing import sms_form, thread_reply_event, whatsapp_form

pytestmark = pytest.mark.e2e

CASES = [
    pytest.param(whatsapp_form("SM" + "a" * 32, "Hola, ¿y mi pedido?"), "C0SUPPORTWA",
                 "whatsapp:+525512345678", ("sent", "delivered", "read"), "eyes", id="whatsapp"),
    pytest.param(sms_form("SM" + "a" * 32, "Hi, where is my order?"), "C0SUPPORTSMS",
                 "+525512345678", ("sent", "delivered"), "ballot_box_with_check", id="sms"),
]


@pytest.mark.parametrize(("form", "channel", "customer", "statuses", "final"), CASES)
async def test_customer_to_slack_to_customer_with_status(
        stack: Stack, form: dict, channel: str, customer: str, statuses: tuple,
        final: str) -> None:
    assert await stack.post_twilio(form) == 200
    assert await stack.post_twilio(form) == 200  # Twilio's retry of the same MessageSid

    def thread_started(s: FakeSlack) -> dict | None:
        parents = [m for (ch, _), m in s.messages.items() if ch == channel and not m["thread_ts"]]
        return parents[0] if parents and s.thread(channel, parents[0]["ts"]) else None

    card = await stack.slack.wait_for(thread_started, timeout=10)
    assert [m["text"] for m in stack.slack.thread(channel, card["ts"])] == [form["Body"]]

    event = thread_reply_event("EvE2E", channel, card["ts"], "U0ANA", "Con gusto, lo reviso.",
                               ts="1800000000.000100")
    assert await stack.post_slack(event) == 200
    assert await stack.post_slack(event) == 200  # Slack's retry of the same event_id
    [sent] = await stack.twilio.wait_for_messages(1, timeout=10)
    assert (sent["to"], sent["body"]) == (customer, "Con gusto, lo reviso.")

    for status in statuses:
        assert await stack.twilio.send_status(sent["sid"], status) == 204
    await stack.slack.wait_for(
        lambda s: s.reactions(channel, "1800000000.000100") == [final], timeout=10)
    await asyncio.sleep(0.5)  # nothing more arrives: one card, one reply, one send
    assert len(stack.twilio.messages) == 1
    assert len([p for p in stack.slack.calls_to("chat.postMessage")
                if p["channel"] == channel]) == 2


async def test_bad_signature_is_refused_and_stores_nothing(stack: Stack) -> None:
    before = stack.keys()
    assert await stack.post_twilio(whatsapp_form("SM" + "b" * 32, "hola"), signature="bad") == 403
    await asyncio.sleep(0.3)
    assert stack.keys() == before
    assert stack.slack.calls_to("chat.postMessage") == []


async def test_make_run_then_simulate_shows_both_sides(sandbox_up: SandboxUp) -> None:
    """`python -m gateway up` (what `make run` runs) with no credentials and no REDIS_URL, then
    `python -m gateway simulate` as a newcomer would."""
    sim = await asyncio.to_thread(sandbox_up.run, "simulate", "--say", "Hola", "--reply",
                                  "Hola, soy Ana")
    assert sim.returncode == 0, sim.stdout + sim.stderr
    out = sim.stdout
    assert "new thread card: Lucía · WhatsApp · assigned · Ana Ruiz" in out
    assert "whatsapp:+525512345678 <-" in out and "'Hola, soy Ana'" in out
    assert "status: read" in out
    data = sandbox_up.var / "redis"
    assert (data / "appendonlydir").exists() or any(data.glob("appendonly*"))


async def test_simulate_shows_a_refused_reply_and_exits_0_at_once(
        sandbox_up: SandboxUp) -> None:
    """Bruno answers Ana's conversation: the gateway refuses, Slack shows Bruno why (an
    ephemeral message); simulate prints it and stops instead of waiting for a send."""
    started = time.monotonic()
    sim = await asyncio.to_thread(sandbox_up.run, "simulate", "--phone", "+525500000013",
                                  "--say", "Hola", "--agent", "U0BRUNO", "--reply", "Yo te ayudo",
                                  "--timeout", "10")
    elapsed = time.monotonic() - started
    assert sim.returncode == 0, sim.stdout + sim.stderr
    out = sim.stdout
    assert "slack (only U0BRUNO)" in out and "This conversation is assigned to <@U0ANA>" in out
    assert "the gateway refused the agent's reply" in out
    assert " <- " not in out and "timed out" not in out
    assert elapsed < 10, f"simulate waited {elapsed:.1f}s (the step timeout) for a refusal"
    note = await asyncio.to_thread(sandbox_up.run, "simulate", "--phone", "+525500000013",
                                   "--say", "Sigo aquí", "--reply", ";;prefers mornings",
                                   "--timeout", "10")
    assert note.returncode == 0, note.stdout + note.stderr
    assert "an internal note" in note.stdout and " <- " not in note.stdout


async def test_simulate_sends_a_template(sandbox_up: SandboxUp) -> None:
    """An active message in the sandbox: the template reaches the fake Twilio as ContentSid +
    ContentVariables, the thread shows it, and its status reaches read."""
    sim = await asyncio.to_thread(sandbox_up.run, "simulate", "--phone", "+525500000021",
                                  "--template", "follow_up", "--var", "Lucía", "--var", "#42",
                                  "--timeout", "10")
    assert sim.returncode == 0, sim.stdout + sim.stderr
    out = sim.stdout
    assert "template HX0123456789abcdef0123456789abcdef with" in out
    assert '"1": "Lucía", "2": "#42"' in out
    assert "sent the template `follow_up`" in out and "status: read" in out


async def test_other_commands_find_the_redis_up_started(sandbox_up: SandboxUp) -> None:
    """Given the same variables as `up` (EMBEDDED_REDIS_PORT, no REDIS_URL), token create and
    route explain use the Redis the web process uses."""
    made, explained = await asyncio.gather(
        asyncio.to_thread(sandbox_up.run, "token", "create", "--agent", "ana"),
        asyncio.to_thread(sandbox_up.run, "route", "explain", "--campaign", "sales-wa",
                          "--contact", "+525500000099"))
    assert made.returncode == 0, made.stderr
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["rule"] == "bot"
    async with aiohttp.ClientSession() as http, http.get(
            sandbox_up.base + "/api/agents/ana",
            headers={"Authorization": f"Bearer {made.stdout.strip()}"}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["id"] == "ana"


async def test_metrics_sum_the_web_and_worker_processes(sandbox_up: SandboxUp) -> None:
    """`up` gives web and worker one PROMETHEUS_MULTIPROC_DIR: the web's /metrics shows the
    worker's sends next to its own webhooks."""
    sim = await asyncio.to_thread(sandbox_up.run, "simulate", "--phone", "+525500000021",
                                  "--say", "Hola", "--reply", "Hola, soy Ana")
    assert sim.returncode == 0, sim.stdout + sim.stderr
    async with aiohttp.ClientSession() as http, http.get(sandbox_up.base + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in text_string_to_metric_families(text) for s in f.samples}
    assert found[("relaydesk_sends_total", (("outcome", "sent"), ("provider", "twilio")))] >= 1
    assert found[("relaydesk_webhooks_total", (("channel", "whatsapp"), ("result", "ok"),
                                               ("webhook", "message")))] >= 1
    assert (sandbox_up.var / "metrics").is_dir()
