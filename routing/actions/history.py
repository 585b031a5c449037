"""The attendance history (seed 000, H1-H10): what an agent may look back on.

*Interacted* means: the agent was the conversation's assignee at some point (routed to them,
taken, assigned or transferred to them), replied in it, or wrote a note in it. When such a
conversation closes, it enters the agent's history (``agent:<id>:history``, by closing time).
A contact is listed from 3 hours after such a ticket closed and for 90 days; for a listed
contact the agent sees every closed ticket of the last 90 days (other agents' too, after the
same 3 hours), but only in campaigns where they have the ``history`` grant (admins: all). A
contact they never served, or a campaign without the grant, is never shown: asking for it is a
404, as if it did not exist. Admins and auditors may look as another agent (``as_agent``).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from routing.actions.context import Ctx
from routing.errors import Invalid, NotFound, Refused
from routing.permissions import Principal, effective_grants, roles

PER_PAGE = 20
Sort = Literal["recent", "name"]


@dataclass(frozen=True)
class Viewer:
    """Whose history is shown, and the campaigns it covers."""

    agent: str
    campaigns: frozenset[str]


async def viewer(ctx: Ctx, who: Principal, as_agent: str = "") -> Viewer:
    """H1, H2: the workspace switch, then the grant (admins always); refusals say which."""
    ws = ctx.workspace
    if not ws.history.enabled:
        raise Refused("the attendance history is not enabled in this workspace "
                      "(history.enabled in the config)")
    if as_agent:
        if not roles(who, ws) & {"admin", "auditor"}:
            raise Refused("only admins and auditors may look at another agent's history")
        if ws.agent(as_agent) is None:
            raise NotFound(f"no agent {as_agent!r}")
        agent = as_agent
    elif who.kind == "agent" and ws.agent(who.agent) is not None:
        agent = who.agent
    else:
        raise Invalid("this token has no history of its own: pass as_agent", "as_agent")
    config = ws.agent(agent)
    if config is not None and "admin" in config.roles:
        return Viewer(agent, frozenset(c.id for c in ws.campaigns))
    runtime = await ctx.store.grants(agent)
    campaigns = frozenset(c.id for c in ws.campaigns
                          if "history" in effective_grants(ws, agent, c.id, runtime))
    if not campaigns:
        raise Refused(f"the attendance history needs the \"history\" permission in a campaign; "
                      f"{agent} has it in none")
    return Viewer(agent, campaigns)


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name or email."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def matches(contact: dict[str, str], query: str) -> bool:
    """H4: by name or email (partial, case and accents ignored) or phone (any format)."""
    wanted = fold(query.strip())
    if wanted and (wanted in fold(contact.get("name", "")) or
                   wanted in fold(contact.get("email", ""))):
        return True
    number = digits(query)
    return len(number) >= 3 and len(number) >= len(query.strip()) // 2 and \
        number in digits(contact.get("phone", ""))


async def _tickets_of(ctx: Ctx, view: Viewer, cid: str, now: float) -> list[dict[str, str]]:
    """The contact's closed tickets of the last 90 days in the viewer's campaigns, newest
    first, each visible from 3 h after it closed; NotFound unless the viewer served one."""
    found = await ctx.store.history_contact(view.agent, cid, sorted(view.campaigns), now=now)
    if found.outcome != "served":
        raise NotFound(f"no contact {cid!r} in {view.agent}'s history")
    return await ctx.store.hashes([ctx.store.keys.conv(v) for v in found.tickets])


async def _listed(ctx: Ctx, view: Viewer, now: float) -> list[tuple[str, float]]:
    """(contact, last visible closing) of the contacts the viewer served through a ticket in
    one of their campaigns, most recent first: one round trip, whatever the workspace's size."""
    listed = await ctx.store.history(view.agent, sorted(view.campaigns), now=now)
    return [(cid, float(last)) for cid, last in listed.contacts]


