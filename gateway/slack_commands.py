"""``/relaydesk`` for agents: presence (online, away, offline), status, their conversations and
the gallery; for owner assigners, a contact's owner and exclusive agent. Translates to the use
cases and reads; the words are in channels.slack.render."""

from __future__ import annotations

import re

from channels.slack import render
from gateway.services import Services
from routing import actions
from routing.config import serves
from routing.errors import ActionError, Refused
from routing.permissions import Principal

MENTION = re.compile(r"^<@(U[A-Z0-9]+)(?:\|[^>]*)?>$")


async def handle(services: Services, slack_user: str, text: str) -> str:
    agent = services.workspace.agent_by_slack(slack_user)
    if agent is None:
        return render.NOT_AN_AGENT
    me = actions.principal_of_slack(services.ctx, slack_user)
    word = (text.split() or ["status"])[0].lower()
    store = services.store
    if word in ("online", "away", "offline"):
        changed = services.done(await actions.set_presence(services.ctx, me, agent.id, word))
        return render.presence_set(word, len(changed.assigned))
    if word == "status":
        state = await store.agent_hash(agent.id)
        return render.agent_status(state.get("presence", "offline"), state.get("load", "0"),
                                   state.get("capacity", "0"), await store.inbox_size(agent.id))
    if word == "mine":  # A1
        rows = []
        for vid in sorted(await store.open_conversations(agent.id)):
            conv = await store.conversation_hash(vid)
            contact = await store.contact_hash(conv["contact"])
            campaign = services.workspace.campaign(conv["campaign"])
            rows.append((vid, contact.get("name") or contact.get("phone", ""),
                         f"<#{campaign.slack_channel}>" if campaign else conv["campaign"],
                         conv.get("priority") == "escalated"))
        return render.mine(rows)
    if word in ("owner", "exclusive"):  # O2, A14
        try:
            return await ownership(services, me, word, text.split()[1:])
        except ActionError as exc:
            return render.refused(exc) if isinstance(exc, Refused) else render.not_done(exc)
    if word == "gallery":  # A6
        return render.gallery([
            (c.label, dict(c.canned), [(r.key, r.kind, r.title) for r in c.resources])
            for c in services.workspace.campaigns if serves(agent, c.id)])
    return render.USAGE


def _agent(services: Services, word: str) -> str:
    """An agent named by id or by Slack mention (``<@U0ANA>``)."""
    mention = MENTION.match(word)
    agent = services.workspace.agent_by_slack(mention.group(1)) if mention else None
    return agent.id if agent else word


async def ownership(services: Services, me: Principal, word: str, args: list[str]) -> str:
    """``owner <contact> <agent|campaign/dept|none> [confirm]`` and ``exclusive <contact>
    <campaign> <agent|none> [confirm]``: checked, then confirmed when the contact has an open
    conversation (it stays where it is), then done by the same use cases as the API."""
    confirmed = bool(args) and args[-1].lower() == "confirm"
    args = args[:-1] if confirmed else args
    ctx, ws = services.ctx, services.workspace
    if word == "owner" and len(args) == 2:
        ref, target = args
        if target.lower() == "none":
            otype, oid = "unassigned", ""
        elif "/" in target:
            otype, oid = "department", target
        else:
            otype, oid = "agent", _agent(services, target)
        await actions.check_owner(ctx, me, [ref], otype, oid)
        label = render.owner_label("" if otype == "unassigned" else otype, oid, ws.name_of)
        opened = await actions.open_conversations(ctx, ref)
        if opened and not confirmed:
            return render.ownership_confirm(
                f"Set the owner of {ref} to {label}", _where(services, opened),
                f"/relaydesk owner {ref} {target} confirm")
        services.done(await actions.set_owner(ctx, me, [ref], otype, oid))
        return render.owner_set(ref, label)
    if word == "exclusive" and len(args) == 3:
        ref, campaign, target = args
        agent = "" if target.lower() == "none" else _agent(services, target)
        await actions.check_exclusive(ctx, me, campaign, agent)
        opened = await actions.open_conversations(ctx, ref, campaign)
        what = (f"Make {ws.name_of(agent)} the exclusive agent of {ref} in {campaign}" if agent
                else f"Remove the exclusive agent of {ref} in {campaign}")
        if opened and not confirmed:
            return render.ownership_confirm(what, _where(services, opened),
                                            f"/relaydesk exclusive {ref} {campaign} {target} "
                                            "confirm")
        services.done(await actions.set_exclusive(ctx, me, ref, campaign, agent))
        return render.exclusive_set(ref, campaign, ws.name_of(agent) if agent else "")
    return render.OWNERSHIP_USAGE


def _where(services: Services, opened: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(conversation, where it is now) of open conversations, as the confirmation shows them."""
    return [(c["id"], render.where_now(c.get("status", ""), services.workspace.name_of(
        c.get("assignee") or c.get("waiting_for") or ""))) for c in opened]
