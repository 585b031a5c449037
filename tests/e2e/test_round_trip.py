"""The whole Procfile up: a customer message goes to a Slack thread, the agent's reply goes to
the customer, and Twilio's status callbacks show on the agent's message."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.redis_launcher import free_port
from gateway.sandbox.fake_slack import FakeSlack
from tests.e2e.conftest import Stack, clean_env, stop, wait_healthy
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


async def test_make_run_then_simulate_shows_both_sides(tmp_path: Path, repo_root: Path) -> None:
    """`python -m gateway up` (what `make run` runs) with no credentials and no REDIS_URL, then
    `python -m gateway simulate` as a newcomer would."""
    port = free_port()
    env = clean_env(WEB_PORT=str(port), EMBEDDED_REDIS_PORT=str(free_port()),
                    RELAYDESK_VAR=str(tmp_path / "var"))
    up = subprocess.Popen([sys.executable, "-m", "gateway", "up"], cwd=repo_root, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", up, timeout=30)
        sim = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway", "simulate", "--say", "Hola", "--reply",
             "Hola, soy Ana"],
            cwd=repo_root, env=env, capture_output=True, text=True, timeout=60,
        )
        assert sim.returncode == 0, sim.stdout + sim.stderr
        out = sim.stdout
        assert "new thread card: Lucía · WhatsApp · assigned · Ana Ruiz" in out
        assert "whatsapp:+525512345678 <-" in out and "'Hola, soy Ana'" in out
        assert "status: read" in out
        assert (tmp_path / "var" / "redis" / "appendonlydir").exists() or any(
            (tmp_path / "var" / "redis").glob("appendonly*"))
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        stop(up)
