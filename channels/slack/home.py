"""Block Kit of the attendance history (seed 000) in the app's Home tab and its modals.

Pure functions from what ``routing.actions.history`` returns to Slack views, within Slack's
limits (100 blocks a view, 3,000 characters a section). Customer text is escaped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from channels.slack.escape import escape

SECTION_LIMIT = 2900


def _text(value: str) -> dict[str, str]:
    return {"type": "plain_text", "text": value[:75] or " "}


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section",
                             "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT] or " "}}
    if accessory:
        block["accessory"] = accessory
    return block


def _button(action: str, label: str, value: str, primary: bool = False) -> dict[str, Any]:
    button = {"type": "button", "action_id": action, "text": _text(label), "value": value}
    return button | ({"style": "primary"} if primary else {})


def _when(stamp: float | None) -> str:
    if not stamp:
        return "—"
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    return f"<!date^{int(stamp)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.0f} min"


def page_state(page: int, query: str, sort: str) -> str:
    """What a paging or sorting button carries: the history view it leads to."""
    return json.dumps({"page": page, "q": query, "sort": sort})


def history_home(data: dict[str, Any] | None, query: str = "", sort: str = "recent",
                 refusal: str = "") -> dict[str, Any]:
    """H3-H5: the agent's contacts, a search button, sorting and paging."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _text("Attendance history")}]
    if refusal or data is None:
        blocks.append(_section(f":lock: {escape(refusal)}"))
        return {"type": "home", "blocks": blocks}
    other = "name" if sort == "recent" else "recent"
    blocks.append({"type": "actions", "block_id": "rd_hist_tools", "elements": [
        _button("rd_hist_search", "Search", query, primary=True),
        _button("rd_hist_page", f"Sort by {'name' if other == 'name' else 'last interaction'}",
                page_state(1, query, other)),
        *([_button("rd_hist_page", "Clear search", page_state(1, "", sort))] if query else []),
    ]})
    total, page, per = data["total"], data["page"], data["per_page"]
    found = f" matching “{escape(query)}”" if query else ""
    order = "by last interaction" if sort == "recent" else "by name"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"{total} contact(s){found}, {order} · last 90 days, from 3 h after a ticket closed"
        f" · page {page}")}]})
    for c in data["contacts"]:
        who = escape(c.get("name") or "") or c.get("phone", "")
        blocks.append(_section(
            f"*{who}*  {c.get('phone', '')}  {escape(c.get('email', ''))}\n"
            f"Last interaction: {_when(c.get('last_interaction'))}",
            _button("rd_hist_contact", "Open", c["id"])))
    if not data["contacts"]:
        blocks.append(_section("No contacts here yet."))
    paging = []
    if page > 1:
        paging.append(_button("rd_hist_page", "‹ Previous", page_state(page - 1, query, sort)))
    if page * per < total:
        paging.append(_button("rd_hist_page", "Next ›", page_state(page + 1, query, sort)))
    if paging:
        blocks.append({"type": "actions", "block_id": "rd_hist_paging", "elements": paging})
    return {"type": "home", "blocks": blocks}


def search_modal(query: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "q",
                               "placeholder": _text("name, email or phone")}
    if query:
        element["initial_value"] = query
    return {"type": "modal", "callback_id": "rd_hist_search", "title": _text("Search history"),
            "submit": _text("Search"), "close": _text("Cancel"),
            "blocks": [{"type": "input", "block_id": "q", "label": _text("Find a contact"),
                        "element": element}]}


def contact_modal(data: dict[str, Any], name_of: Callable[[str], str]) -> dict[str, Any]:
    """H7, H10: the contact's data, tickets (each opens its details), notes, audit trail."""
    c = data["contact"]
    facts = "\n".join(f"*{label}:* {escape(c.get(key, '')) or '—'}" for key, label in (
        ("name", "Name"), ("phone", "Phone"), ("email", "Email"), ("document", "Document")))
    blocks: list[dict[str, Any]] = [_section(facts), {"type": "header", "text": _text("Tickets")}]
    for t in data["tickets"][:20]:
        typ = " › ".join(x for x in (t["typification"], t["subtypification"]) if x) or "—"
        blocks.append(_section(
            f"*{t['id']}* · {escape(t['campaign'])} · {escape(name_of(t['assignee']))} · "
            f"{escape(typ)}\nClosed {_when(t['closed_at'])}",
            _button("rd_hist_ticket", "Details", t["id"])))
    notes = "\n".join(f"• *{escape(name_of(n.get('actor', '')))}:* {escape(n.get('note', ''))}"
                      for n in data["notes"][-10:])
    audit = "\n".join(f"• {_when(float(a['at']))} {escape(name_of(a.get('actor', '')))}: "
                      f"{escape(a.get('field', ''))} {escape(a.get('old', '')) or '—'} → "
                      f"{escape(a.get('new', '')) or '—'}" for a in data["audit"][-10:])
    blocks += [_section("*Agents' notes*\n" + (notes or "none")),
               _section("*Changes*\n" + (audit or "none"))]
    return {"type": "modal", "callback_id": "rd_hist_contact", "title": _text("Contact history"),
            "close": _text("Close"), "private_metadata": c.get("id", ""), "blocks": blocks}


def ticket_modal(data: dict[str, Any], name_of: Callable[[str], str]) -> dict[str, Any]:
    """H9: origin, times and durations, assignees, typification, escalation, messages."""
    t, times, took = data["ticket"], data["times"], data["durations"]
    typ = " › ".join(x for x in (t["typification"], t["subtypification"]) if x) or "—"
    facts = (f"*Origin:* {escape(data['origin'])}\n*Campaign:* {escape(t['campaign'])}\n"
             f"*Assignees:* {escape(', '.join(name_of(a) for a in data['assignees'])) or '—'}\n"
             f"*Typification:* {escape(typ)}\n"
             f"*Escalation:* {escape(data['escalation']) or 'none'}\n"
             f"*Opened:* {_when(times['opened'])} · *First assigned:* "
             f"{_when(times['first_assigned'])}\n*First response:* "
             f"{_when(times['first_response'])} · *Closed:* {_when(times['closed'])}\n"
             f"*Waited:* {_minutes(took['wait'])} · *Handled in:* {_minutes(took['handling'])}")
    lines = [f"*{'customer' if m['direction'] == 'in' else escape(name_of(m['author']))}:* "
             f"{escape(m['body']) or '(media)'}" for m in data["messages"][-30:]]
    return {"type": "modal", "callback_id": "rd_hist_ticket",
            "title": _text(f"Ticket {t['id']}"), "close": _text("Back"),
            "private_metadata": t["id"],
            "blocks": [_section(facts), {"type": "header", "text": _text("Messages")},
                       _section("\n".join(lines) or "No messages.")]}
