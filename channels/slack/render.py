"""What the agent sees in Slack: the conversation card, customer replies, status marks.

Pure functions from domain objects to Slack payloads, so they are tested without Slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from channels.slack.escape import escape
from channels.slack.modals import action_buttons
from routing.types import ESCALATIONS, STATUS_LABELS, Conversation, Media

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


#: Slack's limits on one message (chat.postMessage, Block Kit).
MAX_TEXT = 40_000  # characters of ``text``
MAX_BLOCKS = 50
MAX_SECTION = 3_000  # characters of a section's text


def chunks(text: str, size: int = MAX_SECTION) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at a line break or a space when
    there is one near the end, and never inside an escape (``&amp;``) or a link (``<...>``)."""
    out = []
    while len(text) > size:
        cut = size
        head = text[:cut]
        amp, link = head.rfind("&"), head.rfind("<")
        if amp > head.rfind(";"):
            cut = amp
        if link > head.rfind(">"):
            cut = min(cut, link)
        space = max(head.rfind("\n", 0, cut), head.rfind(" ", 0, cut))
        if space > cut - 200:
            cut = space + 1
        if cut <= 0:  # one unbreakable run: cut it anyway
            cut = size
        out.append(text[:cut])
        text = text[cut:]
    return [*out, text] if text or not out else out


def _sections(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
            for part in chunks(text)]


def customer_text(body: str, media: tuple[Media, ...]) -> str:
    """A customer message as escaped mrkdwn; media become links the agent can open."""
    lines = [escape(body)] if body else []
    lines += [f"<{m.url}|{escape(m.content_type)} attachment>" for m in media]
    return "\n".join(lines) or "(empty message)"


def customer_reply(body: str, media: tuple[Media, ...]) -> dict[str, Any]:
    """A customer message as a thread reply (long ones over several blocks)."""
    return customer_replies([(body, media)])


def customer_replies(messages: list[tuple[str, tuple[Media, ...]]]) -> dict[str, Any]:
    """Several customer messages in one thread reply, each in its own blocks, within Slack's
    limits (what does not fit is said, not dropped silently; callers batch so it fits)."""
    blocks: list[dict[str, Any]] = []
    texts = []
    for body, media in messages:
        text = customer_text(body, media)
        texts.append(text)
        blocks += _sections(text)
    if len(blocks) > MAX_BLOCKS:
        shown = blocks[:MAX_BLOCKS - 1]
        hidden = sum(len(b["text"]["text"]) for b in blocks[MAX_BLOCKS - 1:])
        blocks = [*shown, {"type": "section", "text": {
            "type": "mrkdwn", "text": f"_… {hidden} more characters not shown (too long for "
                                      "Slack)_"}}]
    text = "\n".join(texts)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1] + "…"
    return {
        "text": text,
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": any(media for _, media in messages),
    }


def customer_choice(kind: str, title: str, choice_id: str) -> dict[str, Any]:
    """A8: the customer chose a quick reply or a list item of interactive content."""
    what = "a list item" if kind == "list" else "a quick reply"
    text = (f":radio_button: The customer chose {what}: *{escape(title) or '(no title)'}*"
            + (f" (`{escape(choice_id)}`)" if choice_id else ""))
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            "unfurl_links": False}


def blocks_needed(body: str, media: tuple[Media, ...]) -> tuple[int, int]:
    """(blocks, characters) one customer message takes in a reply."""
    text = customer_text(body, media)
    return len(chunks(text)), len(text)


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
    return {"text": text[:MAX_TEXT], "blocks": _sections(text)[:MAX_BLOCKS]}


def active_message(author: str, template: str, body: str) -> dict[str, Any]:
    """An active message (approved template) sent to the customer, shown in the thread; its
    delivery status is a reaction on it, like an agent's reply."""
    text = (f":outbox_tray: *{escape(author)}* sent the template `{escape(template)}`: "
            f"{escape(body)}")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def auto_reply(body: str) -> dict[str, Any]:
    """The campaign's automatic answer to HELP."""
    text = f":information_source: *Automatic answer to HELP:* {escape(body)}"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def bulk_progress(report: dict[str, Any]) -> str:
    """A bulk's progress, in its requester's DM (updated as it goes)."""
    c = report["counts"]
    total = report["total"] or 1
    done = total - c["queued"]
    filled = int(20 * done / total)
    bar = "█" * filled + "░" * (20 - filled)
    state = {"running": "sending", "done": "finished", "cancelled": "cancelled"}.get(
        report.get("status") or "", report.get("status") or "")
    skipped = ", ".join(f"{n} {escape(why)}" for why, n in report["skipped_reasons"].items())
    return (f":mega: Bulk {report['id']} · template `{escape(report['template'] or '')}` · "
            f"{state}\n`{bar}` {done}/{report['total']}\n"
            f"sent {c['sent']} · delivered {c['delivered']} · read {c['read']} · "
            f"failed {c['failed']} · skipped {c['skipped']}"
            + (f" ({skipped})" if skipped else "")
            + (f" · cancelled {c['cancelled']}" if c["cancelled"] else "")
            + f" · queued {c['queued']}")


