"""Sandbox mode: serve the Twilio and Slack stand-ins from the web process itself.

With no credentials, the settings point both SDKs at ``/sandbox/twilio`` and
``/sandbox/slack/api/`` on this process, so a newcomer needs nothing but ``make run``. The
Twilio stand-in sends signed status callbacks (sent, delivered, read) like Twilio does. The
console at ``/sandbox`` (``gateway.sandbox.console``) shows both sides in a browser.
"""

from __future__ import annotations

from aiohttp import web

from gateway.sandbox import console
from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio
from gateway.settings import Settings

FAKES = web.AppKey("sandbox", tuple)


def mount(app: web.Application, settings: Settings) -> None:
    twilio = FakeTwilio(settings.twilio_account_sid, settings.twilio_auth_token, auto_status=True,
                        status_delay=0.3)
    slack = FakeSlack(settings.slack_bot_token)
    app[FAKES] = (twilio, slack)
    app.add_subapp("/sandbox/twilio", twilio.app())
    app.add_subapp("/sandbox/slack/api", slack.app())
    console.setup(app, settings, twilio, slack)
