"""The account's Content API templates (what ``python -m gateway templates sync`` lists)."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.rest import Client


@dataclass(frozen=True)
class ContentTemplate:
    sid: str
    name: str
    language: str
    types: tuple[str, ...]  # twilio/text, twilio/quick-reply, twilio/list-picker, ...
    variables: dict[str, str]
    whatsapp: str  # WhatsApp approval: approved, pending, rejected, ... or "" (not submitted)


def list_templates(client: Client) -> list[ContentTemplate]:
    out = []
    for item in client.content.v1.content_and_approvals.list():
        approval = item.approval_requests or {}
        out.append(ContentTemplate(
            sid=item.sid or "", name=item.friendly_name or "", language=item.language or "",
            types=tuple(item.types or {}), variables=dict(item.variables or {}),
            whatsapp=str(approval.get("status") or "")))
    return out


def compare(config: list[tuple[str, str, str, int]], account: list[ContentTemplate]
            ) -> list[tuple[str, str]]:
    """(campaign/template, problem or "ok") for each configured WhatsApp template
    ``(campaign, name, content_sid, number of variables)``."""
    by_sid = {t.sid: t for t in account}
    rows = []
    for campaign, name, sid, nvars in config:
        found = by_sid.get(sid)
        if found is None:
            problem = f"{sid} is not a Content API template of this account"
        elif found.whatsapp != "approved":
            status = found.whatsapp or "not submitted"
            problem = f"{sid} ({found.name}) is not approved for WhatsApp ({status})"
        elif len(found.variables) != nvars:
            problem = (f"{sid} ({found.name}) has {len(found.variables)} variable(s), the "
                       f"config declares {nvars}")
        else:
            problem = "ok"
        rows.append((f"{campaign}/{name}", problem))
    return rows
