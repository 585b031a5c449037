"""The agent desk in Slack: what the card's buttons and modals do.

A translator: a button opens the modal its use case needs (after the same permission check the
use case makes, so nobody fills in a form they may not submit); a submission becomes one call
to ``routing.actions``, whose refusal is shown inside the modal (an input at fault) or as a
message. What people read is worded in ``channels.slack.render``; what the change shows in the
thread and on the card is marked by the store's script and done by the workers.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack import home, modals, render
from gateway.services import Services
from routing import actions
from routing.actions import active
from routing.actions.context import allow, campaign_of, runtime_grants
from routing.config import serves
from routing.errors import ActionError, Refused
from routing.permissions import (
    Principal,
    may_close,
    may_edit_contact,
    may_handle,
    may_reassign,
    may_send_active,
    may_view,
)

log = structlog.get_logger("desk")
Ack = dict[str, Any] | None
#: Which input of each modal a refusal without a field of its own is shown on.
FIELD = {"rd_assign": "agent", "rd_transfer": "target", "rd_escalate": "type",
         "rd_close": "typification", "rd_contact": "name", "rd_template": "template"}


class Desk:
    def __init__(self, services: Services) -> None:
        self.svc = services
        self.ws = services.workspace
        self.store = services.store

    # -- buttons --------------------------------------------------------------------------

    async def open(self, client: AsyncWebClient, action: str, slack_user: str, vid: str,
                   trigger_id: str, from_modal: bool = False) -> str | None:
        """A card button: open its modal, or say why not. A button inside a modal (the
        contact card's "Send a template") stacks its modal on top."""
        try:
            view = await self._view(action, actions.principal_of_slack(self.svc.ctx, slack_user),
                                    vid)
        except ActionError as exc:
            return render.refused(exc)
        if view is not None and from_modal:
            await client.views_push(trigger_id=trigger_id, view=view)
        elif view is not None:
            await client.views_open(trigger_id=trigger_id, view=view)
        return None

    async def _view(self, action: str, me: Principal, vid: str) -> dict[str, Any] | None:
        ctx = self.svc.ctx
        conv = await actions.conversation(ctx, vid)
        campaign = campaign_of(ctx, conv)
        assignee = conv.get("assignee", "")
        agent = self.ws.agent(me.agent)
        if action == "rd_assign":
            if may_reassign(me, self.ws) is None:
                choices = [a for a in self.ws.agents if serves(a, campaign.id)
                           and a.id != assignee]
            elif (agent and conv["status"] in actions.conversations.UNOWNED
                  and serves(agent, campaign.id)):
                choices = [agent]  # an agent may take an unowned conversation
            else:
                raise Refused(may_reassign(me, self.ws) or "")
            return modals.assign_modal(vid, [(a.id, a.label) for a in choices])
        if action == "rd_transfer":
            allow(may_handle(me, self.ws, assignee, "transferring"))
            peers = [a.id for a in self.ws.agents if serves(a, campaign.id) and a.id != assignee]
            online = await self.available(peers)
            others = [c for c in self.ws.campaigns
                      if c.address == campaign.address and c.id != campaign.id]
            return modals.transfer_modal(vid, [(a, self.ws.name_of(a)) for a in peers
                                               if a in online],
                                         [(c.id, c.label) for c in others])
        if action == "rd_escalate":
            allow(may_handle(me, self.ws, assignee, "escalating"))
            return modals.escalate_modal(vid)
        if action == "rd_close":
            allow(may_close(me, self.ws, assignee))
            return modals.close_modal(vid, [(t.name, t.subtypes) for t in campaign.typifications])
        if action == "rd_contact":
            allow(may_view(me, self.ws, campaign.id))
            grants = await runtime_grants(ctx, me)
            editable = may_edit_contact(me, self.ws, campaign.id, grants)
            view = await self.contact_view(vid, conv, editable is None, bool(
                campaign.templates and (assignee == me.agent or may_send_active(
                    me, self.ws, campaign.id, grants) is None)))
            return view
        if action == "rd_template":
            if assignee != me.agent:
                allow(may_send_active(me, self.ws, campaign.id, await runtime_grants(ctx, me)))
            return await self.template_view(vid)
        if action == "rd_history":
            allow(may_view(me, self.ws, campaign.id))
            return modals.history_modal(vid, await self.history(conv, me))
        return None

    async def available(self, agent_ids: list[str]) -> set[str]:
        """Agents who could take a conversation now (online, under capacity)."""
        states = [await self.store.agent_hash(a) for a in agent_ids]
        return {a for a, s in zip(agent_ids, states, strict=True)
                if s.get("presence") == "online"
                and int(s.get("load", 0)) < int(s.get("capacity", 0))}

    async def contact_view(self, vid: str, conv: dict[str, str], editable: bool,
                           send_template: bool = False) -> dict[str, Any]:
        cid = conv["contact"]
        contact = await self.store.contact_hash(cid)
        owner = render.owner_label(contact.get("owner_type", ""), contact.get("owner_id", ""),
                                   self.ws.name_of)
        exclusive = {k.split(":", 1)[1]: self.ws.name_of(v) for k, v in contact.items()
                     if k.startswith("exclusive:")}
        notes = [(self.ws.name_of(f["actor"]), f["note"])
                 for _, f in await self.store.contact_notes(cid)]
        return modals.contact_modal(vid, contact, owner, exclusive, notes, editable,
                                    send_template)

    async def template_view(self, vid: str, chosen: str = "") -> dict[str, Any]:
        """The campaign's templates; the chosen one (or the only one) with its variables,
        pre-filled from the contact where the template says so."""
        if vid.startswith("{"):  # from the history: a campaign and a contact, no conversation
            meta = json.loads(vid)
            campaign = active.campaign_named(self.svc.ctx, meta["campaign"])
            contact = await self.store.contact_hash(meta["contact"])
        else:
            campaign, contact = await active.templates_for(self.svc.ctx, vid)
        if not campaign.templates:
            return modals.message_modal("Send a template", render.NO_TEMPLATES.format(
                campaign=campaign.label))
        choices = [(t.name, t.name + (f" ({t.kind.replace('_', ' ')})" if t.kind != "text"
                                      else "")) for t in campaign.templates]
        template = campaign.template(chosen or (choices[0][0] if len(choices) == 1 else ""))
        if template is None:
            return modals.template_modal(vid, choices)
        values = active.prefilled(template, contact)
        return modals.template_modal(
            vid, choices, template.name,
            [(v.name, v.example, values.get(str(i), "")) for i, v in
             enumerate(template.variables, 1)], template.render(
                {str(i): values.get(str(i)) or f"[{v.name}]"
                 for i, v in enumerate(template.variables, 1)}))

    async def template_chosen(self, client: AsyncWebClient, view: dict[str, Any]) -> None:
        """Choosing a template shows its variables."""
        chosen = modals.values(view).get("template", "")
        await client.views_update(view_id=view["id"], hash=view.get("hash"),
                                  view=await self.template_view(view["private_metadata"], chosen))

    async def history(self, conv: dict[str, str], me: Principal) -> list[dict[str, str]]:
        """A10: the contact's last N conversations, in campaigns the agent may see (H8)."""
        campaign = campaign_of(self.svc.ctx, conv)
        limit = campaign.options.history_conversations
        rows = []
        for other_id in await self.store.contact_conversations(conv["contact"],
                                                               newest=4 * limit + 1):
            other = await self.store.conversation_hash(other_id)
            if other and may_view(me, self.ws, other["campaign"]) is None:
                rows.append({"id": other["id"], "campaign": other["campaign"],
                             "status": other["status"],
                             "assignee": self.ws.name_of(other.get("assignee", "")),
                             "typification": " › ".join(x for x in (
                                 other.get("typification", ""),
                                 other.get("subtypification", "")) if x)})
        return rows[:limit]

    async def agent_chosen(self, client: AsyncWebClient, view: dict[str, Any]) -> None:
        """S5: choosing the new assignee pre-fills the note with their name."""
        chosen = modals.values(view).get("agent", "")
        options = view["blocks"][0]["element"].get("options", [])
        agents = [(o["value"], o["text"]["text"]) for o in options]
        await client.views_update(
            view_id=view["id"], hash=view.get("hash"),
            view=modals.assign_modal(view["private_metadata"], agents, chosen,
                                     modals.assign_note(self.ws.name_of(chosen))))

    # -- submissions ----------------------------------------------------------------------

    async def submit(self, client: AsyncWebClient, callback: str, slack_user: str,
                     view: dict[str, Any]) -> Ack:
        """A modal submission: None closes it; otherwise what to answer Slack with."""
        try:
            me = actions.principal_of_slack(self.svc.ctx, slack_user)
            return await self._submit(callback, me, view)
        except Refused as exc:
            return {"response_action": "update",
                    "view": modals.message_modal("Not done", render.refused(exc))}
        except ActionError as exc:
            if callback == "rd_contact_confirm":
                return {"response_action": "update",
                        "view": modals.message_modal("Not saved", render.field_error(exc))}
            return errors(**{exc.field or FIELD.get(callback, "note"): render.field_error(exc)})

    async def _submit(self, callback: str, me: Principal, view: dict[str, Any]) -> Ack:
        ctx, svc = self.svc.ctx, self.svc
        if callback == "rd_contact_confirm":
            meta = json.loads(view["private_metadata"])
            svc.done(await actions.edit_contact(ctx, me, meta["vid"], meta["cid"],
                                                meta["changes"]))
            return {"response_action": "clear"}
        vid = view["private_metadata"]
        form = modals.values(view)
        note = form.get("note", "").strip()
        if callback == "rd_assign":
            svc.done(await actions.assign(ctx, me, vid, form.get("agent", ""), note))
        elif callback == "rd_transfer":
            kind, _, target = form.get("target", "").partition(":")
            if not target:
                return errors(target="Choose an agent or a campaign.")
            move = actions.transfer_to_agent if kind == "agent" else actions.transfer_to_campaign
            svc.done(await move(ctx, me, vid, target, note))
        elif callback == "rd_escalate":
            svc.done(await actions.escalate(ctx, me, vid, form.get("type", ""), note))
        elif callback == "rd_close":
            typ, _, sub = form.get("typification", "").partition("|")
            svc.done(await actions.close(ctx, me, vid, typ, sub, note))
        elif callback == "rd_template":
            if vid.startswith("{"):  # H11: from the history
                meta = json.loads(vid)
                campaign_id, contact, in_conversation = meta["campaign"], meta["contact"], ""
            else:
                conv = await actions.conversation(ctx, vid)
                campaign_id, contact, in_conversation = conv["campaign"], conv["contact"], vid
            name = form.get("template", "")
            if not name:
                return errors(template="Choose a template.")
            tpl = active.template_named(active.campaign_named(ctx, campaign_id), name)
            given = [form.get(f"var_{i}", "").strip()
                     for i in range(1, len(tpl.variables) + 1)]
            svc.done(await active.send_active(ctx, me, campaign_id, contact, name, given,
                                              idem=view.get("id", ""),
                                              in_conversation=in_conversation))
        elif callback == "rd_contact":
            cid, changes = await actions.review_contact_edit(ctx, me, vid, form)
            return {"response_action": "push",
                    "view": modals.confirm_modal(vid, cid, changes)}
        return None


    # -- the attendance history (App Home) -----------------------------------------------

    async def home(self, client: AsyncWebClient, slack_user: str, state: str = "") -> None:
        """Publish the agent's Home tab: their history (H3-H5), or why it is not available."""
        wanted = _state(state)
        try:
            me = actions.principal_of_slack(self.svc.ctx, slack_user)
            data = await actions.history_contacts(self.svc.ctx, me, wanted["q"], wanted["sort"],
                                                  wanted["page"])
            view = home.history_home(data, wanted["q"], wanted["sort"])
        except ActionError as exc:
            view = home.history_home(None, refusal=render.field_error(exc))
        await client.views_publish(user_id=slack_user, view=view)

    async def history_view(self, client: AsyncWebClient, action: str, slack_user: str,
                           value: str, trigger_id: str) -> None:
        """The search modal, a contact of the history (H7, H10), a ticket's details (H9)."""
        if action == "rd_hist_search":
            await client.views_open(trigger_id=trigger_id, view=home.search_modal(value))
            return
        try:
            me = actions.principal_of_slack(self.svc.ctx, slack_user)
            if action == "rd_hist_contact":
                data = await actions.history_contact(self.svc.ctx, me, value)
                grants = await runtime_grants(self.svc.ctx, me)
                send_in = [(c.id, c.label) for c in self.ws.campaigns if c.templates
                           and may_send_active(me, self.ws, c.id, grants) is None]
                await client.views_open(trigger_id=trigger_id, view=home.contact_modal(
                    data, self.ws.name_of, send_in))
            elif action == "rd_hist_template":  # H11: an active message from the history
                campaign_id, _, cid = value.partition("|")
                allow(may_send_active(me, self.ws, campaign_id,
                                      await runtime_grants(self.svc.ctx, me)))
                await client.views_push(trigger_id=trigger_id, view=await self.template_view(
                    json.dumps({"campaign": campaign_id, "contact": cid})))
            else:
                data = await actions.history_ticket(self.svc.ctx, me, value)
                await client.views_push(trigger_id=trigger_id,
                                        view=home.ticket_modal(data, self.ws.name_of))
        except ActionError as exc:
            await client.views_open(trigger_id=trigger_id, view=modals.message_modal(
                "Not available", render.field_error(exc)))


def _state(raw: str) -> dict[str, Any]:
    """A history view's state carried by a button: page, search and sort."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    page = data.get("page") if isinstance(data, dict) else None
    return {"page": page if isinstance(page, int) and page > 0 else 1,
            "q": str(data.get("q") or "")[:100] if isinstance(data, dict) else "",
            "sort": "name" if isinstance(data, dict) and data.get("sort") == "name"
            else "recent"}


def errors(**by_block: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": by_block}