async def history_contacts(ctx: Ctx, who: Principal, query: str = "", sort: Sort = "recent",
                           page: int = 1, as_agent: str = "", now: float | None = None
                           ) -> dict[str, Any]:
    """H3-H5: the viewer's contacts, searched and sorted, a page at a time."""
    if sort not in ("recent", "name"):
        raise Invalid("sort must be recent or name", "sort")
    if page < 1:
        raise Invalid("page starts at 1", "page")
    now = time.time() if now is None else now
    view = await viewer(ctx, who, as_agent)
    listed = await _listed(ctx, view, now)
    start, total = (page - 1) * PER_PAGE, len(listed)
    if not query.strip() and sort == "recent":  # already in order: read just the page
        listed = listed[start:start + PER_PAGE]
    fields = ["id", "name", "phone", "email"]
    contacts = await ctx.store.hashes([ctx.store.keys.contact(c) for c, _ in listed], fields)
    rows = [c | {"last_interaction": last} for c, (_, last) in zip(contacts, listed,
                                                                    strict=True)]
    if query.strip() or sort == "name":
        if query.strip():
            rows = [r for r in rows if matches(r, query)]
        if sort == "name":
            rows.sort(key=lambda r: (fold(r.get("name", "")) or "\uffff", r.get("phone", "")))
        total, rows = len(rows), rows[start:start + PER_PAGE]
    return {"agent": view.agent, "total": total, "page": page, "per_page": PER_PAGE,
            "contacts": rows}


async def history_contact(ctx: Ctx, who: Principal, cid: str, as_agent: str = "",
                          now: float | None = None) -> dict[str, Any]:
    """H7, H8, H10: a listed contact: their data, their tickets in the viewer's campaigns,
    every agent's notes, and the audit trail of their data, owner and exclusive agents."""
    now = time.time() if now is None else now
    view = await viewer(ctx, who, as_agent)
    tickets = await _tickets_of(ctx, view, cid, now)
    contact = await ctx.store.contact_hash(cid)
    raw_notes = await ctx.store.contact_notes(cid)
    where = await ctx.store.hashes([ctx.store.keys.conv(f.get("conversation", ""))
                                    for _, f in raw_notes], ["campaign"])
    notes = [f | {"id": nid} for (nid, f), conv in zip(raw_notes, where, strict=True)
             if conv.get("campaign") in view.campaigns]
    audit = [f | {"id": aid} for aid, f in await ctx.store.contact_audit(cid)]
    return {"agent": view.agent, "contact": contact,
            "tickets": [summary(t) for t in tickets], "notes": notes, "audit": audit}


def summary(conv: dict[str, str]) -> dict[str, Any]:
    return {"id": conv["id"], "campaign": conv.get("campaign", ""),
            "channel": conv.get("channel", ""), "assignee": conv.get("assignee", ""),
            "opened_at": _f(conv.get("opened_at")), "closed_at": _f(conv.get("closed_at")),
            "typification": conv.get("typification", ""),
            "subtypification": conv.get("subtypification", "")}


def _f(value: str | None) -> float | None:
    return float(value) if value else None


def _origin(conv: dict[str, str], events: list[dict[str, str]]) -> str:
    if conv.get("previous_campaign"):
        return "transfer"
    if any(e.get("type") == "handoff" for e in events):
        return "bot handoff"
    return conv.get("origin", "inbound").replace("_", " ")


async def history_ticket(ctx: Ctx, who: Principal, vid: str, as_agent: str = "",
                         now: float | None = None) -> dict[str, Any]:
    """H7, H9: one ticket: origin, times and durations, every assignee in order,
    typification, escalation, and its messages."""
    now = time.time() if now is None else now
    view = await viewer(ctx, who, as_agent)
    conv = await ctx.store.conversation_hash(vid)
    if not conv:
        raise NotFound(f"no ticket {vid!r} in {view.agent}'s history")
    if vid not in {t["id"] for t in await _tickets_of(ctx, view, conv["contact"], now)}:
        raise NotFound(f"no ticket {vid!r} in {view.agent}'s history")
    events = [f for _, f in await ctx.store.events(vid)]
    mids = [e["message"] for e in events if e.get("type") == "message"]
    messages = await ctx.store.hashes([ctx.store.keys.msg(m) for m in mids])
    opened, assigned = _f(conv.get("opened_at")), _f(conv.get("first_assigned_at"))
    closed = _f(conv.get("closed_at"))
    assignees: list[str] = []
    for e in events:
        if e.get("type") == "assigned" and (not assignees or assignees[-1] != e["agent"]):
            assignees.append(e["agent"])
    return {
        "agent": view.agent, "ticket": summary(conv), "contact": conv["contact"],
        "origin": _origin(conv, events),
        "times": {"opened": opened, "first_assigned": assigned,
                  "first_response": _f(conv.get("first_response_at")), "closed": closed},
        "durations": {"wait": assigned - opened if assigned and opened else None,
                      "handling": closed - assigned if closed and assigned else None},
        "assignees": assignees,
        "escalation": conv.get("escalation", ""),
        "messages": [{"id": m.get("id"), "direction": m.get("direction"),
                      "author": m.get("author"), "body": m.get("body", ""),
                      "at": _f(m.get("created_at")), "status": m.get("status", "")}
                     for m in messages],
    }
