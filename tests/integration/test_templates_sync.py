"""``python -m gateway templates sync``: the account's Content API templates through the Twilio
SDK (against the fake), checked against the configured WhatsApp templates."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import SLACK_SECRET, SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN, System
from tests.integration.test_cli import cli


async def test_templates_sync_lists_and_checks(system: System) -> None:
    env = {"REDIS_URL": system.settings.redis_url,
           "REDIS_NAMESPACE": system.settings.redis_namespace,
           "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "TWILIO_API_BASE": system.settings.twilio_api_base,
           "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET}
    system.twilio.add_content("HX0123456789abcdef0123456789abcdef", "follow_up",
                              "Hola {{1}}, ¿pudimos resolver {{2}}?", {"1": "Lucía", "2": "#1"})
    system.twilio.add_content("HXabcdef0123456789abcdef0123456789", "appointment",
                              "Hola {{1}}, ¿confirmas {{2}}?", {"1": "Lucía", "2": "mayo"},
                              kind="twilio/quick-reply", whatsapp="pending")
    run = await asyncio.to_thread(cli, system, "templates", "sync", env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "2 Content API template(s) in the account" in out
    assert "HX0123456789abcdef0123456789abcdef  follow_up (es; twilio/text; 2 variable(s); " \
           "WhatsApp: approved)" in out
    assert "support-wa/follow_up: ok" in out
    assert "support-wa/appointment: HXabcdef0123456789abcdef0123456789 (appointment) is not " \
           "approved for WhatsApp (pending)" in out
    system.twilio.contents[1]["approval_requests"]["status"] = "approved"
    run = await asyncio.to_thread(cli, system, "templates", "sync", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
