"""What every use case works with: the workspace (config) and the store."""

from __future__ import annotations

from dataclasses import dataclass

from routing.config import Campaign, Workspace
from routing.errors import NotFound, Refused
from routing.permissions import Principal
from routing.store import Store


@dataclass(frozen=True)
class Ctx:
    workspace: Workspace
    store: Store  # over an asyncio client: every read and script is awaited


def allow(refusal: str | None) -> None:
    """Permission checks answer None or what is missing."""
    if refusal:
        raise Refused(refusal)


async def conversation(ctx: Ctx, vid: str) -> dict[str, str]:
    conv = await ctx.store.conversation_hash(vid)
    if not conv:
        raise NotFound(f"no conversation {vid!r}")
    return conv


def campaign_of(ctx: Ctx, conv: dict[str, str]) -> Campaign:
    campaign = ctx.workspace.campaign(conv.get("campaign", ""))
    if campaign is None:
        raise NotFound(f"campaign {conv.get('campaign')!r} is no longer configured")
    return campaign


def principal_of_slack(ctx: Ctx, slack_user: str) -> Principal:
    """The agent behind a Slack user, as a principal."""
    agent = ctx.workspace.agent_by_slack(slack_user)
    if agent is None:
        raise Refused("you are not a Relay Desk agent; ask an admin to add your Slack user to "
                      "the config")
    return Principal("agent", agent.label, agent=agent.id)


async def runtime_grants(ctx: Ctx, who: Principal) -> dict[str, str]:
    """Grants set through the API (they replace the config's for their campaign)."""
    return await ctx.store.grants(who.agent) if who.kind == "agent" else {}
