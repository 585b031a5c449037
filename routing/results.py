"""What the store's scripts answer, as small typed values.

Every script replies with one JSON object: an ``outcome``, named fields, and ``marks``, the work
marks it stored (``slack:v12``, ``card:v3``, ...). The marks become ``jobs`` here: the caller
enqueues exactly those (see workers.dispatch) and rebuilds none.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from routing.errors import NotFound

R = TypeVar("R", bound="Result")


@dataclass(frozen=True)
class Result:
    outcome: str
    jobs: tuple[str, ...] = ()

    @classmethod
    def parse(cls: type[R], raw: str | bytes) -> R:
        """A script's reply; ``not_found`` becomes the ``NotFound`` error."""
        data: dict[str, Any] = json.loads(raw)
        if data.get("outcome") == "not_found":
            raise NotFound("not found")
        names = _FIELDS.get(cls) or _field_names(cls)
        values = {k: _value(v) for k, v in data.items() if k in names}
        return cls(jobs=tuple(data.get("marks") or ()), **values)


_FIELDS: dict[type, frozenset[str]] = {}  # a result type's fields a reply may set (parse runs
# once per webhook: looking them up each time was a third of its cost)


def _field_names(cls: type) -> frozenset[str]:
    names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls)) - {"jobs"}
    return names


def _value(v: Any) -> Any:
    if type(v) in _TABLES:  # Lua's empty table encodes as {}: it is an empty list here
        return tuple(v) if v else ()
    return v


_TABLES = (list, dict)


@dataclass(frozen=True)
class Inbound(Result):
    """A customer message stored (or recognised as a provider retry)."""

    message: str = ""
    conversation: str = ""
    opened: bool = False
    assignee: str = ""
    status: str = ""  # the conversation's status after this message ('bot' when the bot holds it)
    rule: str = ""  # the routing rule that placed a conversation this message opened


@dataclass(frozen=True)
class Replied(Result):
    """An agent's thread reply: queued, or why not (duplicate, closed, not_assignee, ...)."""

    conversation: str = ""
    message: str = ""
    assignee: str = ""  # who the conversation belongs to, when the writer is not them
    detail: str = ""  # what a refusal needs to explain itself


@dataclass(frozen=True)
class Recorded(Result):
    """A send's outcome recorded (``outcome``: the message's status); ``next`` is the head of
    the conversation's Twilio outbox after it, '' when the outbox is empty."""

    next: str = ""


@dataclass(frozen=True)
class Sent(Result):
    """A message to the customer queued through the API; ``replayed`` for a repeated key."""

    message: str = ""
    status: str = ""
    replayed: bool = False


@dataclass(frozen=True)
class Moved(Result):
    """Assigned, transferred, closed or handed off; ``assigned`` are the conversations the freed
    agent took next."""

    assignee: str = ""
    detail: str = ""
    status: str = ""
    assigned: tuple[str, ...] = ()
    replayed: bool = False


@dataclass(frozen=True)
class ContactChanged(Result):
    """A contact edit, owner or exclusive-agent change."""

    contact: str = ""
    contacts: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentChanged(Result):
    """Presence or capacity set; ``assigned`` are the waiting conversations the agent took."""

    before: str = ""
    assigned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision(Result):
    """Where the routing policy sends a new conversation, and why (the dry run)."""

    rule: str = ""
    action: str = ""
    target: str = ""
    reason: str = ""
    skipped: tuple[str, ...] = ()
    contact: str = ""


@dataclass(frozen=True)
class HistoryContacts(Result):
    """An agent's history: (contact id, last closing time as text), most recent first."""

    contacts: tuple[list[str], ...] = ()
    tickets: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusApplied(Result):
    """A Twilio status callback: changed, unchanged or early (before the sid was recorded)."""

    message: str = ""


@dataclass(frozen=True)
class ActiveSent(Result):
    """An active message queued (a template to one contact), or why not; ``replayed`` for a
    repeated Idempotency-Key."""

    contact: str = ""
    conversation: str = ""
    message: str = ""
    assignee: str = ""
    opened: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class BulkChanged(Result):
    """A bulk created or cancelled; ``replayed`` for a repeated Idempotency-Key."""

    bulk: str = ""
    total: int = 0
    skipped: int = 0
    status: str = ""
    replayed: bool = False


@dataclass(frozen=True)
class BulkClaim(Result):
    """A recipient claimed for sending (``send``) or settled without a send (``skip``)."""

    message: str = ""
    to: str = ""
    from_: str = ""
    body: str = ""
    content_sid: str = ""
    content_variables: str = ""
    reason: str = ""
