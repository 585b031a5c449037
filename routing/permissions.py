"""Who may do what. Checked on the server for every API call and Slack action; a refusal says
what is missing.

A *principal* is whoever is calling: an admin token, an agent (through their token or their Slack
user), or a campaign's bot (whose token is scoped to that campaign).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from routing.config import Workspace, serves

SUPERVISING = {"admin", "supervisor"}
READING = {"admin", "supervisor", "auditor"}


@dataclass(frozen=True)
class Principal:
    kind: Literal["admin", "agent", "bot"]
    name: str
    agent: str = ""  # kind == "agent"
    campaign: str = ""  # kind == "bot"

    @property
    def actor(self) -> str:
        """How the principal appears in events and audit trails."""
        return {"admin": f"admin:{self.name}", "agent": self.agent,
                "bot": f"bot:{self.campaign}"}[self.kind]

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "agent": self.agent,
                "campaign": self.campaign}


def new_token(prefix: str = "rdk") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Tokens are stored hashed; a leaked database does not leak them."""
    return hashlib.sha256(token.encode()).hexdigest()


def roles(p: Principal, ws: Workspace) -> set[str]:
    if p.kind == "admin":
        return {"admin"}
    if p.kind == "agent":
        agent = ws.agent(p.agent)
        return set(agent.roles) if agent else set()
    return set()


def _need(p: Principal, ws: Workspace, allowed: set[str], what: str) -> str | None:
    if roles(p, ws) & allowed:
        return None
    return f"{what} needs one of the roles {sorted(allowed)}"


def may_assign_owners(p: Principal, ws: Workspace, campaigns: set[str] | None = None,
                      runtime: dict[str, str] | None = None) -> str | None:
    """Owners and exclusive agents (seed 003, O5). The ``owner_assigners`` roles (admin always)
    may everywhere; the per-campaign "assign owners" grant within its campaign: ``campaigns``
    are the campaigns the change touches (see ``owner_campaigns``), and a grant in any of them
    allows it. ``None`` asks whether the principal may assign owners anywhere at all."""
    allowed = {"admin", *ws.owner_assigners}
    if roles(p, ws) & allowed:
        return None
    if campaigns is None:
        if p.kind == "agent" and any(
                "assign_owners" in effective_grants(ws, p.agent, c.id, runtime)
                for c in ws.campaigns):
            return None
        where = "in some campaign"
    else:
        if any(has_grant(p, ws, c, "assign_owners", runtime) for c in campaigns):
            return None
        where = ("in " + " or ".join(sorted(campaigns))) if campaigns else "in some campaign"
    return (f"assigning owners needs one of the roles {sorted(allowed)} or the "
            f"\"assign owners\" permission {where}")


def owner_campaigns(ws: Workspace, owner_type: str, owner_id: str) -> set[str]:
    """The campaigns an owner routes in, which an "assign owners" grant must cover: a
    department's campaign; for an agent, every campaign they serve; none when unassigned."""
    if owner_type == "department":
        return {owner_id.partition("/")[0]}
    if owner_type == "agent":
        agent = ws.agent(owner_id)
        return {ref.partition("/")[0] for ref in agent.departments} if agent else set()
    return set()


def may_read_audit(p: Principal, ws: Workspace, runtime: dict[str, str] | None = None
                   ) -> str | None:
    """A contact's audit trail (owner, exclusive agent and data changes): owner assigners
    (roles, or the "assign owners" grant in some campaign), supervisors, auditors, admins."""
    if may_assign_owners(p, ws, None, runtime) is None:
        return None
    return _need(p, ws, {*READING, *ws.owner_assigners}, "reading a contact's audit trail")


def may_set_presence(p: Principal, ws: Workspace, agent: str) -> str | None:
    if p.kind == "agent" and p.agent == agent:
        return None
    return _need(p, ws, SUPERVISING, "changing another agent's presence")


def may_set_capacity(p: Principal, ws: Workspace) -> str | None:
    return _need(p, ws, SUPERVISING, "changing capacity")


def may_read_agent(p: Principal, ws: Workspace, agent: str) -> str | None:
    if p.kind == "agent" and p.agent == agent:
        return None
    return _need(p, ws, READING, "reading another agent")


def may_read_conversation(p: Principal, ws: Workspace, campaign: str,
                          assignee: str) -> str | None:
    if p.kind == "bot":
        return None if p.campaign == campaign else f"this bot token is for {p.campaign}"
    if p.kind == "agent" and p.agent and p.agent == assignee:
        return None
    return _need(p, ws, READING, "reading a conversation you are not assigned")


def may_act_as_bot(p: Principal, campaign: str) -> str | None:
    if p.kind == "admin":
        return None
    if p.kind == "bot" and p.campaign == campaign:
        return None
    if p.kind == "bot":
        return f"this bot token is for {p.campaign}, not {campaign}"
    return "only the campaign's bot (or an admin) may do this"


