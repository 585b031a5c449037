"""Domain types shared by the gateway, the channels and the workers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Channel = Literal["whatsapp", "sms"]

#: What an agent sees for each Twilio message status (seed 001 7.1.6).
STATUS_LABELS = {
    "queued": "pending",
    "accepted": "pending",
    "scheduled": "pending",
    "sending": "pending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


#: Escalation types (S6) and how people read them.
ESCALATIONS = {"urgent": "Urgent", "complaint": "Complaint", "appointment": "Appointment",
               "purchase_services": "Purchase / services", "general": "General",
               "billing": "Billing"}


class Work(StrEnum):
    """The kinds of work mark (``kind:id`` in the pending set), one job each (workers.dispatch).

    Marks are made only by the store's scripts, which return them; nothing else builds one."""

    SLACK = "slack"  # drain the conversation's Slack outbox (card, messages, notices)
    TWILIO = "twilio"  # drain the conversation's Twilio outbox
    BOT = "bot"  # drain the conversation's bot outbox
    STATUS = "status"  # show a message's delivery status on it in Slack (m id)
    CARD = "card"  # re-render the conversation's card
    ALERT = "alert"  # DM the assignee: the conversation is now theirs
    AWAY = "away"  # DM the away assignee: their customer wrote (m id)
    REMIND = "remind"  # DM the assignee: their customer has waited too long
    ESCALATION = "escalation"  # tell the supervisors' channel
    BULK = "bulk"  # send one chunk of a bulk of active messages (b3.0: bulk b3, chunk 0)
    PROGRESS = "progress"  # show a bulk's progress in its requester's DM (b id)
    PROBLEM = "problem"  # tell supervisors an entry could not be shown in Slack (<conv>/<event>)


@dataclass(frozen=True)
class Media:
    content_type: str
    url: str
    private: bool = False  # a Slack file: fetched with the bot token, served to Twilio by us


@dataclass(frozen=True)
class Choice:
    """A8: what the customer chose in interactive content: a quick-reply button
    (``ButtonPayload``/``ButtonText``) or a list-picker item (``ListId``/``ListTitle``)."""

    kind: Literal["button", "list"]
    id: str
    title: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.kind, "id": self.id, "title": self.title}

    @classmethod
    def from_json(cls, raw: str) -> Choice | None:
        if not raw:
            return None
        d = json.loads(raw)
        return cls(d.get("type", "button"), d.get("id", ""), d.get("title", ""))


@dataclass(frozen=True)
class InboundMessage:
    """A customer message, normalized from whatever the provider sent."""

    sid: str
    channel: Channel
    phone: str  # E.164, the contact identity
    customer_addr: str  # as the provider addresses the customer: "whatsapp:+1..." or "+1..."
    campaign_addr: str  # the campaign's number, same form
    body: str = ""
    media: tuple[Media, ...] = ()
    profile_name: str = ""
    choice: Choice | None = None  # A8: the quick reply or list item the customer chose

    def media_json(self) -> str:
        return media_json(self.media)

    def choice_json(self) -> str:
        return json.dumps(self.choice.to_json(), ensure_ascii=False) if self.choice else ""


def media_json(media: tuple[Media, ...]) -> str:
    if not media:  # most messages: no json.dumps on the webhook's path
        return "[]"
    return json.dumps([{"content_type": m.content_type, "url": m.url}
                       | ({"private": True} if m.private else {}) for m in media])


@dataclass(frozen=True)
class AgentReply:
    """A thread reply written in Slack, before we know whether it may be sent."""

    event_id: str
    slack_channel: str
    thread_ts: str
    slack_user: str
    text: str
    ts: str
    media: tuple[Media, ...] = ()


@dataclass
class Conversation:
    id: str
    contact: str
    campaign: str
    channel: Channel
    customer_addr: str
    campaign_addr: str
    status: str
    assignee: str = ""
    department: str = ""
    assigned_at: float | None = None
    opened_at: float | None = None
    slack_channel: str = ""
    slack_ts: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, h: dict) -> Conversation:
        d = {_s(k): _s(v) for k, v in h.items()}
        known = {
            "id", "contact", "campaign", "channel", "customer_addr", "campaign_addr", "status",
            "assignee", "department", "slack_channel", "slack_ts",
        }
        return cls(
            **{k: d.get(k, "") for k in known},  # type: ignore[arg-type]
            assigned_at=_f(d.get("assigned_at")),
            opened_at=_f(d.get("opened_at")),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass
class Message:
    id: str
    conv: str
    direction: Literal["in", "out"]
    author: str
    body: str
    media: tuple[Media, ...]
    status: str = ""
    error_code: str = ""
    provider_sid: str = ""
    slack_channel: str = ""
    slack_ts: str = ""
    shown_status: str = ""
    failure_reason: str = ""
    template: str = ""  # an active message: the campaign template's name
    content_sid: str = ""  # WhatsApp: the Content API template sent
    content_variables: str = ""  # its variables, JSON {"1": ...}
    choice: Choice | None = None  # A8: the customer's choice in interactive content

    @classmethod
    def from_hash(cls, h: dict) -> Message:
        d = {_s(k): _s(v) for k, v in h.items()}
        items = json.loads(d.get("media") or "[]")
        media = tuple(Media(m["content_type"], m["url"], m.get("private", False)) for m in items)
        return cls(
            id=d["id"], conv=d["conv"], direction=d["direction"],  # type: ignore[arg-type]
            author=d.get("author", ""), body=d.get("body", ""), media=media,
            status=d.get("status", ""), error_code=d.get("error_code", ""),
            provider_sid=d.get("provider_sid", ""), slack_channel=d.get("slack_channel", ""),
            slack_ts=d.get("slack_ts", ""), shown_status=d.get("shown_status", ""),
            failure_reason=d.get("failure_reason", ""), template=d.get("template", ""),
            content_sid=d.get("content_sid", ""),
            content_variables=d.get("content_variables", ""),
            choice=Choice.from_json(d.get("choice", "")),
        )


def _s(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


def _f(value: str | None) -> float | None:
    return float(value) if value else None
