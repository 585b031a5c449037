"""What the agent sees in Slack: the conversation card, customer replies, status marks.

Pure functions from domain objects to Slack payloads, so they are tested without Slack.
"""

from __future__ import annotations

import time
from typing import Any

from channels.slack.escape import escape
from channels.slack.modals import action_buttons
from routing.types import STATUS_LABELS, Conversation, Media

#: The reaction shown on an agent's message for each status label.
STATUS_EMOJI = {
    "pending": "hourglass_flowing_sand",
    "sent": "heavy_check_mark",
    "delivered": "ballot_box_with_check",
    "read": "eyes",
    "failed": "x",
}

CHANNEL_NAMES = {"whatsapp": "WhatsApp", "sms": "SMS"}
HINT = "Reply in this thread to answer the customer."


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, "pending")


def _when(stamp: float | None) -> str:
    if not stamp:
        return "—"
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    return f"<!date^{int(stamp)}^{{date_short_pretty}} {{time}}|{fallback}>"


def contact_label(name: str, phone: str) -> str:
    return escape(name) if name else phone


def card(conv: Conversation, contact_name: str, phone: str, campaign_name: str,
         assignee_name: str, waiting_name: str = "", owner: str = "unassigned"
         ) -> dict[str, Any]:
    """The parent message of a conversation's thread (text + blocks)."""
    who = contact_label(contact_name, phone)
    status = {"bot": "bot is answering", "waiting": f"waiting for {waiting_name or 'its agent'}",
              "queued": "waiting in queue"}.get(conv.status, conv.status.replace("_", " "))
    assignee = assignee_name or {"bot": ":robot_face: bot", "queued": "waiting in queue"}.get(
        conv.status, "unassigned")
    fields = [
        ("Contact", f"{who}\n{phone}" if contact_name else who),
        ("Channel", CHANNEL_NAMES.get(conv.channel, conv.channel)),
        ("Campaign", escape(campaign_name)),
        ("Status", status),
        ("Assignee", escape(assignee)),
        ("Department", conv.department or "—"),
        ("Owner", escape(owner)),
        ("Priority", conv.extra.get("escalation") or conv.extra.get("priority") or "normal"),
        ("Assigned", _when(conv.assigned_at)),
        ("Opened", _when(conv.opened_at)),
    ]
    text = f"{who} · {CHANNEL_NAMES.get(conv.channel, conv.channel)} · {status} · {assignee}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"Conversation {conv.id}"}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            },
            *([] if conv.status == "closed" else [action_buttons(conv.id)]),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": HINT}],
            },
        ],
    }


def customer_reply(body: str, media: tuple[Media, ...]) -> dict[str, Any]:
    """A customer message as a thread reply; media become links the agent can open."""
    lines = [escape(body)] if body else []
    lines += [f"<{m.url}|{escape(m.content_type)} attachment>" for m in media]
    text = "\n".join(lines) or "(empty message)"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "unfurl_links": False,
        "unfurl_media": bool(media),
    }


def history_lines(messages: list[tuple[str, str]]) -> str:
    """(who, text) pairs as thread text, customer text escaped like everywhere else."""
    return "\n".join(f"• *{escape(who)}:* {escape(text) or '(media)'}" for who, text in messages)


def transfer_context(previous_campaign: str, owner: str, messages: list[tuple[str, str]]
                     ) -> str:
    """O6: whoever receives a transferred conversation sees its owner and recent history."""
    return (f":arrow_right: Transferred from {escape(previous_campaign)}. Contact owner: "
            f"{escape(owner)}.\n*Recent messages*\n" + (history_lines(messages) or "none"))


def earlier_history(hours: int, messages: list[tuple[str, str]]) -> str:
    """A2: the contact's messages of the campaign's history window, before this thread."""
    return f":clock3: *Earlier history (last {hours} h)*\n" + history_lines(messages)


def bot_reply(body: str) -> dict[str, Any]:
    """The bot's answer, shown in the thread so agents see the whole conversation."""
    text = f":robot_face: *Bot:* {escape(body)}"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def assignment_alert(conv_label: str, campaign_name: str, permalink_hint: str) -> str:
    return (f":bell: New conversation for you: *{escape(conv_label)}* in {escape(campaign_name)}. "
            f"{permalink_hint}")


def failure_notice(agent_slack_user: str, reason: str) -> str:
    return f"<@{agent_slack_user}> :x: your message was not delivered: {escape(reason)}."


REFUSALS = {
    "not_assignee": "This conversation is assigned to {assignee}; your reply was not sent to "
                    "the customer. Ask them or a supervisor to reassign it to you.",
    "not_an_agent": "You are not a Relay Desk agent, so your reply was not sent to the customer.",
    "closed": "This conversation is closed; your reply was not sent.",
    "attachments_refused": "{assignee} does not allow sending files to customers; your "
                           "message was not sent.",
    "window_closed": "More than 24 hours have passed since the customer's last WhatsApp "
                     "message, so a free-form reply cannot be sent. Send an approved template "
                     "(active message) to reopen the conversation.",
}


def refusal(outcome: str, detail: str = "") -> str | None:
    if outcome == "unknown_canned":
        key, _, known = detail.partition("|")
        return f"There is no canned response {key} in this campaign (available: {known})."
    template = REFUSALS.get(outcome)
    return template.format(assignee=detail or "nobody") if template else None
