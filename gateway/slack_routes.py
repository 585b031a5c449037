"""Slack Events API endpoint: slack-bolt mounted in the aiohttp app."""

from __future__ import annotations

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from channels.slack.events import build_app
from gateway import slack_commands
from gateway.services import Services
from routing.types import AgentReply, ReplyResult

log = structlog.get_logger("slack")


def setup(app: web.Application, services: Services) -> None:
    settings = services.settings

    async def on_reply(reply: AgentReply) -> ReplyResult:
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
                     settings.slack_api_base, on_reply, on_command)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app.router.add_post("/slack/events", events)
