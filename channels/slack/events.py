"""Slack Events through slack-bolt: thread replies become ``AgentReply`` objects.

Bolt verifies the signing secret and ignores the app's own messages. The listener runs
before the HTTP answer (``process_before_response``) so a reply is stored before Slack gets
its 200; Slack's retries are deduplicated on ``event_id`` by the handler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.render import refusal
from routing.results import Replied
from routing.types import AgentReply, Media

ReplyHandler = Callable[[AgentReply], Awaitable[Replied]]
CommandHandler = Callable[[str, str], Awaitable[str]]  # (slack user, text) -> answer


class DeskHandler(Protocol):
    """What the card's buttons and modals call (gateway.slack_desk.Desk)."""

    async def open(self, client: AsyncWebClient, action: str, slack_user: str, vid: str,
                   trigger_id: str) -> str | None: ...

    async def agent_chosen(self, client: AsyncWebClient, view: dict[str, Any]) -> None: ...

    async def submit(self, client: AsyncWebClient, callback: str, slack_user: str,
                     view: dict[str, Any]) -> dict[str, Any] | None: ...

    async def home(self, client: AsyncWebClient, slack_user: str, state: str = "") -> None: ...

    async def history_view(self, client: AsyncWebClient, action: str, slack_user: str,
                           value: str, trigger_id: str) -> None: ...
COMMAND = "/relaydesk"

# Message subtypes that are not a person writing in a thread (file_share is one: kept).
IGNORED_SUBTYPES = {"bot_message", "message_changed", "message_deleted", "channel_join",
                    "channel_leave", "thread_broadcast", "message_replied"}


def to_agent_reply(body: dict[str, Any]) -> AgentReply | None:
    """A thread reply by a person, or None for anything else."""
    event = body.get("event") or {}
    if event.get("subtype") in IGNORED_SUBTYPES or event.get("bot_id"):
        return None
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not thread_ts or thread_ts == ts or not event.get("user"):
        return None
    return AgentReply(
        event_id=str(body.get("event_id") or f"{event.get('channel')}:{ts}"),
        slack_channel=str(event.get("channel", "")),
        thread_ts=str(thread_ts),
        slack_user=str(event["user"]),
        text=str(event.get("text") or ""),
        ts=str(ts),
        media=tuple(Media(str(f.get("mimetype") or "application/octet-stream"),
                          str(f["url_private"]), private=True)
                    for f in event.get("files") or [] if f.get("url_private")),
    )


def build_app(token: str, signing_secret: str, api_base: str, on_reply: ReplyHandler,
              on_command: CommandHandler, desk: DeskHandler) -> AsyncApp:
    client = AsyncWebClient(token=token, base_url=api_base)
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=True)

    @app.event("message")
    async def thread_reply(body: dict[str, Any], client: AsyncWebClient) -> None:
        reply = to_agent_reply(body)
        if reply is None:
            return
        result = await on_reply(reply)
        explanation = refusal(result.outcome, result.detail)
        if explanation:
            await client.chat_postEphemeral(
                channel=reply.slack_channel, user=reply.slack_user, thread_ts=reply.thread_ts,
                text=explanation,
            )

    @app.command(COMMAND)
    async def command(ack: Any, body: dict[str, Any]) -> None:
        # The answer is computed before acknowledging, so it is one round trip for Slack and
        # the change is stored before Slack hears back.
        await ack(text=await on_command(str(body.get("user_id", "")),
                                        str(body.get("text", "")).strip()))

    @app.action(re.compile(r"^rd_(assign|transfer|escalate|close|contact|history)$"))
    async def card_button(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        refusal = await desk.open(client, action["action_id"], body["user"]["id"],
                                  action["value"], body["trigger_id"])
        if refusal:
            channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
            await client.chat_postEphemeral(channel=channel, user=body["user"]["id"],
                                            text=refusal)

    @app.event("app_home_opened")
    async def home_opened(body: dict[str, Any], client: AsyncWebClient) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") == "home":
            await desk.home(client, str(event.get("user", "")))

    @app.action("rd_hist_page")
    async def history_page(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await desk.home(client, body["user"]["id"], body["actions"][0].get("value", ""))

    @app.action(re.compile(r"^rd_hist_(search|contact|ticket)$"))
    async def history_open(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        await desk.history_view(client, action["action_id"], body["user"]["id"],
                                action.get("value", ""), body["trigger_id"])

    @app.view("rd_hist_search")
    async def history_search(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        query = (((body["view"].get("state") or {}).get("values") or {}).get("q") or {})
        await desk.home(client, body["user"]["id"], json.dumps(
            {"page": 1, "q": (query.get("q") or {}).get("value") or "", "sort": "recent"}))

    @app.action("agent")  # the assign modal's select: pre-fill the note
    async def agent_chosen(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await desk.agent_chosen(client, body["view"])

    @app.view(re.compile(r"^rd_(assign|transfer|escalate|close|contact|contact_confirm)$"))
    async def submitted(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        answer = await desk.submit(client, view["callback_id"], body["user"]["id"], view)
        await ack(**(answer or {}))

    return app
