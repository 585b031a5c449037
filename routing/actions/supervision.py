"""The supervisors' view (issue 12): each department's queue, the agents, unassigned and
escalated conversations, read in three round trips whatever the traffic.

``board`` checks the role; ``read_board`` is the read itself, also used by the worker that
republishes supervisors' App Homes when the board changed. The board holds start times, not
durations, so it only changes when something happens (what the republisher compares).
"""

from __future__ import annotations

from typing import Any

from routing.actions.context import Ctx, allow
from routing.permissions import Principal, roles

SUPERVISING = frozenset({"admin", "supervisor"})
LISTED = 3  # waiting conversations listed per department and unassigned per campaign
ESCALATIONS = 5  # escalated open conversations listed
ESCALATED = 1e12  # policy.lua: an escalated conversation scores this much lower in a queue
CONV_FIELDS = ["id", "contact", "campaign", "channel", "status", "assignee", "department",
               "priority", "escalation", "slack_channel", "slack_ts", "opened_at"]


def supervises(ctx: Ctx, who: Principal) -> bool:
    return bool(roles(who, ctx.workspace) & SUPERVISING)


async def board(ctx: Ctx, who: Principal) -> dict[str, Any]:
    """What a supervisor or an admin sees above their App Home."""
    allow(None if supervises(ctx, who) else
          "the supervisors' view is for agents with the supervisor or admin role")
    return await read_board(ctx)


async def read_board(ctx: Ctx) -> dict[str, Any]:
    ws, k = ctx.workspace, ctx.store.keys
    depts = [(c.id, d.id) for c in ws.campaigns for d in c.departments]
    pipe = ctx.store.redis.pipeline(transaction=False)
    for campaign, dept in depts:
        queue = k.dept_queue(campaign, dept)
        pipe.zcard(queue)
        pipe.zcount(queue, "-inf", "(0")
        pipe.zrange(queue, 0, LISTED - 1, withscores=True)
    for c in ws.campaigns:
        pipe.zcard(k.unassigned(c.id))
        pipe.zrange(k.unassigned(c.id), 0, LISTED - 1, withscores=True)
    for a in ws.agents:
        pipe.hmget(k.agent(a.id), "presence", "load", "capacity")
        pipe.smembers(k.agent_open(a.id))
    replies = iter(await pipe.execute())

    queues, unassigned, agents, wanted = [], [], [], set()
    for campaign, dept in depts:
        size, escalated, first = next(replies), next(replies), next(replies)
        waiting = [{"id": vid, "since": score + ESCALATED if score < 0 else score,
                    "escalated": score < 0} for vid, score in first]
        wanted.update(w["id"] for w in waiting)
        queues.append({"department": f"{campaign}/{dept}", "waiting": size,
                       "escalated": escalated, "first": waiting,
                       "oldest": min((w["since"] for w in waiting), default=None)})
    for c in ws.campaigns:
        size, first = next(replies), next(replies)
        listed = [{"id": vid, "since": score} for vid, score in first]
        wanted.update(x["id"] for x in listed)
        unassigned.append({"campaign": c.id, "waiting": size, "first": listed})
    open_convs: set[str] = set()
    for a in ws.agents:
        (presence, load, capacity), assigned = next(replies), next(replies)
        open_convs.update(assigned)
        agents.append({"id": a.id, "presence": presence or "offline", "load": int(load or 0),
                       "capacity": int(capacity or 0)})

    ids = sorted(wanted | open_convs)
    convs = dict(zip(ids, await ctx.store.hashes([k.conv(v) for v in ids], CONV_FIELDS),
                     strict=True))
    escalated = sorted((c for c in convs.values() if c.get("priority") == "escalated"
                        and c.get("status") != "closed"),
                       key=lambda c: -float(c.get("opened_at") or 0))[:ESCALATIONS]
    shown = {c["id"] for c in escalated} | wanted
    contacts = sorted({convs[v]["contact"] for v in shown if convs.get(v, {}).get("contact")})
    names = dict(zip(contacts, await ctx.store.hashes([k.contact(c) for c in contacts],
                                                      ["name", "phone"]), strict=True))

    def conversation(vid: str, **extra: Any) -> dict[str, Any]:
        conv = convs.get(vid) or {}
        contact = names.get(conv.get("contact", ""), {})
        return {"id": vid, "contact": contact.get("name") or contact.get("phone") or "",
                "channel": conv.get("channel", ""), "campaign": conv.get("campaign", ""),
                "status": conv.get("status", ""), "assignee": conv.get("assignee", ""),
                "escalation": conv.get("escalation", ""),
                "thread": (conv.get("slack_channel", ""), conv.get("slack_ts", "")), **extra}

    for q in queues:
        q["first"] = [conversation(w["id"], since=w["since"], escalated=w["escalated"])
                      for w in q["first"]]
    for u in unassigned:
        u["first"] = [conversation(x["id"], since=x["since"]) for x in u["first"]]
    return {"queues": queues, "agents": agents, "unassigned": unassigned,
            "escalated": [conversation(c["id"], since=float(c.get("opened_at") or 0))
                          for c in escalated]}
