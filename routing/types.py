"""Domain types shared by the gateway, the channels and the workers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Media:
    content_type: str
    url: str
    private: bool = False  # a Slack file: fetched with the bot token, served to Twilio by us


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

    def media_json(self) -> str:
        return media_json(self.media)


def media_json(media: tuple[Media, ...]) -> str:
    return json.dumps([{"content_type": m.content_type, "url": m.url}
                       | ({"private": True} if m.private else {}) for m in media])


@dataclass(frozen=True)
class InboundResult:
    outcome: Literal["stored", "duplicate"]
    message_id: str
    conversation_id: str
    opened: bool
    assignee: str
    status: str  # the conversation's status after this message ('bot' when the bot holds it)
    jobs: tuple[str, ...] = ()  # work marks this message created, each needing a job

    @classmethod
    def parse(cls, raw: list) -> InboundResult:
        outcome, mid, vid, opened, assignee, status, jobs = (_s(x) for x in raw)
        return cls(outcome, mid, vid, opened == "1", assignee, status,  # type: ignore[arg-type]
                   tuple(jobs.split()))


ReplyOutcome = Literal[
    "queued", "duplicate", "no_conversation", "closed", "not_an_agent", "not_assignee",
    "window_closed", "noted", "unknown_canned", "attachments_refused",
]


@dataclass(frozen=True)
class ReplyResult:
    outcome: ReplyOutcome
    conversation_id: str
    detail: str  # message id when queued; the current assignee when refused

    @classmethod
    def parse(cls, raw: list) -> ReplyResult:
        outcome, vid, detail = (_s(x) for x in raw)
        return cls(outcome, vid, detail)  # type: ignore[arg-type]


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
        )


def _s(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)


def _f(value: str | None) -> float | None:
    return float(value) if value else None
