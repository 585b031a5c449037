"""Block Kit for the agent desk: the card's action buttons and the modals they open.

Pure functions; every modal carries the conversation id in ``private_metadata`` and is submitted
under a ``callback_id`` named after its action.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from channels.slack.escape import escape
from routing.types import ESCALATIONS

ACTIONS = (("rd_assign", "Assign"), ("rd_transfer", "Transfer"), ("rd_escalate", "Escalate"),
           ("rd_close", "Close"), ("rd_contact", "Contact"), ("rd_history", "History"))


def action_buttons(vid: str) -> dict[str, Any]:
    return {"type": "actions", "block_id": "rd_actions", "elements": [
        {"type": "button", "action_id": action, "value": vid,
         "text": {"type": "plain_text", "text": label}}
        | ({"style": "danger"} if action == "rd_close" else {})
        for action, label in ACTIONS]}


def _text(value: str) -> dict[str, str]:
    return {"type": "plain_text", "text": value[:75]}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value}


def _select(block_id: str, label: str, options: list[tuple[str, str]], initial: str = "",
            dispatch: bool = False, groups: list[tuple[str, list[tuple[str, str]]]] | None = None
            ) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": block_id,
                               "placeholder": _text("Choose…")}
    if groups:
        element["option_groups"] = [{"label": _text(name), "options": [_option(*o) for o in opts]}
                                    for name, opts in groups if opts]
    else:
        element["options"] = [_option(*o) for o in options]
    chosen = [o for o in (options or [o for _, opts in groups or [] for o in opts])
              if o[0] == initial]
    if chosen:
        element["initial_option"] = _option(*chosen[0])
    return {"type": "input", "block_id": block_id, "label": _text(label), "element": element,
            "dispatch_action": dispatch}


def _note(label: str = "Note", initial: str = "", optional: bool = True) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "note",
                               "multiline": True, "max_length": 2000}
    if initial:
        element["initial_value"] = initial
    return {"type": "input", "block_id": "note", "label": _text(label), "element": element,
            "optional": optional}


def _modal(callback: str, vid: str, title: str, blocks: list[dict], submit: str | None
           ) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "callback_id": callback, "private_metadata": vid,
                            "title": _text(title), "close": _text("Cancel"), "blocks": blocks}
    if submit:
        view["submit"] = _text(submit)
    return view


def assign_modal(vid: str, agents: list[tuple[str, str]], chosen: str = "",
                 note: str = "") -> dict[str, Any]:
    """Choosing an agent pre-fills the note with their name (S5): the select dispatches an
    action and the modal is updated."""
    return _modal("rd_assign", vid, "Assign conversation", [
        _select("agent", "Assign to", agents, chosen, dispatch=True),
        _note(initial=note),
    ], "Assign")


def assign_note(agent_name: str) -> str:
    return f"Reassigned to {agent_name}"


def transfer_modal(vid: str, agents: list[tuple[str, str]],
                   campaigns: list[tuple[str, str]]) -> dict[str, Any]:
    groups = [("Agents (online, this campaign)", [(f"agent:{a}", n) for a, n in agents]),
              ("Campaigns (same number)", [(f"campaign:{c}", n) for c, n in campaigns])]
    return _modal("rd_transfer", vid, "Transfer", [
        _select("target", "Transfer to", [], groups=groups),
        _note("Note (required)", optional=False),
    ], "Transfer")


def escalate_modal(vid: str) -> dict[str, Any]:
    return _modal("rd_escalate", vid, "Escalate", [
        _select("type", "Type", list(ESCALATIONS.items())), _note()], "Escalate")


def close_modal(vid: str, typifications: list[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    """Typification and sub-typification in one choice (``Resolved › First contact``)."""
    options = []
    for name, subs in typifications:
        if subs:
            options += [(f"{name}|{sub}", f"{name} › {sub}") for sub in subs]
        else:
            options.append((f"{name}|", name))
    blocks = [_select("typification", "Typification", options)] if options else []
    return _modal("rd_close", vid, "Close conversation", [*blocks, _note()], "Close")


def contact_modal(vid: str, contact: dict[str, str], owner: str, exclusive: dict[str, str],
                  notes: list[tuple[str, str]], editable: bool,
                  ownership: Ownership | None = None) -> dict[str, Any]:
    """The contact's data (inputs when ``editable``), owner and exclusive agents (selects
    when ``ownership`` says what the viewer may choose), and every agent's notes."""
    facts = [f"*Owner:* {escape(owner)}",
             "*Exclusive agents:* " + (", ".join(f"{escape(a)} ({c})" for c, a in
                                                  exclusive.items()) or "none")]
    notes_text = "\n".join(f"• *{escape(who)}:* {escape(text)}" for who, text in notes[-10:])
    info = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": "*Agents' notes*\n" + (notes_text or "none")}}]
    selects = []
    if ownership is not None:
        selects = [_select("owner", "Owner", ownership.owners[:100], ownership.owner),
                   _select("exclusive", f"Exclusive agent in {ownership.campaign}",
                           ownership.agents[:100], ownership.exclusive)]
    fields = [("name", "Name"), ("phone", "Phone"), ("email", "Email"),
              ("document", "Document")]
    if not editable:
        lines = "\n".join(f"*{label}:* {escape(contact.get(key, '')) or '—'}"
                           for key, label in fields)
        return _modal("rd_contact", vid, "Contact", [
            {"type": "section", "text": {"type": "mrkdwn", "text": lines}}, *selects, *info],
            "Review changes" if selects else None)
    inputs = [{"type": "input", "block_id": key, "label": _text(label), "optional": key != "phone",
               "element": {"type": "plain_text_input", "action_id": key,
                           **({"initial_value": contact[key]} if contact.get(key) else {})}}
              for key, label in fields]
    return _modal("rd_contact", vid, "Contact", [*inputs, *selects, *info], "Review changes")