def assignment_alert(conv_label: str, campaign_name: str, permalink_hint: str) -> str:
    return (f":bell: New conversation for you: *{escape(conv_label)}* in {escape(campaign_name)}. "
            f"{permalink_hint}")


def failure_notice(agent_slack_user: str, reason: str) -> str:
    return f"<@{agent_slack_user}> :x: your message was not delivered: {escape(reason)}."


REFUSALS = {
    "not_assignee": "This conversation is assigned to {detail}; your reply was not sent to "
                    "the customer. Ask them or a supervisor to reassign it to you.",
    "not_an_agent": "You are not a Relay Desk agent, so your reply was not sent to the customer.",
    "closed": "This conversation is closed; your reply was not sent.",
    "attachments_refused": "Your message was not sent: {detail}.",
    "note_refused": "Your note was not saved: {detail}.",
    "cannot_claim": "Your reply was not sent to the customer: {detail}.",
    "window_closed": "More than 24 hours have passed since the customer's last WhatsApp "
                     "message, so a free-form reply cannot be sent. Send an approved template "
                     "(active message) to reopen the conversation.",
    "opted_out": "The customer opted out (replied STOP) of messages from this number; your "
                 "reply was not sent. They must send START before anyone can write to them.",
}

SEND_TEMPLATE = "Send a template"
NO_TEMPLATES = ("{campaign} has no approved templates yet: an admin declares them in the "
                "config (campaigns[].templates).")


def refusal_extras(outcome: str, vid: str, text: str) -> dict[str, Any]:
    """What a refusal shows besides its text: outside the WhatsApp window, the way out (a
    button opening the template modal)."""
    if outcome != "window_closed" or not vid:
        return {}
    return {"blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "rd_window", "elements": [
            {"type": "button", "action_id": "rd_template", "value": vid, "style": "primary",
             "text": {"type": "plain_text", "text": SEND_TEMPLATE}}]}]}


def refusal(outcome: str, detail: str = "") -> str | None:
    if outcome == "unknown_canned":
        key, _, known = detail.partition("|")
        return f"There is no canned response {key} in this campaign (available: {known})."
    template = REFUSALS.get(outcome)
    return template.format(detail=detail or "nobody") if template else None


def refused(error: Exception) -> str:
    """A use case refused: what is missing, as the person who asked reads it."""
    return f"Not allowed: {getattr(error, 'reason', str(error))}."


def field_error(error: Exception) -> str:
    """A refusal shown under a modal's input: a sentence."""
    reason = getattr(error, "reason", str(error))
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def owner_label(owner_type: str, owner_id: str, name_of: Callable[[str], str]) -> str:
    if owner_type == "agent":
        return name_of(owner_id)
    return f"department {owner_id}" if owner_type == "department" else "unassigned"


# -- what people did, shown in the conversation's thread (events the scripts queued) ----------

