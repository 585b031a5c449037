"""Moving a conversation between people: assign (or take), transfer, escalate, close; and the
routing dry run."""

from __future__ import annotations

from routing.actions.contacts import contact_ref
from routing.actions.context import Ctx, allow, campaign_of, conversation
from routing.config import serves
from routing.errors import Conflict, Invalid, NotFound, Unprocessable
from routing.permissions import (
    Principal,
    may_close,
    may_dry_run,
    may_handle,
    may_read_conversation,
    may_reassign,
)
from routing.results import Decision, Moved, Result
from routing.types import ESCALATIONS

#: Statuses in which nobody holds a conversation, so an agent of its campaign may take it.
UNOWNED = ("queued", "unassigned", "waiting")


def _moved(result: Moved, field: str) -> Moved:
    if result.outcome == "closed":
        raise Conflict("the conversation is closed", field)
    if result.outcome == "same_agent":
        raise Unprocessable(f"it is already assigned to {result.detail}", field)
    if result.outcome == "target_unavailable":
        raise Unprocessable(f"not possible now: {result.detail}", field)
    return result


async def read_conversation(ctx: Ctx, who: Principal, vid: str
                            ) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """A conversation and its events."""
    conv = await conversation(ctx, vid)
    allow(may_read_conversation(who, ctx.workspace, conv["campaign"], conv.get("assignee", "")))
    return conv, await ctx.store.events(vid)


async def assign(ctx: Ctx, who: Principal, vid: str, target: str, note: str = "") -> Moved:
    """Give the conversation to an agent: supervisors to anyone; an agent may take an
    unowned conversation of a campaign they serve for themselves."""
    conv = await conversation(ctx, vid)
    if not target:
        raise Invalid("choose who gets the conversation", "agent")
    if ctx.workspace.agent(target) is None:
        raise NotFound(f"no agent {target!r}", "agent")
    agent = ctx.workspace.agent(who.agent)
    taking = (agent is not None and target == agent.id and conv["status"] in UNOWNED
              and serves(agent, conv["campaign"]))
    if not taking:
        allow(may_reassign(who, ctx.workspace))
    return _moved(await ctx.store.move(vid, who.actor, "reassign", target, note), "agent")


def _transfer_checks(who: Principal, ctx: Ctx, conv: dict[str, str], note: str) -> None:
    allow(may_handle(who, ctx.workspace, conv.get("assignee", ""), "transferring"))
    if not note.strip():
        raise Invalid("a transfer needs a note for whoever receives it", "note")


async def transfer_to_agent(ctx: Ctx, who: Principal, vid: str, target: str, note: str) -> Moved:
    """A12: to another agent of the same campaign (typification "Transfer")."""
    conv = await conversation(ctx, vid)
    _transfer_checks(who, ctx, conv, note)
    campaign = campaign_of(ctx, conv)
    peer = ctx.workspace.agent(target)
    if peer is None or not serves(peer, campaign.id):
        raise Unprocessable(f"{target} does not serve {campaign.id} (A12: same campaign, same "
                            "channel)", "target")
    return _moved(await ctx.store.move(vid, who.actor, "transfer_agent", target, note), "target")


async def transfer_to_campaign(ctx: Ctx, who: Principal, vid: str, target: str, note: str
                               ) -> Moved:
    """A13: to another campaign on the same number, routed there by its policy (past any
    bot), in a new thread."""
    conv = await conversation(ctx, vid)
    _transfer_checks(who, ctx, conv, note)
    campaign, other = campaign_of(ctx, conv), ctx.workspace.campaign(target)
    if other is None or other.address != campaign.address or other.id == campaign.id:
        raise Unprocessable(f"{target} is not another campaign on this conversation's number "
                            "(A13)", "target")
    return _moved(await ctx.store.move(vid, who.actor, "transfer_campaign", target, note,
                                       other.default_department or ""), "target")


async def escalate(ctx: Ctx, who: Principal, vid: str, kind: str, note: str = "") -> Result:
    """S6: served first from any queue; the supervisors' channel is told."""
    conv = await conversation(ctx, vid)
    allow(may_handle(who, ctx.workspace, conv.get("assignee", ""), "escalating"))
    if kind not in ESCALATIONS:
        raise Invalid(f"type must be one of {list(ESCALATIONS)}", "type")
    result = await ctx.store.escalate(vid, who.actor, kind, note)
    if result.outcome == "closed":
        raise Conflict("the conversation is closed", "type")
    return result


async def close(ctx: Ctx, who: Principal, vid: str, typification: str = "",
                subtypification: str = "", note: str = "") -> Moved:
    """Close with the campaign's typification (and sub-typification, where it has them)."""
    conv = await conversation(ctx, vid)
    allow(may_close(who, ctx.workspace, conv.get("assignee", "")))
    campaign = campaign_of(ctx, conv)
    if campaign.typifications:
        names = {t.name: t for t in campaign.typifications}
        if typification not in names:
            raise Invalid(f"typification must be one of {sorted(names)}", "typification")
        subs = names[typification].subtypes
        if subs and subtypification not in subs:
            raise Invalid(f"subtypification of {typification} must be one of {list(subs)}",
                          "typification")
    result = await ctx.store.close(vid, who.actor, typification, subtypification, note)
    if result.outcome == "already_closed":
        raise Conflict("the conversation is already closed", "typification")
    return result


async def dry_run(ctx: Ctx, who: Principal | None, campaign_id: str, contact: str) -> Decision:
    """Where a new conversation of this contact in this campaign would go now, and why.
    ``who`` None is the operator's CLI."""
    if who is not None:
        allow(may_dry_run(who, ctx.workspace))
    if not campaign_id:
        raise Invalid("campaign is required", "campaign")
    campaign = ctx.workspace.campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}", "campaign")
    if not contact:
        raise Invalid("contact is required (a contact id or an E.164 phone)", "contact")
    return await ctx.store.dry_run(contact_ref(contact), campaign.id,
                                   campaign.default_department or "", campaign.bot is not None)
