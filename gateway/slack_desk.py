"""The agent desk in Slack: what the card's buttons and modals do.

Every button checks permissions on the server (a refusal is an ephemeral message saying what is
missing); every submission is validated (errors show inside the modal), changes state through
one Lua script, records itself in the conversation's thread, and refreshes the card.
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack import modals
from channels.slack.escape import escape
from gateway.api.common import decode
from gateway.services import Services
from routing.config import Agent, Campaign, e164, serves
from routing.permissions import (
    Principal,
    may_close,
    may_edit_contact,
    may_handle,
    may_reassign,
    may_view,
)

log = structlog.get_logger("desk")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Ack = dict[str, Any] | None


class Refused(Exception):
    """The person may not do this; the message says why."""


class Desk:
    def __init__(self, services: Services) -> None:
        self.svc = services
        self.ws = services.workspace
        self.store = services.store

    # -- helpers --------------------------------------------------------------------------

    def agent_of(self, slack_user: str) -> Agent:
        agent = next((a for a in self.ws.agents if a.slack_user == slack_user), None)
        if agent is None:
            raise Refused("You are not a Relay Desk agent.")
        return agent

    def principal(self, agent: Agent) -> Principal:
        return Principal("agent", agent.name or agent.id, agent=agent.id)

    async def conversation(self, vid: str) -> dict[str, str]:
        conv = decode(await self.store.conversation_hash(vid))
        if not conv:
            raise Refused(f"Conversation {vid} does not exist.")
        return conv

    def campaign(self, conv: dict[str, str]) -> Campaign:
        campaign = self.ws.campaign(conv["campaign"])
        if campaign is None:
            raise Refused(f"Campaign {conv['campaign']} is no longer configured.")
        return campaign

    async def grants(self, agent: Agent | None) -> dict[str, str]:
        """Grants set through the API (they replace the config's for their campaign)."""
        return decode(await self.store.grants(agent.id)) if agent else {}

    def name(self, agent_id: str) -> str:
        agent = self.ws.agent(agent_id)
        return (agent.name or agent.id) if agent else agent_id

    @staticmethod
    def allow(refusal: str | None) -> None:
        if refusal:
            raise Refused(f"Not allowed: {refusal}.")

    async def online(self, agent_ids: list[str]) -> set[str]:
        states = [decode(await self.store.agent_hash(a)) for a in agent_ids]
        return {a for a, s in zip(agent_ids, states, strict=True)
                if s.get("presence") == "online" and int(s.get("load", 0)) < int(
                    s.get("capacity", 0))}

    async def thread_note(self, client: AsyncWebClient, conv: dict[str, str], text: str) -> None:
        if conv.get("slack_ts"):
            await client.chat_postMessage(channel=conv["slack_channel"],
                                          thread_ts=conv["slack_ts"], text=text)

    def refresh(self, vid: str, assigned: list | None = None) -> None:
        ids = [v.decode() if isinstance(v, bytes) else v for v in assigned or []]
        self.svc.dispatch(f"card:{vid}", *(f"{k}:{v}" for v in ids for k in ("card", "alert")))

    # -- buttons --------------------------------------------------------------------------

    async def open(self, client: AsyncWebClient, action: str, slack_user: str, vid: str,
                   trigger_id: str) -> str | None:
        """A card button: open its modal, or say why not."""
        try:
            await self._open(client, action, slack_user, vid, trigger_id)
        except Refused as exc:
            return str(exc)
        return None

    async def _open(self, client: AsyncWebClient, action: str, slack_user: str, vid: str,
                    trigger_id: str) -> None:
        agent = self.agent_of(slack_user)
        me = self.principal(agent)
        conv = await self.conversation(vid)
        campaign = self.campaign(conv)
        assignee = conv.get("assignee", "")
        if action == "rd_assign":
            unowned = conv["status"] in ("queued", "unassigned", "waiting")
            if may_reassign(me, self.ws) is None:
                choices = [a for a in self.ws.agents if serves(a, campaign.id)
                           and a.id != assignee]
            elif unowned and serves(agent, campaign.id):
                choices = [agent]  # an agent may take an unassigned conversation
            else:
                self.allow(may_reassign(me, self.ws))
            view = modals.assign_modal(vid, [(a.id, a.name or a.id) for a in choices])
        elif action == "rd_transfer":
            self.allow(may_handle(me, self.ws, assignee, "transferring"))
            peers = [a.id for a in self.ws.agents if serves(a, campaign.id) and a.id != assignee]
            online = await self.online(peers)
            others = [c for c in self.ws.campaigns
                      if c.address == campaign.address and c.id != campaign.id]
            view = modals.transfer_modal(
                vid, [(a, self.name(a)) for a in peers if a in online],
                [(c.id, c.name or c.id) for c in others])
        elif action == "rd_escalate":
            self.allow(may_handle(me, self.ws, assignee, "escalating"))
            view = modals.escalate_modal(vid)
        elif action == "rd_close":
            self.allow(may_close(me, self.ws, assignee))
            view = modals.close_modal(vid, [(t.name, t.subtypes) for t in campaign.typifications])
        elif action == "rd_contact":
            self.allow(may_view(me, self.ws, campaign.id))
            editable = may_edit_contact(me, self.ws, campaign.id, await self.grants(agent))
            view = await self.contact_view(vid, conv, editable is None)
        elif action == "rd_history":
            self.allow(may_view(me, self.ws, campaign.id))
            view = modals.history_modal(vid, await self.history(conv, me))
        else:
            return
        await client.views_open(trigger_id=trigger_id, view=view)

    async def contact_view(self, vid: str, conv: dict[str, str], editable: bool
                           ) -> dict[str, Any]:
        cid = conv["contact"]
        contact = decode(await self.store.contact_hash(cid))
        owner_type, owner_id = contact.get("owner_type", ""), contact.get("owner_id", "")
        owner = {"agent": f"agent {self.name(owner_id)}",
                 "department": f"department {owner_id}"}.get(owner_type, "unassigned")
        exclusive = {k.split(":", 1)[1]: self.name(v) for k, v in contact.items()
                     if k.startswith("exclusive:")}
        notes = [(self.name(f[b"actor"].decode()), f[b"note"].decode())
                 for _, f in await self.store.redis.xrange(self.store.keys.contact_notes(cid))]
        return modals.contact_modal(vid, contact, owner, exclusive, notes, editable)

    async def history(self, conv: dict[str, str], me: Principal) -> list[dict[str, str]]:
        """A10: the contact's last N conversations, in campaigns the agent may see (H8)."""
        campaign = self.campaign(conv)
        ids = await self.store.redis.zrevrange(self.store.keys.contact_convs(conv["contact"]),
                                               0, 4 * campaign.options.history_conversations)
        rows = []
        for raw in ids:
            other = decode(await self.store.conversation_hash(raw.decode()))
            if other and may_view(me, self.ws, other["campaign"]) is None:
                rows.append({"id": other["id"], "campaign": other["campaign"],
                             "status": other["status"],
                             "assignee": self.name(other.get("assignee", "")),
                             "typification": " › ".join(x for x in (
                                 other.get("typification", ""),
                                 other.get("subtypification", "")) if x)})
        return rows[:campaign.options.history_conversations]

    async def agent_chosen(self, client: AsyncWebClient, view: dict[str, Any]) -> None:
        """S5: choosing the new assignee pre-fills the note with their name."""
        chosen = modals.values(view).get("agent", "")
        options = view["blocks"][0]["element"].get("options", [])
        agents = [(o["value"], o["text"]["text"]) for o in options]
        await client.views_update(
            view_id=view["id"], hash=view.get("hash"),
            view=modals.assign_modal(view["private_metadata"], agents, chosen,
                                     modals.assign_note(self.name(chosen))))

    # -- submissions ----------------------------------------------------------------------

    async def submit(self, client: AsyncWebClient, callback: str, slack_user: str,
                     view: dict[str, Any]) -> Ack:
        """A modal submission: None closes it; otherwise what to answer Slack with."""
        try:
            return await self._submit(client, callback, slack_user, view)
        except Refused as exc:
            return {"response_action": "update", "view": modals.message_modal("Not done",
                                                                              str(exc))}

    async def _submit(self, client: AsyncWebClient, callback: str, slack_user: str,
                      view: dict[str, Any]) -> Ack:
        agent = self.agent_of(slack_user)
        me = self.principal(agent)
        if callback == "rd_contact_confirm":
            return await self.save_contact(client, me, view)
        vid = view["private_metadata"]
        conv = await self.conversation(vid)
        form = modals.values(view)
        note = form.get("note", "").strip()
        handler = {"rd_assign": self.do_assign, "rd_transfer": self.do_transfer,
                   "rd_escalate": self.do_escalate, "rd_close": self.do_close,
                   "rd_contact": self.review_contact}.get(callback)
        return await handler(client, me, agent, conv, form, note) if handler else None

    async def do_assign(self, client: AsyncWebClient, me: Principal, agent: Agent,
                        conv: dict[str, str], form: dict[str, str], note: str) -> Ack:
        target = form.get("agent", "")
        if not target:
            return errors(agent="Choose who gets the conversation.")
        if target != agent.id or conv["status"] not in ("queued", "unassigned", "waiting"):
            self.allow(may_reassign(me, self.ws))
        outcome, detail, assigned = await self.store.move(conv["id"], agent.id, "reassign",
                                                          target, note)
        if outcome != b"moved":
            return errors(agent=_move_error(outcome, detail))
        old = conv.get("assignee", "")
        await self.thread_note(client, conv, (
            f":arrows_counterclockwise: {escape(self.name(agent.id))} assigned this conversation "
            f"to {escape(self.name(target))}" + (f" (was {escape(self.name(old))})" if old else "")
            + (f": {escape(note)}" if note else ".")))
        self.refresh(conv["id"], [conv["id"], *assigned])
        return None

    async def do_transfer(self, client: AsyncWebClient, me: Principal, agent: Agent,
                          conv: dict[str, str], form: dict[str, str], note: str) -> Ack:
        self.allow(may_handle(me, self.ws, conv.get("assignee", ""), "transferring"))
        kind, _, target = form.get("target", "").partition(":")
        if not target:
            return errors(target="Choose an agent or a campaign.")
        if not note:
            return errors(note="A transfer needs a note for whoever receives it.")
        campaign = self.campaign(conv)
        if kind == "agent":
            peer = self.ws.agent(target)
            if peer is None or not serves(peer, campaign.id):
                return errors(target=f"{target} does not serve {campaign.id} (A12: same "
                                     "campaign, same channel).")
            outcome, detail, assigned = await self.store.move(
                conv["id"], agent.id, "transfer_agent", target, note)
            where = self.name(target)
        else:
            other = self.ws.campaign(target)
            if other is None or other.address != campaign.address:
                return errors(target=f"{target} is not on this conversation's number (A13).")
            outcome, detail, assigned = await self.store.move(
                conv["id"], agent.id, "transfer_campaign", target, note,
                other.default_department or "")
            where = f"campaign {other.name or other.id}"
            self.svc.dispatch(f"slack:{conv['id']}")  # a new thread in the new campaign
        if outcome != b"moved":
            return errors(target=_move_error(outcome, detail))
        await self.thread_note(client, conv, f":arrow_right: {escape(self.name(agent.id))} "
                                             f"transferred this conversation to {escape(where)}:"
                                             f" {escape(note)}")
        self.refresh(conv["id"], [conv["id"], *assigned])
        return None

    async def do_escalate(self, client: AsyncWebClient, me: Principal, agent: Agent,
                          conv: dict[str, str], form: dict[str, str], note: str) -> Ack:
        self.allow(may_handle(me, self.ws, conv.get("assignee", ""), "escalating"))
        kind = form.get("type", "")
        if kind not in dict(modals.ESCALATIONS):
            return errors(type="Choose the type of escalation.")
        if await self.store.escalate(conv["id"], agent.id, kind, note) != b"escalated":
            return errors(type="This conversation is closed.")
        await self.thread_note(client, conv, f":rotating_light: {escape(self.name(agent.id))} "
                                             f"escalated this conversation "
                                             f"({dict(modals.ESCALATIONS)[kind]})"
                                             + (f": {escape(note)}" if note else "."))
        self.svc.dispatch(f"card:{conv['id']}", f"escalation:{conv['id']}")
        return None

    async def do_close(self, client: AsyncWebClient, me: Principal, agent: Agent,
                       conv: dict[str, str], form: dict[str, str], note: str) -> Ack:
        self.allow(may_close(me, self.ws, conv.get("assignee", "")))
        campaign = self.campaign(conv)
        typ, _, sub = form.get("typification", "").partition("|")
        if campaign.typifications and typ not in {t.name for t in campaign.typifications}:
            return errors(typification="Choose how the conversation ended.")
        outcome, assigned = await self.store.close(conv["id"], agent.id, typ, sub, note)
        if outcome != b"closed":
            return errors(typification="This conversation is already closed.")
        label = " › ".join(x for x in (typ, sub) if x) or "no typification"
        await self.thread_note(client, conv, f":white_check_mark: {escape(self.name(agent.id))} "
                                             f"closed this conversation: {escape(label)}"
                                             + (f". {escape(note)}" if note else "."))
        self.refresh(conv["id"], assigned)
        return None

    async def review_contact(self, client: AsyncWebClient, me: Principal, agent: Agent,
                             conv: dict[str, str], form: dict[str, str], note: str) -> Ack:
        self.allow(may_edit_contact(me, self.ws, conv["campaign"], await self.grants(agent)))
        contact = decode(await self.store.contact_hash(conv["contact"]))
        new = {k: form.get(k, "").strip() for k in ("name", "phone", "email", "document")}
        try:
            new["phone"] = e164(new["phone"])
        except ValueError as exc:
            return errors(phone=str(exc))
        if new["email"] and not EMAIL.match(new["email"]):
            return errors(email="That is not an email address.")
        changes = {k: (contact.get(k, ""), v) for k, v in new.items() if contact.get(k, "") != v}
        if not changes:
            return errors(name="Nothing changed.")
        return {"response_action": "push",
                "view": modals.confirm_modal(conv["id"], conv["contact"], changes)}

    async def save_contact(self, client: AsyncWebClient, me: Principal,
                           view: dict[str, Any]) -> Ack:
        meta = json.loads(view["private_metadata"])
        conv = await self.conversation(meta["vid"])
        self.allow(may_edit_contact(me, self.ws, conv["campaign"],
                                    await self.grants(self.ws.agent(me.agent))))
        result = [x.decode() for x in await self.store.edit_contact(meta["cid"], me.actor,
                                                                      meta["changes"])]
        if result[0] == "phone_taken":
            return {"response_action": "update", "view": modals.message_modal(
                "Not saved", f"That phone belongs to another contact ({result[1]}).")}
        fields = ", ".join(result[1:]) or "nothing"
        await self.thread_note(client, conv, f":pencil2: {escape(self.name(me.agent))} edited "
                                             f"the contact ({fields}).")
        self.svc.dispatch(f"card:{conv['id']}")
        return {"response_action": "clear"}


def errors(**by_block: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": by_block}


def _move_error(outcome: bytes, detail: bytes) -> str:
    reason = detail.decode()
    return {b"target_unavailable": f"Not possible now: {reason}.",
            b"same_agent": f"It is already assigned to {reason}.",
            b"closed": "This conversation is closed."}.get(outcome, "Not possible.")
