"""What a worker process needs, built once per process (the worker does not fork per job).

Tests that run jobs in-process install their own context with ``install``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests
from slack_sdk import WebClient
from twilio.rest import Client

from channels.media import media_key
from channels.twilio.client import make_client
from routing.config import Campaign, Workspace
from routing.connection import sync_client
from routing.store import Store
from workers.dispatch import Dispatcher
from workers.metrics import MeteredWebClient

SANDBOX_BOT_SECRET = "sandbox-bot-secret"  # used in sandbox mode when the env var is unset


@dataclass(frozen=True)
class SlackPacing:
    """How fast workers post to Slack (chat.postMessage), shared by all of them through token
    buckets in Redis (routing.pacing): Slack allows about one message per second per channel
    with short bursts, and a few hundred per minute per workspace. Environment:
    ``SLACK_CHANNEL_RATE``, ``SLACK_CHANNEL_BURST``, ``SLACK_WORKSPACE_PER_MINUTE``."""

    channel_rate: float = 1.0
    channel_burst: int = 3
    workspace_per_minute: int = 300

    @classmethod
    def from_env(cls) -> SlackPacing:
        env = os.environ
        return cls(float(env.get("SLACK_CHANNEL_RATE", cls.channel_rate)),
                   int(env.get("SLACK_CHANNEL_BURST", cls.channel_burst)),
                   int(env.get("SLACK_WORKSPACE_PER_MINUTE", cls.workspace_per_minute)))


@dataclass
class Context:
    workspace: Workspace
    store: Store
    twilio: Client
    slack: WebClient
    dispatcher: Dispatcher
    status_callback_url: str
    http: requests.Session
    public_url: str = ""
    media_secret: bytes = b""  # channels.media.media_key of the Twilio auth token
    sandbox: bool = False
    redis_url: str = ""  # for the asyncio use cases the worker runs (workers.homes)
    slack_pacing: SlackPacing = SlackPacing()

    def bot_secret(self, campaign: Campaign) -> str:
        """The HMAC secret of a campaign's bot, from the env var its config names."""
        assert campaign.bot is not None
        secret = os.environ.get(campaign.bot.secret_env, "")
        if not secret and self.sandbox:
            return SANDBOX_BOT_SECRET
        if not secret:
            raise LookupError(f"campaign {campaign.id}: set {campaign.bot.secret_env} to the "
                              "bot's signing secret")
        return secret

    @classmethod
    def build(cls, *, workspace: Workspace, redis_url: str, rq_redis_url: str, namespace: str,
              queue: str, twilio_sid: str, twilio_token: str, twilio_api_base: str,
              slack_token: str, slack_api_base: str, public_url: str,
              sandbox: bool = False, twilio_overrides: str = "",
              slack_pacing: SlackPacing | None = None) -> Context:
        """``twilio_overrides``: Twilio connection overrides for our status callbacks (the
        URL fragment, e.g. ``rc=5&rp=all``), so Twilio retries them through an outage.
        No retry handler for Slack's 429s: the SDK's would sleep inside the worker; jobs pace
        their posts and reschedule themselves when Slack (or the pacing) says wait."""
        slack = MeteredWebClient(token=slack_token, base_url=slack_api_base, timeout=10)
        return cls(
            workspace=workspace,
            store=Store(sync_client(redis_url, decode_responses=True), namespace),
            twilio=make_client(twilio_sid, twilio_token, twilio_api_base),
            slack=slack,
            dispatcher=Dispatcher(sync_client(rq_redis_url), queue),
            status_callback_url=f"{public_url}/twilio/status" + (
                "#" + twilio_overrides.lstrip("#") if twilio_overrides else ""),
            http=requests.Session(),
            public_url=public_url,
            media_secret=media_key(twilio_token),
            sandbox=sandbox,
            redis_url=redis_url,
            slack_pacing=slack_pacing or SlackPacing.from_env(),
        )


_current: Context | None = None


def install(context: Context | None) -> None:
    global _current
    _current = context


def current() -> Context:
    """The process's context, installed by the entry point before the worker starts."""
    if _current is None:
        raise RuntimeError("no worker context: start workers with `python -m gateway worker`")
    return _current
