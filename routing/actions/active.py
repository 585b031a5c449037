"""Active messages (section 6): an approved template to one contact, from the Slack contact
card, the window refusal's "Send a template", ``/relaydesk send`` and the API; and the bulk
sends of marketing (``routing.actions.bulk``)."""

from __future__ import annotations

import json

from routing.actions.contacts import contact_ref as contact_ref
from routing.actions.context import Ctx, allow, conversation, runtime_grants
from routing.config import Campaign, Template, serves
from routing.errors import Conflict, Invalid, NotFound, Refused, Unprocessable
from routing.permissions import Principal, may_send_active
from routing.results import ActiveSent


def campaign_named(ctx: Ctx, campaign_id: str) -> Campaign:
    campaign = ctx.workspace.campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}", "campaign")
    return campaign


def template_named(campaign: Campaign, name: str) -> Template:
    template = campaign.template(name)
    if template is None:
        known = ", ".join(t.name for t in campaign.templates) or "none"
        raise NotFound(f"no template {name!r} in {campaign.id} (templates: {known})", "template")
    return template


def template_values(template: Template, variables: dict[str, str] | list[str]
                    ) -> dict[str, str]:
    try:
        return template.values(variables)
    except ValueError as exc:
        raise Invalid(str(exc), "variables") from None


def content(campaign: Campaign, template: Template, values: dict[str, str]
            ) -> tuple[str, str, str]:
    """(text stored and shown, ContentSid, ContentVariables JSON) of a template send: WhatsApp
    sends the Content API template, SMS its rendered body."""
    text = template.render(values)
    if campaign.channel == "whatsapp" and template.content_sid:
        return text, template.content_sid, json.dumps(values, ensure_ascii=False)
    return text, "", ""


async def send_active(ctx: Ctx, who: Principal, campaign_id: str, contact: str, template: str,
                      variables: dict[str, str] | list[str], agent: str = "", idem: str = "",
                      in_conversation: str = "") -> ActiveSent:
    """Send a campaign's template to a contact (id or phone). It opens or resumes the contact's
    conversation assigned to the sending agent (``agent`` for an admin; none: routed). From a
    conversation (``in_conversation``) its assignee needs no grant: it is their customer."""
    campaign = campaign_named(ctx, campaign_id)
    tpl = template_named(campaign, template)
    mine = False
    if in_conversation:
        conv = await conversation(ctx, in_conversation)
        mine = who.kind == "agent" and conv.get("assignee") == who.agent
    if not mine:
        allow(may_send_active(who, ctx.workspace, campaign.id, await runtime_grants(ctx, who)))
    if who.kind == "agent":
        if agent and agent != who.agent:
            raise Refused("an agent sends active messages as themselves")
        agent = who.agent
    elif who.kind == "bot":
        raise Refused("bots answer inside their conversations; active messages are for agents")
    if agent:
        found = ctx.workspace.agent(agent)
        if found is None:
            raise NotFound(f"no agent {agent!r}", "agent")
        if not serves(found, campaign.id) and not mine and "admin" not in found.roles:
            raise Unprocessable(f"{found.label} does not serve {campaign.label}, so the "
                                "conversation could not be theirs", "agent")
    values = template_values(tpl, variables)
    text, sid, cvars = content(campaign, tpl, values)
    result = await ctx.store.active_message(
        campaign.id, campaign.address, campaign.channel, contact_ref(contact), agent,
        who.actor, text, sid, cvars, tpl.name, f"{who.actor}:active:{idem}" if idem else "",
        campaign.default_department or "", campaign.bot is not None, tpl.session_only)
    if result.outcome == "opted_out":
        raise Unprocessable("the contact opted out (STOP) of messages from "
                            f"{campaign.label}; they must send START first", "contact")
    if result.outcome == "assigned_to_other":
        raise Conflict(f"the contact's conversation {result.conversation} is assigned to "
                       f"{ctx.workspace.name_of(result.assignee)}; ask them or a supervisor")
    if result.outcome == "window_closed":
        raise Unprocessable(f"{tpl.name} is interactive content for open conversations only: "
                            "the customer has not written in the last 24 hours", "template")
    if result.outcome == "no_phone":
        raise Unprocessable("the contact has no phone number", "contact")
    return result


async def templates_for(ctx: Ctx, vid: str) -> tuple[Campaign, dict[str, str]]:
    """The campaign of a conversation and its contact, to offer the campaign's templates
    pre-filled from the contact."""
    conv = await conversation(ctx, vid)
    campaign = campaign_named(ctx, conv["campaign"])
    return campaign, await ctx.store.contact_hash(conv["contact"])


def prefilled(template: Template, contact: dict[str, str]) -> dict[str, str]:
    """The variables that come from the contact (``contact: name``), by position."""
    return {str(i): contact.get(v.contact, "") for i, v in enumerate(template.variables, 1)
            if v.contact and contact.get(v.contact)}
