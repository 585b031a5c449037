"""A contact's data (edited with a review step), owner and exclusive agents."""

from __future__ import annotations

import re

from routing.actions.context import Ctx, allow, conversation, runtime_grants
from routing.config import e164, serves
from routing.errors import ActionError, Conflict, Invalid, NotFound, Unprocessable
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


async def review_contact_edit(ctx: Ctx, who: Principal, vid: str, new: dict[str, str],
                              unchanged_ok: bool = False
                              ) -> tuple[str, dict[str, tuple[str, str]]]:
    """E1-E3, first step: validate the new data of the conversation's contact; returns the
    contact id and each changed field as (old, new), for the person to confirm. Nothing
    changed is an error unless ``unchanged_ok`` (other changes are reviewed with it)."""
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
    if not changes and not unchanged_ok:
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
    if owner_type not in ("agent", "department", "unassigned", ""):
        raise Invalid(f"an owner is an agent, a department or unassigned, not {owner_type!r}",
                      "owner")
    if owner_type == "agent":
        if ctx.workspace.agent(owner_id) is None:
            raise NotFound(f"no agent {owner_id!r}")
        return "agent", owner_id
    if owner_type == "department":
        if not owner_id:
            raise Invalid("name the department as campaign/department", "owner")
        campaign = ctx.workspace.campaign(owner_id.partition("/")[0])
        if campaign is None or "/" not in owner_id or campaign.department(owner_id) is None:
            raise NotFound(f"no department {owner_id!r} (write it as campaign/department)")
        return "department", owner_id
    return "", ""


async def check_owner(ctx: Ctx, who: Principal, refs: list[str], owner_type: str,
                      owner_id: str = "") -> tuple[str, str]:
    """Whether ``who`` may give these contacts this owner, and the owner as the store keeps it
    (``set_owner`` without the write: Slack's confirmation step asks it first).

    Who may: the ``owner_assigners`` roles (admin always) for any owner; the "assign owners"
    grant of a campaign for owners in it (a department of it, an agent who serves it), and
    only over contacts whose current owner, if any, is in one of their campaigns too."""
    ws = ctx.workspace
    runtime = await runtime_grants(ctx, who)
    try:
        otype, oid = _owner_target(ctx, owner_type, owner_id)
    except ActionError:  # someone who may assign no owner at all hears that first
        allow(may_assign_owners(who, ws, None, runtime))
        raise
    allow(may_assign_owners(who, ws, owner_campaigns(ws, otype, oid) if otype else None,
                            runtime))
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
    return otype, oid


async def set_owner(ctx: Ctx, who: Principal, refs: list[str], owner_type: str,
                    owner_id: str = "") -> ContactChanged:
    """O1-O5: the owner (agent, department, or unassigned) of one or many contacts; unknown
    contact ids come back as ''. Open conversations stay where they are (their cards and
    threads show the change); the owner routes the contacts' next conversations."""
    otype, oid = await check_owner(ctx, who, refs, owner_type, owner_id)
    return await ctx.store.set_owner([contact_ref(r) for r in refs], otype, oid, who.actor)


async def check_exclusive(ctx: Ctx, who: Principal, campaign_id: str, agent: str) -> None:
    """Whether ``who`` may make ``agent`` ('' none) the exclusive agent in a campaign: owner
    assigners by role, or by the "assign owners" grant in that campaign."""
    runtime = await runtime_grants(ctx, who)
    if ctx.workspace.campaign(campaign_id) is None:
        allow(may_assign_owners(who, ctx.workspace, None, runtime))
        raise NotFound(f"no campaign {campaign_id!r}")
    allow(may_assign_owners(who, ctx.workspace, {campaign_id}, runtime))
    if agent:
        peer = ctx.workspace.agent(agent)
        if peer is None:
            raise NotFound(f"no agent {agent!r}")
        if not serves(peer, campaign_id):
            raise Unprocessable(f"agent {agent} does not serve campaign {campaign_id}")


async def set_exclusive(ctx: Ctx, who: Principal, ref: str, campaign_id: str, agent: str
                        ) -> ContactChanged:
    """A14: the exclusive agent of a contact in one campaign ('' removes it); open
    conversations stay where they are."""
    await check_exclusive(ctx, who, campaign_id, agent)
    return await ctx.store.set_exclusive(contact_ref(ref), campaign_id, agent, who.actor)


def owner_value(contact: dict[str, str]) -> str:
    """A contact's owner as one value: ``agent:ana``, ``department:care/front``, ``unassigned``."""
    otype = contact.get("owner_type", "")
    return f"{otype}:{contact.get('owner_id', '')}" if otype else "unassigned"


async def review_ownership(ctx: Ctx, who: Principal, vid: str, owner: str | None,
                           exclusive: str | None) -> dict[str, str]:
    """First step of changing, from a conversation, its contact's owner (``owner_value``
    form) and exclusive agent in its campaign ('' none); None leaves one alone. Checked as
    ``set_owner`` and ``set_exclusive`` check; returns only what changes, for the person to
    confirm (then those two apply it)."""
    conv = await conversation(ctx, vid)
    contact = await ctx.store.contact_hash(conv["contact"])
    out = {}
    if owner is not None and owner != owner_value(contact):
        otype, _, oid = owner.partition(":")
        await check_owner(ctx, who, [conv["contact"]], otype, oid)
        out["owner"] = owner
    current = contact.get(f"exclusive:{conv['campaign']}", "")
    if exclusive is not None and exclusive != current:
        await check_exclusive(ctx, who, conv["campaign"], exclusive)
        out["exclusive"] = exclusive
    return out


async def open_conversations(ctx: Ctx, ref: str, campaign: str = "") -> list[dict[str, str]]:
    """The contact's open conversations (of one campaign, if given): what an owner or
    exclusive-agent change leaves where it is, for the person to confirm. [] for a contact not
    seen yet."""
    wanted = contact_ref(ref)
    cid = wanted if wanted.startswith("c") else await ctx.store.contact_id(wanted)
    out = []
    for vid in await ctx.store.contact_conversations(cid) if cid else []:
        conv = await ctx.store.conversation_hash(vid)
        if conv and conv.get("status") != "closed" and campaign in ("", conv.get("campaign")):
            out.append(conv)
    return out
