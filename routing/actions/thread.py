"""What an agent writes in a conversation's Slack thread: a reply to the customer, an internal
note, or a saved text or gallery resource (``;key``).

These answer with an outcome instead of raising: most refusals are shown to the writer as an
ephemeral message, and a provider retry (``duplicate``) must stay silent.
"""

from __future__ import annotations

import dataclasses

from routing.actions.context import Ctx
from routing.config import Agent, Campaign
from routing.permissions import Principal, may_note, may_send_files
from routing.results import Replied
from routing.types import AgentReply, Media

#: Content types of gallery resources that declare none (A6).
MEDIA_TYPES = {"image": "image/jpeg", "document": "application/pdf", "video": "video/mp4"}


async def _writer(ctx: Ctx, written: AgentReply) -> tuple[Agent | None, str, Campaign | None]:
    """Who wrote (None if no agent), in which conversation ('' if the thread is not one)."""
    vid = await ctx.store.thread_conversation(written.slack_channel, written.thread_ts) or ""
    campaign = None
    if vid:
        campaign = ctx.workspace.campaign(
            (await ctx.store.conversation_hash(vid)).get("campaign", ""))
    return ctx.workspace.agent_by_slack(written.slack_user), vid, campaign


async def _files_refused(ctx: Ctx, agent: Agent, vid: str, campaign: Campaign | None
                         ) -> Replied | None:
    """A5: files need the campaign's option and the agent's "attachments" grant there."""
    if campaign is None:
        return None
    refusal = may_send_files(Principal("agent", agent.label, agent=agent.id), ctx.workspace,
                             campaign.id, await ctx.store.grants(agent.id))
    return Replied("attachments_refused", conversation=vid, detail=refusal) if refusal else None


async def reply(ctx: Ctx, written: AgentReply) -> Replied:
    """Send the agent's reply to the customer, if they are its assignee (or claim it: see
    agent_reply.lua) and the channel allows it now; files only where the campaign allows
    attachments and the agent has the "attachments" grant (A5)."""
    agent, vid, campaign = await _writer(ctx, written)
    if not vid:
        return Replied("no_conversation")
    if agent is None:
        return Replied("not_an_agent", conversation=vid)
    if written.media and (refused := await _files_refused(ctx, agent, vid, campaign)):
        return refused
    return await ctx.store.agent_reply(written, agent.id)


async def note(ctx: Ctx, written: AgentReply, text: str) -> Replied:
    """S1: an internal note, recorded with the conversation and the contact, never sent;
    only from agents who serve the conversation's campaign, supervisors and admins."""
    agent, vid, campaign = await _writer(ctx, written)
    if not vid:
        return Replied("no_conversation")
    if agent is None:
        return Replied("not_an_agent", conversation=vid)
    refusal = may_note(Principal("agent", agent.label, agent=agent.id), ctx.workspace,
                       campaign.id if campaign else "")
    if refusal:
        return Replied("note_refused", conversation=vid, detail=refusal)
    noted = await ctx.store.note(vid, agent.id, text.strip(), written.event_id)
    return Replied(noted.outcome, jobs=noted.jobs, conversation=vid)


async def send_saved(ctx: Ctx, written: AgentReply, key: str) -> Replied:
    """A6: ``;key`` sends the campaign's canned response or gallery resource of that key."""
    agent, vid, campaign = await _writer(ctx, written)
    if not vid or agent is None or campaign is None:
        return await reply(ctx, written)
    canned = campaign.canned.get(key)
    resource = campaign.resource(key) if canned is None else None
    if canned is not None:
        saved = dataclasses.replace(written, text=canned)
    elif resource is not None and resource.kind == "text":
        saved = dataclasses.replace(written, text=resource.text)
    elif resource is not None:
        if refused := await _files_refused(ctx, agent, vid, campaign):
            return refused
        media = (Media(resource.content_type or MEDIA_TYPES[resource.kind], resource.url),)
        saved = dataclasses.replace(written, text=resource.text, media=media)
    else:
        known = sorted([*campaign.canned, *(r.key for r in campaign.resources)])
        return Replied("unknown_canned", conversation=vid,
                       detail=f";{key}|{', '.join(';' + k for k in known) or 'none'}")
    return await ctx.store.agent_reply(saved, agent.id)
