"""Bulk active messages (section 6): one template to many recipients, paced per sender, with
progress and a per-recipient result; marketing and admins."""

from __future__ import annotations

import json
from typing import Any

from routing.actions.active import campaign_named, content, template_named
from routing.actions.context import Ctx, allow
from routing.config import e164
from routing.errors import Invalid, NotFound, Unprocessable
from routing.permissions import Principal, may_send_bulk
from routing.results import BulkChanged
from routing.types import STATUS_LABELS

CHUNK_SECONDS = 5  # a chunk is about this many seconds of sending at the sender's rate


async def create_bulk(ctx: Ctx, who: Principal, campaign_id: str, template: str,
                      recipients: list[tuple[str, Any]], department: str = "",
                      idem: str = "") -> BulkChanged:
    """Validate every recipient (all or nothing: a bad row names its index), then store the
    bulk; workers send it in chunks."""
    allow(may_send_bulk(who, ctx.workspace))
    campaign = campaign_named(ctx, campaign_id)
    tpl = template_named(campaign, template)
    if tpl.session_only:
        raise Unprocessable(f"{tpl.name} may only be sent inside an open conversation",
                            "template")
    dept = ""
    if department:
        found = campaign.department(department)
        if found is None:
            raise NotFound(f"no department {department!r} in {campaign.id}", "department")
        dept = found.id
    rows, problems = [], []
    for i, (to, variables) in enumerate(recipients):
        try:
            phone = e164(to)
            values = tpl.values(variables or {})
        except ValueError as exc:
            problems.append(f"recipients[{i}]: {exc}")
            continue
        text, _, cvars = content(campaign, tpl, values)
        rows.append((phone, json.dumps({"to": phone, "text": text, "vars": cvars},
                                       ensure_ascii=False)))
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise Invalid("; ".join(problems[:10]) + more, "recipients")
    agent = ctx.workspace.agent(who.agent) if who.kind == "agent" else None
    meta = {"campaign": campaign.id, "campaign_addr": campaign.address,
            "channel": campaign.channel, "template": tpl.name,
            "content_sid": tpl.content_sid or "" if campaign.channel == "whatsapp" else "",
            "department": dept, "requester": who.actor,
            "requester_slack": agent.slack_user if agent else ""}
    return await ctx.store.bulk_create(meta, rows, max(1, int(campaign.rate * CHUNK_SECONDS)),
                                       f"{who.actor}:bulk:{idem}" if idem else "")


async def _bulk(ctx: Ctx, who: Principal, campaign_id: str, bid: str) -> dict[str, str]:
    allow(may_send_bulk(who, ctx.workspace))
    meta = await ctx.store.bulk_meta(bid)
    if not meta or meta.get("campaign") != campaign_id:
        raise NotFound(f"no bulk {bid!r} in campaign {campaign_id!r}")
    return meta


async def cancel_bulk(ctx: Ctx, who: Principal, campaign_id: str, bid: str) -> BulkChanged:
    await _bulk(ctx, who, campaign_id, bid)
    return await ctx.store.bulk_cancel(bid, who.actor)


def summarize(meta: dict[str, str], states: dict[str, str], why: dict[str, str],
              mids: dict[str, str], statuses: dict[str, str], inputs: dict[str, str] | None
              ) -> dict[str, Any]:
    """Progress counts and, with ``inputs``, each recipient's result. A sent recipient counts
    under its delivery status (sent, delivered, read, failed)."""
    counts = dict.fromkeys(("queued", "sent", "delivered", "read", "failed", "skipped",
                            "cancelled"), 0)
    skipped_why: dict[str, int] = {}
    results = []
    for idx in sorted(states, key=int):
        state = states[idx]
        status = statuses.get(mids.get(idx, ""), "")
        if state in ("queued", "sending"):
            result = "queued"
        elif state == "sent":
            label = STATUS_LABELS.get(status, "sent")
            result = "sent" if label == "pending" else label
        else:
            result = state
        counts[result] += 1
        if result == "skipped":
            skipped_why[why.get(idx, "")] = skipped_why.get(why.get(idx, ""), 0) + 1
        if inputs is not None:
            row = json.loads(inputs.get(idx, "{}"))
            results.append({"index": int(idx), "to": row.get("to", ""), "result": result,
                            "reason": why.get(idx) or None, "message": mids.get(idx) or None})
    report: dict[str, Any] = {
        "id": meta.get("id"), "campaign": meta.get("campaign"),
        "template": meta.get("template"), "status": meta.get("status"),
        "total": int(meta.get("total", 0)), "department": meta.get("department") or None,
        "requested_by": meta.get("requester"), "counts": counts,
        "skipped_reasons": skipped_why}
    if inputs is not None:
        report["results"] = results
    return report


async def bulk_report(ctx: Ctx, who: Principal, campaign_id: str, bid: str,
                      results: bool = True) -> dict[str, Any]:
    meta = await _bulk(ctx, who, campaign_id, bid)
    states, why, mids, inputs = await ctx.store.bulk_rows(bid, with_inputs=results)
    statuses = await ctx.store.message_statuses(list(mids.values()))
    return summarize(meta, states, why, mids, statuses, inputs if results else None)
