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

from channels.slack import app_home, home, modals, render
from gateway.services import Services
from routing import actions
from routing.actions import active
from routing.actions.context import allow, campaign_of, runtime_grants
from routing.config import serves
from routing.errors import ActionError, Invalid, Refused
from routing.permissions import (
    Principal,
    may_assign_owners,
    may_close,
    may_edit_contact,
    may_handle,
    may_reassign,
    may_send_active,
    may_view,
    may_view_history,
    owner_campaigns,
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
            runtime = await runtime_grants(ctx, me)
            if may_assign_owners(me, self.ws, {campaign.id}, runtime) is not None:
                allow(may_view(me, self.ws, campaign.id))
            editable = may_edit_contact(me, self.ws, campaign.id, runtime)
            return await self.contact_view(vid, conv, editable is None, me, runtime, bool(
                campaign.templates and (assignee == me.agent or may_send_active(
                    me, self.ws, campaign.id, runtime) is None)))
        if action == "rd_template":
            if assignee != me.agent:
                allow(may_send_active(me, self.ws, campaign.id, await runtime_grants(ctx, me)))
            return await self.template_view(vid)
        if action == "rd_history":
            allow(may_view_history(me, self.ws, campaign.id, await runtime_grants(ctx, me)))
            return modals.history_modal(vid, await self.history(conv, me))
        return None

    async def available(self, agent_ids: list[str]) -> set[str]:
        """Agents who could take a conversation now (online, under capacity)."""
        states = await self.store.hashes([self.store.keys.agent(a) for a in agent_ids],
                                         ["presence", "load", "capacity"])
        return {a for a, s in zip(agent_ids, states, strict=True)
                if s.get("presence") == "online"
                and int(s.get("load", 0)) < int(s.get("capacity", 0))}

    async def contact_view(self, vid: str, conv: dict[str, str], editable: bool,
                           me: Principal, runtime: dict[str, str],
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
                                    self.ownership(me, conv["campaign"], contact, runtime),
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


    def ownership(self, me: Principal, campaign_id: str, contact: dict[str, str],
                  runtime: dict[str, str]) -> modals.Ownership | None:
        """The owners and exclusive agents an owner assigner may choose from (O2, A14), or
        None for anyone else (they see them read-only)."""
        ws = self.ws
        if may_assign_owners(me, ws, {campaign_id}, runtime) is not None:
            return None

        def may(otype: str, oid: str) -> bool:
            return may_assign_owners(me, ws, owner_campaigns(ws, otype, oid), runtime) is None

        owners = [("unassigned", "Unassigned")]
        owners += [(f"agent:{a.id}", a.label) for a in ws.agents if may("agent", a.id)]
        owners += [(f"department:{c.id}/{d.id}", f"{c.label} › {d.name or d.id}")
                   for c in ws.campaigns for d in c.departments
                   if may("department", f"{c.id}/{d.id}")]
        current = actions.owner_value(contact)
        if current not in dict(owners):
            otype, _, oid = current.partition(":")
            owners.append((current, render.owner_label(otype, oid, ws.name_of)))
        campaign = ws.campaign(campaign_id)
        return modals.Ownership(
            campaign.label if campaign else campaign_id, owners, current,
            [("none", "None"), *((a.id, a.label) for a in ws.agents if serves(a, campaign_id))],
            contact.get(f"exclusive:{campaign_id}") or "none")

    async def history(self, conv: dict[str, str], me: Principal) -> list[dict[str, str]]:
        """A10: the contact's last N conversations, in campaigns where the agent has the
        history permission (H8)."""
        campaign = campaign_of(self.svc.ctx, conv)
        runtime = await runtime_grants(self.svc.ctx, me)
        limit = campaign.options.history_conversations
        rows = []
        for other_id in await self.store.contact_conversations(conv["contact"],
                                                               newest=4 * limit + 1):
            other = await self.store.conversation_hash(other_id)
            if other and may_view_history(me, self.ws, other["campaign"], runtime) is None:
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
            field = exc.field or FIELD.get(callback, "note")
            if callback == "rd_contact" and field not in modals.values(view):
                field = "owner"  # the contact's data is read-only here: only the selects
            return errors(**{field: render.field_error(exc)})

    async def _submit(self, callback: str, me: Principal, view: dict[str, Any]) -> Ack:
        ctx, svc = self.svc.ctx, self.svc
        if callback == "rd_contact_confirm":
            meta = json.loads(view["private_metadata"])
            if meta["changes"]:
                svc.done(await actions.edit_contact(ctx, me, meta["vid"], meta["cid"],
                                                    meta["changes"]))
            if "owner" in meta:
                otype, _, oid = meta["owner"].partition(":")
                svc.done(await actions.set_owner(ctx, me, [meta["cid"]], otype, oid))
            if "exclusive" in meta:
                conv = await actions.conversation(ctx, meta["vid"])
                svc.done(await actions.set_exclusive(ctx, me, meta["cid"], conv["campaign"],
                                                     meta["exclusive"]))
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
            return await self._review_contact(me, vid, form)
        return None

    async def _review_contact(self, me: Principal, vid: str, form: dict[str, str]) -> Ack:
        """The Contact modal's changes (data, owner, exclusive agent), checked by the use
        cases, shown for confirmation (E4); nothing is written yet."""
        ctx = self.svc.ctx
        conv = await actions.conversation(ctx, vid)
        cid, data = conv["contact"], {}
        if "phone" in form:  # the data inputs were shown: the viewer may edit
            cid, data = await actions.review_contact_edit(ctx, me, vid, form,
                                                          unchanged_ok="owner" in form)
        exclusive = form.get("exclusive")
        ownership = await actions.review_ownership(
            ctx, me, vid, form.get("owner"),
            None if exclusive is None else ("" if exclusive == "none" else exclusive))
        if not data and not ownership:
            raise Invalid("nothing changed", "name" if "phone" in form else "owner")
        contact = await self.store.contact_hash(cid)
        campaign = campaign_of(ctx, conv)
        lines = []
        if "owner" in ownership:
            old, new = actions.owner_value(contact), ownership["owner"]
            lines.append(render.change_line(
                "owner", render.owner_label(*_split(old), self.ws.name_of),
                render.owner_label(*_split(new), self.ws.name_of)))
        if "exclusive" in ownership:
            lines.append(render.change_line(
                f"exclusive agent in {campaign.label}",
                self.ws.name_of(contact.get(f"exclusive:{campaign.id}", "")),
                self.ws.name_of(ownership["exclusive"])))
        stays = render.stays(render.where_now(conv.get("status", ""), self.ws.name_of(
            conv.get("assignee") or conv.get("waiting_for") or ""))) if ownership else ""
        return {"response_action": "push",
                "view": modals.confirm_modal(vid, cid, data, ownership, lines, stays)}

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
        view = home.with_board(await app_home.board_blocks(self.svc.ctx, slack_user), view)
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


def _split(value: str) -> tuple[str, str]:
    """``agent:ana`` -> ('agent', 'ana'); ``unassigned`` -> ('', '')."""
    otype, _, oid = value.partition(":")
    return ("", "") if otype == "unassigned" else (otype, oid)


def errors(**by_block: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": by_block}