def may_close(p: Principal, ws: Workspace, assignee: str) -> str | None:
    if p.kind == "agent" and p.agent == assignee:
        return None
    return _need(p, ws, SUPERVISING, "closing a conversation you are not assigned")


def may_dry_run(p: Principal, ws: Workspace) -> str | None:
    return _need(p, ws, READING, "the routing dry run")


def effective_grants(ws: Workspace, agent_id: str, campaign: str,
                     runtime: dict[str, str] | None = None) -> set[str]:
    """Grants set through the API for a campaign replace the config's for that campaign."""
    if runtime and campaign in runtime:
        return {g for g in runtime[campaign].split(",") if g}
    agent = ws.agent(agent_id)
    return set(agent.grants.get(campaign, ())) if agent else set()


def has_grant(p: Principal, ws: Workspace, campaign: str, grant: str,
              runtime: dict[str, str] | None = None) -> bool:
    """Per-campaign grants (section 8); admins have them all."""
    if "admin" in roles(p, ws):
        return True
    return p.kind == "agent" and grant in effective_grants(ws, p.agent, campaign, runtime)


def may_manage_grants(p: Principal, ws: Workspace) -> str | None:
    return _need(p, ws, {"admin"}, "granting permissions")


def may_edit_contact(p: Principal, ws: Workspace, campaign: str,
                     runtime: dict[str, str] | None = None) -> str | None:
    """E1-E3: the campaign's "edit contact" grant; admins always."""
    if has_grant(p, ws, campaign, "edit_contact", runtime):
        return None
    return f"editing contacts needs the \"edit contact\" permission in {campaign}"


def may_reassign(p: Principal, ws: Workspace) -> str | None:
    return _need(p, ws, SUPERVISING, "assigning a conversation to someone else")


def may_handle(p: Principal, ws: Workspace, assignee: str, what: str) -> str | None:
    """Transfer, escalate: the assignee, or a supervisor."""
    if p.kind == "agent" and p.agent and p.agent == assignee:
        return None
    return _need(p, ws, SUPERVISING, f"{what} a conversation you are not assigned")


def _serves(p: Principal, ws: Workspace, campaign: str) -> bool:
    """The principal is an agent in one of the campaign's departments."""
    agent = ws.agent(p.agent) if p.kind == "agent" else None
    return agent is not None and serves(agent, campaign)


def may_view(p: Principal, ws: Workspace, campaign: str) -> str | None:
    """Seeing a conversation's contact and history: anyone serving the campaign."""
    if _serves(p, ws, campaign):
        return None
    return _need(p, ws, READING, f"viewing {campaign}'s contacts (you do not serve it)")


def may_send_active(p: Principal, ws: Workspace, campaign: str,
                    runtime: dict[str, str] | None = None) -> str | None:
    """Section 6: an active message needs the campaign's "active messages" grant; admins
    always."""
    if has_grant(p, ws, campaign, "active_messages", runtime):
        return None
    return f"sending active messages needs the \"active messages\" permission in {campaign}"


def may_send_bulk(p: Principal, ws: Workspace) -> str | None:
    """Bulk active messages: marketing and admins."""
    return _need(p, ws, {"admin", "marketing"}, "bulk active messages")


def may_view_history(p: Principal, ws: Workspace, campaign: str,
                     runtime: dict[str, str] | None = None) -> str | None:
    """The History button (A10, H2): the campaign's "history" grant; admins always."""
    if has_grant(p, ws, campaign, "history", runtime):
        return None
    return f"the contact's history needs the \"history\" permission in {campaign}"


def may_note(p: Principal, ws: Workspace, campaign: str) -> str | None:
    """Internal notes: agents who serve the conversation's campaign, supervisors, admins."""
    if _serves(p, ws, campaign):
        return None
    return _need(p, ws, SUPERVISING, f"writing notes in {campaign} (you do not serve it)")


def may_send_files(p: Principal, ws: Workspace, campaign: str,
                   runtime: dict[str, str] | None = None) -> str | None:
    """A5: files (uploads, gallery media) need the campaign's ``attachments`` option and the
    agent's "attachments" grant in it (admins have every grant, not the option)."""
    camp = ws.campaign(campaign)
    label = camp.label if camp else campaign
    option = camp is not None and camp.options.attachments
    grant = has_grant(p, ws, campaign, "attachments", runtime)
    if option and grant:
        return None
    if not option and not grant:
        return (f"{label} does not allow sending files to customers, and you do not have the "
                f"\"attachments\" permission there")
    if not option:
        return f"{label} does not allow sending files to customers"
    return f"sending files needs the \"attachments\" permission in {label}"
