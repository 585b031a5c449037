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
         "slack_channel": "C0SALES", "departments": [{"id": "team"}],
         "options": {"attachments": False}},
    ],
    "agents": [
        {"id": "ag", "slack_user": "U0AG", "departments": ["care/front"], "roles": ["agent"],
         "grants": {"care": ["edit_contact"]}},
        {"id": "gr", "slack_user": "U0GR", "departments": ["care/front", "sales/team"],
         "grants": {"care": ["history", "edit_contact", "active_messages", "assign_owners",
                             "attachments"]}},
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
    "granted agent": Principal("agent", "gr", agent="gr"),
    "auditor": Principal("agent", "aud", agent="aud"),
    "marketing": Principal("agent", "mkt", agent="mkt"),
    "care bot": Principal("bot", "b", campaign="care"),
}


def me(who: Principal) -> str:
    return who.agent or "nobody"


CHECKS: dict[str, Callable[[Principal], str | None]] = {
    "assign owners somewhere": lambda w: p.may_assign_owners(w, WS),
    "assign owners in care": lambda w: p.may_assign_owners(w, WS, {"care"}),
    "assign owners in sales": lambda w: p.may_assign_owners(w, WS, {"sales"}),
    "read audit": lambda w: p.may_read_audit(w, WS),
    "history in care": lambda w: p.may_view_history(w, WS, "care"),
    "history in sales": lambda w: p.may_view_history(w, WS, "sales"),
    "note in care": lambda w: p.may_note(w, WS, "care"),
    "note in sales": lambda w: p.may_note(w, WS, "sales"),
    "files in care": lambda w: p.may_send_files(w, WS, "care"),
    "files in sales (option off)": lambda w: p.may_send_files(w, WS, "sales"),
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
# "granted agent" serves care and sales and holds every grant in care, none in sales.
#                            admin tok, admin ag, supervisor, agent, granted, auditor, mkt, bot
TABLE = {
    "assign owners somewhere":     (Y, Y, Y, N, Y, N, N, N),
    "assign owners in care":       (Y, Y, Y, N, Y, N, N, N),
    "assign owners in sales":      (Y, Y, Y, N, N, N, N, N),
    "read audit":                  (Y, Y, Y, N, Y, Y, N, N),
    "history in care":             (Y, Y, N, N, Y, N, N, N),
    "history in sales":            (Y, Y, N, N, N, N, N, N),
    "note in care":                (Y, Y, Y, Y, Y, N, N, N),
    "note in sales":               (Y, Y, Y, N, Y, N, N, N),
    "files in care":               (Y, Y, N, N, Y, N, N, N),
    "files in sales (option off)": (N, N, N, N, N, N, N, N),
    "own presence":                (Y, Y, Y, Y, Y, Y, Y, N),
    "other's presence":            (Y, Y, Y, N, N, N, N, N),
    "capacity":                    (Y, Y, Y, N, N, N, N, N),
    "read own agent":              (Y, Y, Y, Y, Y, Y, Y, N),
    "read other agent":            (Y, Y, Y, N, N, Y, N, N),
    "read own conversation":       (Y, Y, Y, Y, Y, Y, Y, Y),
    "read other's conversation":   (Y, Y, Y, N, N, Y, N, Y),
    "act as care's bot":           (Y, N, N, N, N, N, N, Y),
    "act as sales' bot":           (Y, N, N, N, N, N, N, N),
    "close own":                   (Y, Y, Y, Y, Y, Y, Y, N),
    "close other's":               (Y, Y, Y, N, N, N, N, N),
    "dry run":                     (Y, Y, Y, N, N, Y, N, N),
    "manage grants":               (Y, Y, N, N, N, N, N, N),
    "edit contact in care":        (Y, Y, N, Y, Y, N, N, N),
    "edit contact in sales":       (Y, Y, N, N, N, N, N, N),
    "reassign":                    (Y, Y, Y, N, N, N, N, N),
    "transfer own":                (Y, Y, Y, Y, Y, Y, Y, N),
    "transfer other's":            (Y, Y, Y, N, N, N, N, N),
    "view care":                   (Y, Y, Y, Y, Y, Y, N, N),
    "view sales":                  (Y, Y, Y, N, Y, Y, N, N),
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


def test_a_grant_set_through_the_api_counts_in_its_campaign_only() -> None:
    agent = PRINCIPALS["agent"]
    runtime = {"sales": "assign_owners,attachments,history"}
    assert p.may_assign_owners(agent, WS, {"sales"}, runtime) is None
    assert p.may_assign_owners(agent, WS, None, runtime) is None
    assert "in care" in (p.may_assign_owners(agent, WS, {"care"}, runtime) or "")
    assert p.may_view_history(agent, WS, "sales", runtime) is None
    assert p.may_view_history(agent, WS, "care", runtime) is not None
    # the grant alone is not enough where the campaign does not allow files
    assert p.may_send_files(agent, WS, "sales", runtime) == \
        "sales does not allow sending files to customers"


def test_files_refusals_say_which_of_option_and_grant_is_missing() -> None:
    agent, granted = PRINCIPALS["agent"], PRINCIPALS["granted agent"]
    assert p.may_send_files(agent, WS, "care") == \
        'sending files needs the "attachments" permission in care'
    assert "does not allow sending files" in (p.may_send_files(granted, WS, "sales") or "")
    both = p.may_send_files(agent, WS, "sales") or ""
    assert "does not allow" in both and '"attachments" permission' in both


def test_owner_campaigns() -> None:
    assert p.owner_campaigns(WS, "department", "sales/team") == {"sales"}
    assert p.owner_campaigns(WS, "agent", "gr") == {"care", "sales"}
    assert p.owner_campaigns(WS, "", "") == set()
