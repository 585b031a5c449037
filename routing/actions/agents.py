"""Agents at run time: presence, capacity, per-campaign grants."""

from __future__ import annotations

from routing.actions.context import Ctx, allow
from routing.errors import NotFound
from routing.permissions import (
    Principal,
    may_manage_grants,
    may_set_capacity,
    may_set_presence,
)
from routing.results import AgentChanged


def known_agent(ctx: Ctx, agent: str) -> str:
    if ctx.workspace.agent(agent) is None:
        raise NotFound(f"no agent {agent!r}")
    return agent


async def set_presence(ctx: Ctx, who: Principal, agent: str, presence: str) -> AgentChanged:
    """Online, away, offline; coming online takes waiting work at once."""
    known_agent(ctx, agent)
    allow(may_set_presence(who, ctx.workspace, agent))
    return await ctx.store.set_presence(agent, presence, who.actor)


async def set_capacity(ctx: Ctx, who: Principal, agent: str, capacity: int) -> AgentChanged:
    """Raising capacity takes waiting work at once; lowering it takes nothing away."""
    known_agent(ctx, agent)
    allow(may_set_capacity(who, ctx.workspace))
    return await ctx.store.set_capacity(agent, capacity, who.actor)


async def set_grants(ctx: Ctx, who: Principal, agents: list[str], campaign: str,
                     grants: list[str]) -> None:
    """Per-campaign grants of one or many agents; they replace the config's for that campaign."""
    allow(may_manage_grants(who, ctx.workspace))
    if ctx.workspace.campaign(campaign) is None:
        raise NotFound(f"no campaign {campaign!r}")
    unknown = [a for a in agents if ctx.workspace.agent(a) is None]
    if unknown:
        raise NotFound(f"no agent(s) {unknown}")
    await ctx.store.set_grants(agents, campaign, grants, who.actor)
