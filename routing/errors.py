"""Domain errors: why a use case did not happen, in words a person can act on.

Each adapter shows them its own way (the API as a status code and ``{"error": ...}``, Slack as a
modal error or an ephemeral message), so the rule and its wording are decided once.
"""

from __future__ import annotations


class ActionError(Exception):
    """A use case refused. ``field`` names the input at fault, when one is."""

    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(ActionError):
    """The conversation, contact, agent or campaign does not exist."""


class Refused(ActionError):
    """The caller may not do this; the reason says what is missing."""


class Invalid(ActionError):
    """The request is malformed or incomplete."""


class Unprocessable(ActionError):
    """Well-formed, but not possible with these targets (an agent outside the campaign, a
    closed WhatsApp window, an agent who cannot take it now)."""


class Conflict(ActionError):
    """Not possible in the conversation's current state (already closed, bot no longer holds it)."""