def notice(event: dict[str, str], name_of: Callable[[str], str],
           campaign_label: Callable[[str], str]) -> str:
    """A line in the thread for an event of the conversation (see ``notice()`` in lib.lua)."""
    kind, who = event.get("type", ""), escape(name_of(event.get("actor", "")))
    note = event.get("note", "")
    if kind == "reassigned":
        old = event.get("from", "")
        return (f":arrows_counterclockwise: {who} assigned this conversation to "
                f"{escape(name_of(event.get('to', '')))}"
                + (f" (was {escape(name_of(old))})" if old else "")
                + (f": {escape(note)}" if note else "."))
    if kind == "transferred":
        to = event.get("to", "")
        where = (f"campaign {campaign_label(to.split(':', 1)[1])}" if to.startswith("campaign:")
                 else name_of(to))
        return (f":arrow_right: {who} transferred this conversation to {escape(where)}: "
                f"{escape(note)}")
    if kind == "escalated":
        label = ESCALATIONS.get(event.get("escalation", ""), event.get("escalation", ""))
        return (f":rotating_light: {who} escalated this conversation ({escape(label)})"
                + (f": {escape(note)}" if note else "."))
    if kind == "closed":
        label = " › ".join(x for x in (event.get("typification", ""),
                                       event.get("subtypification", "")) if x)
        return (f":white_check_mark: {who} closed this conversation: "
                f"{escape(label or 'no typification')}" + (f". {escape(note)}" if note else "."))
    if kind == "opted_out":
        what = ("no message can be sent to them on this number" if event.get("channel") == "sms"
                else "no more active messages (templates) will be sent to them")
        return (f":no_entry_sign: The customer sent {escape(event.get('keyword', 'STOP'))}: "
                f"they opted out, so {what} until they send START.")
    if kind == "opted_in":
        return ":white_check_mark: The customer sent START: they opted back in."
    if kind == "owner_set":
        def label(value: str) -> str:
            otype, _, oid = value.partition(":")
            return owner_label(otype, oid, name_of)
        return (f":bust_in_silhouette: {who} set the contact's owner to "
                f"{escape(label(event.get('to', '')))} (was {escape(label(event.get('from', '')))})"
                ". This conversation stays where it is; the owner takes the next ones.")
    if kind == "exclusive_set":
        where = escape(campaign_label(event.get("campaign", "")))
        new, old = event.get("to", ""), event.get("from", "")
        change = (f"made {escape(name_of(new))} the contact's exclusive agent in {where}" if new
                  else f"removed the contact's exclusive agent in {where}")
        return (f":lock: {who} {change}" + (f" (was {escape(name_of(old))})" if old else "")
                + ". This conversation stays where it is.")
    if kind == "claimed":
        return f":raising_hand: {who} took this conversation by replying."
    if kind == "contact_edited":
        fields = ", ".join(event.get("fields", "").split(",")) or "nothing"
        return f":pencil2: {who} edited the contact ({fields})."
    return f"{who}: {escape(kind)}"


# -- direct messages and the supervisors' channel ---------------------------------------------

def _in(channel: str) -> str:
    return f" in <#{channel}>" if channel else ""


def away_alert(who: str, channel: str, excerpt: str) -> str:
    """A16: the assignee is away and their customer wrote."""
    return (f":speech_balloon: {escape(who)} wrote while you are away{_in(channel)}: "
            f"{escape(excerpt)}")


def reminder(minutes: int, vid: str, channel: str) -> str:
    """A7: a customer has waited past the campaign's reminder time."""
    return (f":alarm_clock: A customer has waited {minutes} min for an answer in conversation "
            f"{vid}{_in(channel)}.")


def escalation_post(kind: str, vid: str, who: str, channel: str, assignee: str) -> str:
    """S6: an escalation, announced in the supervisors' channel."""
    return (f":rotating_light: Escalation ({kind}): conversation {vid} with {escape(who)}"
            f"{_in(channel)}, assigned to {escape(assignee) or 'nobody'}.")


#: What a permanent Slack error means, in words (the rest are shown as Slack names them).
SLACK_ERRORS = {
    "invalid_blocks": "Slack refused its layout (too long or malformed)",
    "msg_too_long": "it is longer than Slack allows",
    "channel_not_found": "the channel does not exist or the app cannot see it",
    "not_in_channel": "the app is not a member of the channel (invite it)",
    "is_archived": "the channel is archived",
}


def slack_problem(error: str, vid: str, what: str, channel: str, assignee: str) -> str:
    """Slack refused something of a conversation for good: supervisors are told what."""
    why = SLACK_ERRORS.get(error, f"Slack answered `{error}`")
    who = f" (assigned to {escape(assignee)})" if assignee else ""
    return (f":warning: Conversation {vid}{who}: {what} could not be shown{_in(channel)}: "
            f"{why}. It is kept in Relay Desk (events of {vid}); later messages go on.")


# -- /relaydesk ---------------------------------------------------------------------------------

USAGE = ("Usage: `/relaydesk online`, `/relaydesk away`, `/relaydesk offline`, "
         "`/relaydesk status`, `/relaydesk mine` (your conversations), `/relaydesk gallery` "
         "(the resources you can send with `;key`) or `/relaydesk send +E164 template` (an "
         "active message); owner assigners also `/relaydesk owner …` and "
         "`/relaydesk exclusive …`.")
