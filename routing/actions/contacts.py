"""A contact's data (edited with a review step), owner and exclusive agents."""

from __future__ import annotations

import re

from routing.actions.context import Ctx, allow, conversation, runtime_grants
from routing.config import e164, serves
from routing.errors import Conflict, Invalid, NotFound, Unprocessable
from routing.permissions import (
    Principal,
    may_assign_owners,
    may_edit_contact,
    may_read_audit,
    owner_campaigns,
)
from routing.results import ContactChanged

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EDITABLE = ("name", "phone", "email", "document")


def contact_ref(raw: str) -> str:
    """A contact id (``c12``) or a phone, normalized to E.164."""
    if raw.startswith("c") and raw[1:].isdigit():
        return raw
    try:
        return e164(raw)
    except ValueError as exc:
        raise Invalid(f"contact {raw!r} is neither a contact id (c12) nor a phone: {exc}",
                      "contact") from None


async def review_contact_edit(ctx: Ctx, who: Principal, vid: str, new: dict[str, str]
                              ) -> tuple[str, dict[str, tuple[str, str]]]:
    """E1-E3, first step: validate the new data of the conversation's contact; returns the
    contact id and each changed field as (old, new), for the person to confirm."""
    conv = await conversation(ctx, vid)
    allow(may_edit_contact(who, ctx.workspace, conv["campaign"], await runtime_grants(ctx, who)))
    wanted = {k: new.get(k, "").strip() for k in EDITABLE}
    try:
        wanted["phone"] = e164(wanted["phone"])
    except ValueError as exc:
        raise Invalid(str(exc), "phone") from None
    if wanted["email"] and not EMAIL.match(wanted["email"]):
        raise Invalid("that is not an email address", "email")
    contact = await ctx.store.contact_hash(conv["contact"])
    changes = {k: (contact.get(k, ""), v) for k, v in wanted.items() if contact.get(k, "") != v}
    if not changes:
        raise Invalid("nothing changed", "name")
    return conv["contact"], changes


async def edit_contact(ctx: Ctx, who: Principal, vid: str, cid: str,
                       changes: dict[str, str]) -> ContactChanged:
    """E1-E3, confirmed: every changed field is audited; the conversation's thread shows it."""
    conv = await conversation(ctx, vid)
    allow(may_edit_contact(who, ctx.workspace, conv["campaign"], await runtime_grants(ctx, who)))
    if conv["contact"] != cid or set(changes) - set(EDITABLE):
        raise Invalid("these changes are not for this conversation's contact")
    result = await ctx.store.edit_contact(cid, who.actor, changes, vid)
    if result.outcome == "phone_taken":
        raise Conflict(f"that phone belongs to another contact ({result.contact})", "phone")
    return result


async def contact_audit(ctx: Ctx, who: Principal, ref: str) -> list[dict[str, str]]:
    """Every owner, exclusive-agent and contact-data change: who, when, old, new."""
    allow(may_read_audit(who, ctx.workspace, await runtime_grants(ctx, who)))
    cid = await _existing(ctx, ref)
    return [{"at": f["at"], "actor": f["actor"], "field": f["field"], "old": f.get("old", ""),
             "new": f.get("new", "")} for _, f in await ctx.store.contact_audit(cid)]


async def _existing(ctx: Ctx, ref: str) -> str:
    """The id of an existing contact (by id or phone), or NotFound."""
    wanted = contact_ref(ref)
    cid = wanted if wanted.startswith("c") else await ctx.store.contact_id(wanted)
    if not cid or not await ctx.store.contact_hash(cid):
        raise NotFound(f"no contact {ref!r}")
    return cid


async def read_owners(ctx: Ctx, who: Principal, ref: str) -> dict[str, str]:
    """A contact's data with its owner and exclusive agents (owner assigners: by role, or by
    the "assign owners" grant in some campaign)."""
    allow(may_assign_owners(who, ctx.workspace, None, await runtime_grants(ctx, who)))
    return await ctx.store.contact_hash(await _existing(ctx, ref))


def _owner_target(ctx: Ctx, owner_type: str, owner_id: str) -> tuple[str, str]:
    """The owner as the store keeps it: ('agent', id), ('department', campaign/dept), ('', '')."""
    if owner_type == "agent":
        if ctx.workspace.agent(owner_id) is None:
            raise NotFound(f"no agent {owner_id!r}")
        return "agent", owner_id
    if owner_type == "department":
        campaign = ctx.workspace.campaign(owner_id.partition("/")[0])
        if campaign is None or "/" not in owner_id or campaign.department(owner_id) is None:
            raise NotFound(f"no department {owner_id!r} (write it as campaign/department)")
        return "department", owner_id
    return "", ""


async def set_owner(ctx: Ctx, who: Principal, refs: list[str], owner_type: str,
                    owner_id: str = "") -> ContactChanged:
    """O1-O5: the owner (agent, department, or unassigned) of one or many contacts; unknown
    contact ids come back as ''.

    Who may: the ``owner_assigners`` roles (admin always) for any owner; the "assign owners"
    grant of a campaign for owners in it (a department of it, an agent who serves it), and
    only over contacts whose current owner, if any, is in one of their campaigns too."""
    ws = ctx.workspace
    runtime = await runtime_grants(ctx, who)
    allow(may_assign_owners(who, ws, None, runtime))
    otype, oid = _owner_target(ctx, owner_type, owner_id)
    if otype:
        allow(may_assign_owners(who, ws, owner_campaigns(ws, otype, oid), runtime))
    if may_assign_owners(who, ws, set()) is not None:  # by grant: the current owners count too
        for ref in refs:
            wanted = contact_ref(ref)
            cid = wanted if wanted.startswith("c") else await ctx.store.contact_id(wanted)
            current = await ctx.store.contact_hash(cid) if cid else {}
            if current.get("owner_type"):
                refusal = may_assign_owners(who, ws, owner_campaigns(
                    ws, current["owner_type"], current.get("owner_id", "")), runtime)
                if refusal:
                    allow(f"contact {ref} is owned by {current['owner_type']} "
                          f"{current.get('owner_id', '')}: replacing that owner: {refusal}")
    return await ctx.store.set_owner([contact_ref(r) for r in refs], otype, oid, who.actor)


async def set_exclusive(ctx: Ctx, who: Principal, ref: str, campaign_id: str, agent: str
                        ) -> ContactChanged:
    """The exclusive agent of a contact in one campaign ('' removes it): owner assigners by
    role, or by the "assign owners" grant in that campaign."""
    runtime = await runtime_grants(ctx, who)
    allow(may_assign_owners(who, ctx.workspace, None, runtime))
    if ctx.workspace.campaign(campaign_id) is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    allow(may_assign_owners(who, ctx.workspace, {campaign_id}, runtime))
    if agent:
        peer = ctx.workspace.agent(agent)
        if peer is None:
            raise NotFound(f"no agent {agent!r}")
        if not serves(peer, campaign_id):
            raise Unprocessable(f"agent {agent} does not serve campaign {campaign_id}")
    return await ctx.store.set_exclusive(contact_ref(ref), campaign_id, agent, who.actor)
