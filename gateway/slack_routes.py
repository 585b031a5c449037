"""Slack Events API endpoint: slack-bolt mounted in the aiohttp app."""

from __future__ import annotations

import dataclasses
import re

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from channels.slack import requests
from channels.slack.events import build_app
from gateway import slack_commands
from gateway.services import Services, error
from gateway.slack_desk import Desk
from routing.types import AgentReply, Media, ReplyResult

log = structlog.get_logger("slack")
NOTE = ";;"
MEDIA_TYPES = {"image": "image/jpeg", "document": "application/pdf", "video": "video/mp4"}
CANNED = re.compile(r"^;([a-z0-9_-]{1,30})$")


def setup(app: web.Application, services: Services) -> None:
    settings = services.settings

    async def on_reply(reply: AgentReply) -> ReplyResult:
        text = reply.text.strip()
        if reply.media:  # A5: attachments only where the campaign allows external resources
            vid = await services.store.redis.hget(services.store.keys.threads,
                                                  f"{reply.slack_channel}|{reply.thread_ts}")
            campaign = services.workspace.campaign((await services.store.redis.hget(
                services.store.keys.conv(vid.decode()), "campaign") or b"").decode()
            ) if vid else None
            if campaign is not None and not campaign.options.attachments:
                return ReplyResult("attachments_refused", vid.decode(), campaign.name
                                   or campaign.id)
        if text.startswith(NOTE) or CANNED.match(text):
            vid = await services.store.redis.hget(services.store.keys.threads,
                                                  f"{reply.slack_channel}|{reply.thread_ts}")
            agent = next((a for a in services.workspace.agents
                          if a.slack_user == reply.slack_user), None)
            if vid is None:
                return ReplyResult("no_conversation", "", "")
            if agent is None:
                return ReplyResult("not_an_agent", vid.decode(), "")
            if text.startswith(NOTE):  # an internal note: recorded, never sent (S1)
                await services.store.note(vid.decode(), agent.id, text[len(NOTE):].strip(),
                                          reply.event_id)
                return ReplyResult("noted", vid.decode(), "")
            campaign = services.workspace.campaign(
                (await services.store.redis.hget(services.store.keys.conv(vid.decode()),
                                                 "campaign") or b"").decode())
            key = CANNED.match(text).group(1)
            canned = campaign.canned.get(key) if campaign else None
            resource = campaign.resource(key) if campaign and canned is None else None
            if canned is None and resource is None:
                known = sorted([*campaign.canned, *(r.key for r in campaign.resources)]
                               if campaign else [])
                return ReplyResult("unknown_canned", vid.decode(),
                                   f";{key}|{', '.join(';' + k for k in known) or 'none'}")
            if resource is not None and resource.kind != "text":
                media = (Media(resource.content_type or MEDIA_TYPES[resource.kind],
                               resource.url),)
                reply = dataclasses.replace(reply, text=resource.text, media=media)
            else:  # A6: a canned response or a text resource is sent as written
                reply = dataclasses.replace(reply, text=canned or resource.text)
        result = ReplyResult.parse(await services.store.agent_reply(reply))
        log.info("slack.reply", outcome=result.outcome, conversation=result.conversation_id,
                 event_id=reply.event_id)
        if result.outcome == "queued":
            services.dispatch(f"twilio:{result.conversation_id}", f"status:{result.detail}")
        elif result.outcome == "not_assignee":
            agent = services.workspace.agent(result.detail)
            who = f"<@{agent.slack_user}>" if agent else (result.detail or "nobody")
            result = ReplyResult(result.outcome, result.conversation_id, who)
        return result

    async def on_command(slack_user: str, text: str) -> str:
        return await slack_commands.handle(services, slack_user, text)

    bolt = build_app(settings.slack_bot_token, settings.slack_signing_secret,
                     settings.slack_api_base, on_reply, on_command, Desk(services))

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