OWNERSHIP_USAGE = ("Usage: `/relaydesk owner <phone|contact> <agent|campaign/department|none>` "
                   "or `/relaydesk exclusive <phone|contact> <campaign> <agent|none>`.")
SEND_USAGE = ("Usage: `/relaydesk send +E164 template [value 1 | value 2 ...]` (use "
              "`campaign:template` when several of your campaigns have it).")


def send_which(name: str, candidates: list[str]) -> str:
    if not candidates:
        return f"None of your campaigns has a template {escape(name)}."
    return f"Several campaigns have {escape(name)}: say which ({', '.join(candidates)})."


def active_sent(template: str, vid: str, channel: str, opened: bool) -> str:
    what = "opened" if opened else "resumed"
    return (f":outbox_tray: Template `{escape(template)}` queued; conversation {vid} {what} and "
            f"assigned to you in <#{channel}>.")


NOT_AN_AGENT = ("You are not a Relay Desk agent; ask an admin to add your Slack user to the "
                "config.")


def presence_set(presence: str, taken: int) -> str:
    more = f" {taken} waiting conversation(s) are now yours." if taken else ""
    return f"You are now *{presence}*.{more}"


def agent_status(presence: str, load: str, capacity: str, inbox: int) -> str:
    return (f"You are *{presence}* with {load}/{capacity} open conversations and {inbox} "
            "waiting in your inbox.")


def mine(rows: list[tuple[str, str, str, bool]]) -> str:
    """A1: (conversation, contact, channel id or campaign, escalated) of the agent's open ones."""
    if not rows:
        return "You have no open conversations."
    lines = [f"• {vid} · {escape(contact)} · {where}" + (" · :rotating_light:" if hot else "")
             for vid, contact, where, hot in rows]
    return f"Your {len(rows)} open conversation(s):\n" + "\n".join(lines)


def gallery(campaigns: list[tuple[str, dict[str, str], list[tuple[str, str, str]]]]) -> str:
    """A6: per campaign, its canned responses and gallery resources, sendable with ``;key``."""
    lines = []
    for label, canned, resources in campaigns:
        items = [f"`;{k}` {escape(v[:60])}" for k, v in sorted(canned.items())]
        items += [f"`;{key}` {kind}: {escape(title)}" for key, kind, title in resources]
        if items:
            lines.append(f"*{escape(label)}*\n" + "\n".join(items))
    return "\n".join(lines) or "Your campaigns have no resources yet."


def not_done(error: Exception) -> str:
    """A use case could not be done (not a permission): what is wrong."""
    return f"Not done: {getattr(error, 'reason', str(error))}."


def change_line(what: str, old: str, new: str) -> str:
    """One line of a confirmation: ``*owner:* Ana → department care/front``."""
    return f"*{escape(what)}:* {escape(old) or '—'} → {escape(new) or '—'}"


def stays(where: str) -> str:
    """Owner and exclusive-agent changes route next conversations; the open one stays."""
    return (f"This conversation stays where it is ({escape(where)}); the change routes the "
            "contact's next conversations.")


def where_now(status: str, who: str) -> str:
    if status == "assigned":
        return f"assigned to {who}"
    if status == "waiting":
        return f"waiting for {who}"
    return {"queued": "waiting in a department queue", "bot": "with the bot",
            "unassigned": "unassigned"}.get(status, status)


def ownership_confirm(what: str, opened: list[tuple[str, str]], command: str) -> str:
    """O2/A14: a change for a contact with open conversations is confirmed first."""
    convs = ", ".join(f"{vid} ({escape(where)})" for vid, where in opened)
    return (f"{escape(what)}? The contact has {len(opened)} open conversation(s): {convs}. "
            "They stay where they are; the change routes the contact's next conversations. "
            f"To go ahead: `{command}`")


def owner_set(contact: str, label: str) -> str:
    return (f"Owner of {escape(contact)} is now {escape(label)}. Their next conversations "
            "are routed by it.")


def exclusive_set(contact: str, campaign: str, agent: str) -> str:
    if agent:
        return f"{escape(agent)} is now the exclusive agent of {escape(contact)} in {campaign}."
    return f"{escape(contact)} has no exclusive agent in {campaign} now."
