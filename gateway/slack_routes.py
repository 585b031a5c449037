"""Slack Events API endpoint: slack-bolt mounted in the aiohttp app. Thread text is translated
here into the use case it asks for: ``;;`` a note, ``;key`` a saved response, else a reply."""

from __future__ import annotations

import json
import re

import aiohttp
import structlog
from aiohttp import web
from slack_bolt import BoltResponse
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from channels.slack import requests
from channels.slack.events import build_app
from gateway import slack_commands
from gateway.services import RETRY_AFTER, Services, error
from gateway.slack_desk import Desk
from routing import actions
from routing.connection import UNAVAILABLE
from routing.results import Replied
from routing.types import AgentReply

log = structlog.get_logger("slack")
NOTE = ";;"
SAVED = re.compile(r"^;([a-z0-9_-]{1,30})$")


def setup(app: web.Application, services: Services) -> None:
    settings = services.settings

    async def on_reply(reply: AgentReply) -> Replied:
        text = reply.text.strip()
        ctx = services.ctx
        if text.startswith(NOTE):
            result = services.done(await actions.note(ctx, reply, text[len(NOTE):]))
        elif saved := SAVED.match(text):
            result = services.done(await actions.send_saved(ctx, reply, saved.group(1)))
        else:
            result = services.done(await actions.reply(ctx, reply))
        log.info("slack.reply", outcome=result.outcome, conversation=result.conversation,
                 event_id=reply.event_id)
        if result.outcome == "not_assignee":  # name who has it, as Slack shows people
            agent = services.workspace.agent(result.assignee)
            return Replied(result.outcome, conversation=result.conversation,
                           detail=f"<@{agent.slack_user}>" if agent else
                           (result.assignee or "nobody"))
        return result

    async def on_command(slack_user: str, text: str) -> str:
        return await slack_commands.handle(services, slack_user, text)

    bolt = build_app(settings.slack_bot_token, settings.slack_signing_secret,
                     settings.slack_api_base, on_reply, on_command, Desk(services))

    async def open_session(_: web.Application) -> None:
        # One session (and its kept-alive connections) for the desk's calls to Slack: modals,
        # Home tabs, ephemerals. Without one, the SDK opens a session and a connection per
        # call, a TLS handshake before each modal, which must open within Slack's 3 s.
        bolt.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=bolt.client.timeout),
            trust_env=bolt.client.trust_env_in_session)

    async def close_session(_: web.Application) -> None:
        if bolt.client.session is not None:
            await bolt.client.session.close()

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)

    @bolt.error
    async def on_error(error: Exception) -> BoltResponse | None:
        """Redis unreachable inside a listener: 503 with Retry-After (Slack retries events),
        not bolt's bare 500."""
        if isinstance(error, UNAVAILABLE):
            log.warning("redis.unavailable", path="/slack/events", error=type(error).__name__)
            return BoltResponse(status=503, body=json.dumps(
                {"error": f"storage unavailable, retry later ({type(error).__name__})"}),
                headers={"Content-Type": "application/json",
                         "Retry-After": str(RETRY_AFTER)})
        log.error("slack.listener_failed", error=type(error).__name__, exc_info=error)
        return None

    async def events(request: web.Request) -> web.Response:
        """Signature on the raw bytes, then decoding and shape (4xx with the reason), then
        bolt."""
        raw = await request.read()
        try:
            requests.verify(settings.slack_signing_secret, request.headers, raw)
            text = requests.decode(raw, request.charset)
            requests.parse(text, request.content_type)
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string,
                                            headers=request.headers)  # type: ignore[arg-type]
        except requests.Refused as exc:
            log.warning("slack.refused", status=exc.status, reason=str(exc))
            return error(exc.status, str(exc))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            # bolt reads team, enterprise, user and channel ids from the payload as it builds
            # the request; a payload whose fields have the wrong types stops it here
            return error(400, f"malformed Slack payload ({type(exc).__name__})")
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    app.router.add_post("/slack/events", events)
