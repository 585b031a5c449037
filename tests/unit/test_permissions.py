"""Who may do what: every role against every permission check, in one table.

A cell is True when the check lets the principal through. "self" actions are asked about the
principal's own agent (or the conversation it is assigned); "other" about someone else's.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from routing import permissions as p
from routing.config import Workspace, parse_config
from routing.permissions import Principal

WS: Workspace = parse_config({
    "campaigns": [
        {"id": "care", "channel": "whatsapp", "number": "+14155238886",
         "slack_channel": "C0CARE", "departments": [{"id": "front"}]},
        {"id": "sales", "channel": "sms", "number": "+14155550100",
         "slack_channel": "C0SALES", "departments": [{"id": "team"}]},
    ],
    "agents": [
        {"id": "ag", "slack_user": "U0AG", "departments": ["care/front"], "roles": ["agent"],
         "grants": {"care": ["edit_contact"]}},
        {"id": "sup", "slack_user": "U0SUP", "departments": ["care/front"],
         "roles": ["supervisor"]},
        {"id": "aud", "slack_user": "U0AUD", "roles": ["auditor"]},
        {"id": "mkt", "slack_user": "U0MKT", "roles": ["marketing"]},
        {"id": "adm", "slack_user": "U0ADM", "roles": ["admin"]},
    ],
})

PRINCIPALS = {
    "admin token": Principal("admin", "ops"),
    "admin agent": Principal("agent", "adm", agent="adm"),
    "supervisor": Principal("agent", "sup", agent="sup"),
    "agent": Principal("agent", "ag", agent="ag"),
    "auditor": Principal("agent", "aud", agent="aud"),
    "marketing": Principal("agent", "mkt", agent="mkt"),
    "care bot": Principal("bot", "b", campaign="care"),
}


def me(who: Principal) -> str:
    return who.agent or "nobody"


CHECKS: dict[str, Callable[[Principal], str | None]] = {
    "assign owners": lambda w: p.may_assign_owners(w, WS),
    "own presence": lambda w: p.may_set_presence(w, WS, me(w)),
    "other's presence": lambda w: p.may_set_presence(w, WS, "someone"),
    "capacity": lambda w: p.may_set_capacity(w, WS),
    "read own agent": lambda w: p.may_read_agent(w, WS, me(w)),
    "read other agent": lambda w: p.may_read_agent(w, WS, "someone"),
    "read own conversation": lambda w: p.may_read_conversation(w, WS, "care", me(w)),
    "read other's conversation": lambda w: p.may_read_conversation(w, WS, "care", "someone"),
    "act as care's bot": lambda w: p.may_act_as_bot(w, "care"),
    "act as sales' bot": lambda w: p.may_act_as_bot(w, "sales"),
    "close own": lambda w: p.may_close(w, WS, me(w)),
    "close other's": lambda w: p.may_close(w, WS, "someone"),
    "dry run": lambda w: p.may_dry_run(w, WS),
    "manage grants": lambda w: p.may_manage_grants(w, WS),
    "edit contact in care": lambda w: p.may_edit_contact(w, WS, "care"),
    "edit contact in sales": lambda w: p.may_edit_contact(w, WS, "sales"),
    "reassign": lambda w: p.may_reassign(w, WS),
    "transfer own": lambda w: p.may_handle(w, WS, me(w), "transferring"),
    "transfer other's": lambda w: p.may_handle(w, WS, "someone", "transferring"),
    "view care": lambda w: p.may_view(w, WS, "care"),
    "view sales": lambda w: p.may_view(w, WS, "sales"),
}

Y, N = True, False
#                          admin tok, admin ag, supervisor, agent, auditor, marketing, bot
TABLE = {
    "assign owners":             (Y, Y, Y, N, N, N, N),
    "own presence":              (Y, Y, Y, Y, Y, Y, N),
    "other's presence":          (Y, Y, Y, N, N, N, N),
    "capacity":                  (Y, Y, Y, N, N, N, N),
    "read own agent":            (Y, Y, Y, Y, Y, Y, N),
    "read other agent":          (Y, Y, Y, N, Y, N, N),
    "read own conversation":     (Y, Y, Y, Y, Y, Y, Y),
    "read other's conversation": (Y, Y, Y, N, Y, N, Y),
    "act as care's bot":         (Y, N, N, N, N, N, Y),
    "act as sales' bot":         (Y, N, N, N, N, N, N),
    "close own":                 (Y, Y, Y, Y, Y, Y, N),
    "close other's":             (Y, Y, Y, N, N, N, N),
    "dry run":                   (Y, Y, Y, N, Y, N, N),
    "manage grants":             (Y, Y, N, N, N, N, N),
    "edit contact in care":      (Y, Y, N, Y, N, N, N),
    "edit contact in sales":     (Y, Y, N, N, N, N, N),
    "reassign":                  (Y, Y, Y, N, N, N, N),
    "transfer own":              (Y, Y, Y, Y, Y, Y, N),
    "transfer other's":          (Y, Y, Y, N, N, N, N),
    "view care":                 (Y, Y, Y, Y, Y, N, N),
    "view sales":                (Y, Y, Y, N, Y, N, N),
}


def test_the_table_covers_every_check_and_principal() -> None:
    assert set(TABLE) == set(CHECKS)
    assert all(len(row) == len(PRINCIPALS) for row in TABLE.values())


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_role_against_check(who: str, check: str) -> None:
    allowed = TABLE[check][list(PRINCIPALS).index(who)]
    refusal = CHECKS[check](PRINCIPALS[who])
    assert (refusal is None) == allowed, refusal
    if refusal is not None:  # a refusal says what is missing
        assert len(refusal) > 10


def test_runtime_grants_replace_the_configs_for_their_campaign() -> None:
    agent = PRINCIPALS["agent"]
    assert p.may_edit_contact(agent, WS, "care", {"care": "history"}) is not None
    assert p.may_edit_contact(agent, WS, "sales", {"sales": "edit_contact"}) is None
    assert p.may_edit_contact(agent, WS, "care", {"sales": "edit_contact"}) is None