@dataclass(frozen=True)
class Ownership:
    """What an owner assigner may choose in the Contact modal: owners (``agent:ana``,
    ``department:care/front``, ``unassigned``) and exclusive agents of the campaign (``none``),
    as (value, label), with the current ones."""

    campaign: str
    owners: list[tuple[str, str]]
    owner: str
    agents: list[tuple[str, str]]
    exclusive: str


def confirm_modal(vid: str, cid: str, changes: dict[str, tuple[str, str]],
                  ownership: dict[str, str] | None = None,
                  ownership_lines: list[str] = (), stays: str = "") -> dict[str, Any]:
    """E4: the edit is applied only after this confirmation; so are owner and exclusive-agent
    changes (``ownership`` their new values, ``ownership_lines`` how they read, ``stays``
    where the open conversation stays)."""
    lines = "\n".join([f"*{field}:* {escape(old) or '—'} → {escape(new) or '—'}"
                       for field, (old, new) in changes.items()] + list(ownership_lines))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": lines}}]
    if stays:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": stays}]})
    view = _modal("rd_contact_confirm", vid, "Confirm changes", blocks, "Save")
    view["private_metadata"] = json.dumps({"vid": vid, "cid": cid,
                                           "changes": {f: n for f, (_, n) in changes.items()},
                                           **(ownership or {})})
    return view


def history_modal(vid: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    lines = [f"*{r['id']}* · {r['campaign']} · {r['status']} · {escape(r['assignee'] or '—')}"
             f" · {escape(r['typification'] or '—')}" for r in rows]
    return _modal("rd_history", vid, "Recent conversations", [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "\n".join(lines) or "No earlier conversations."}}],
        None)


def values(view: dict[str, Any]) -> dict[str, str]:
    """A submitted view's inputs, by block id."""
    out: dict[str, str] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        for action in actions.values():
            if action.get("type") == "static_select":
                out[block_id] = (action.get("selected_option") or {}).get("value", "")
            else:
                out[block_id] = action.get("value") or ""
    return out


def message_modal(title: str, text: str) -> dict[str, Any]:
    """Replaces a modal with a message (a refusal, or why a change was not saved)."""
    return {"type": "modal", "title": _text(title), "close": _text("Close"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}]}
