"""The use cases of the desk, one function each.

Slack handlers, API handlers and the CLI only translate to and from these calls, so a rule is
checked the same way wherever it is asked for. Each use case checks permission
(``routing.permissions``), validates, runs one store script and returns its typed result, whose
``jobs`` the caller enqueues as they are (``workers.dispatch``). A refusal is a domain error
(``routing.errors``) that says what is wrong.
"""

from routing.actions.agents import set_capacity, set_grants, set_presence
from routing.actions.bot import bot_message, handoff
from routing.actions.contacts import (
    check_exclusive,
    check_owner,
    contact_audit,
    contact_ref,
    edit_contact,
    open_conversations,
    owner_value,
    read_owners,
    review_contact_edit,
    review_ownership,
    set_exclusive,
    set_owner,
)
from routing.actions.context import Ctx, conversation, principal_of_slack
from routing.actions.conversations import (
    assign,
    close,
    dry_run,
    escalate,
    read_conversation,
    transfer_to_agent,
    transfer_to_campaign,
)
from routing.actions.history import history_contact, history_contacts, history_ticket
from routing.actions.thread import note, reply, send_saved

__all__ = [
    "Ctx", "assign", "bot_message", "check_exclusive", "check_owner", "close", "contact_audit",
    "contact_ref", "conversation", "dry_run", "edit_contact", "escalate", "handoff",
    "history_contact", "history_contacts", "history_ticket", "note", "open_conversations",
    "owner_value", "principal_of_slack", "read_conversation", "read_owners", "reply",
    "review_contact_edit", "review_ownership", "send_saved", "set_capacity", "set_exclusive",
    "set_grants", "set_owner", "set_presence", "transfer_to_agent", "transfer_to_campaign",
]
