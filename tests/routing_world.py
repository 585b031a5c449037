"""A small workspace that exercises every routing rule, and the invariants routing must keep."""

from __future__ import annotations

from collections import Counter

import redis

from routing.config import Workspace, parse_config
from routing.store import Store

SHOP, HELP = "whatsapp:+14155550100", "+15005550006"

def world(bot_url: str = "http://127.0.0.1:9/bot") -> Workspace:
    """The test workspace, with the shop campaign's bot at ``bot_url``."""
    return parse_config(_world(bot_url))


def _world(bot_url: str) -> dict:
    return {
    "campaigns": [
        {"id": "shop", "channel": "whatsapp", "number": "+14155550100",
         "slack_channel": "C0SHOP", "departments": [{"id": "sales"}, {"id": "care"}],
         "default_department": "sales", "bot": {"url": bot_url,
                                                "secret_env": "SHOP_BOT_SECRET"},
         "typifications": [{"name": "Resolved", "subtypes": ["First contact", "Follow-up"]},
                           {"name": "Transfer"}]},
        {"id": "help", "channel": "sms", "number": "+15005550006", "slack_channel": "C0HELP",
         "departments": [{"id": "desk"}], "default_department": "desk"},
        {"id": "lost", "channel": "sms", "number": "+15005550009", "slack_channel": "C0LOST"},
    ],
    "agents": [
        {"id": "ana", "slack_user": "U0ANA", "departments": ["shop/sales", "shop/care"],
         "capacity": 2, "roles": ["agent"]},
        {"id": "bruno", "slack_user": "U0BRUNO", "departments": ["shop/sales"], "capacity": 2},
        {"id": "carla", "slack_user": "U0CARLA", "departments": ["shop/care", "help/desk"],
         "capacity": 1, "roles": ["agent", "supervisor"]},
        {"id": "dora", "slack_user": "U0DORA", "departments": ["help/desk"], "capacity": 3,
         "roles": ["auditor"]},
    ],
}


WORLD = world()


def where(store: Store, vid: str) -> str:
    """The one place a conversation is: 'agent:ana', 'inbox:ana', 'dept:shop/sales', ..."""
    c = dict(store.conversation_hash(vid))
    return {"assigned": f"agent:{c.get('assignee')}", "waiting": f"inbox:{c.get('waiting_for')}",
            "queued": f"dept:{c.get('queue', '').split(':dept:')[-1].removesuffix(':queue')}",
            "bot": "bot", "unassigned": "unassigned", "closed": "closed"}[c["status"]]


def check_invariants(r: redis.Redis, store: Store, ws: Workspace = WORLD,
                     allowance: dict[str, int] | None = None) -> None:
    """What must hold after any sequence of messages, presence changes, closes and owner
    changes: every open conversation is in exactly one place; loads count exactly the assigned
    open conversations; nobody is given work over capacity; nothing waits that someone free
    could take. ``allowance`` is how many open conversations an agent may hold when their
    capacity was lowered below their load (lowering takes nothing away)."""
    k = store.keys
    open_ids = set(r.hvals(k.open))
    queues: Counter[str] = Counter()
    for agent in ws.agents:
        for vid in r.zrange(k.inbox(agent.id), 0, -1):
            queues[vid] += 1
    for campaign in ws.campaigns:
        for vid in r.zrange(k.unassigned(campaign.id), 0, -1):
            queues[vid] += 1
        for dept in campaign.departments:
            for vid in r.zrange(k.dept_queue(campaign.id, dept.id), 0, -1):
                queues[vid] += 1
    loads: Counter[str] = Counter()
    for vid in open_ids:
        c = dict(store.conversation_hash(vid))
        status = c["status"]
        assert status != "closed", f"{vid} is closed but still open for its contact"
        in_queues = queues.pop(vid, 0)
        if status in ("waiting", "queued", "unassigned"):
            assert in_queues == 1, f"{vid} ({status}) is in {in_queues} queues"
        else:
            assert in_queues == 0, f"{vid} ({status}) is also in a queue"
        if status == "assigned":
            assert c["assignee"], f"{vid} assigned to nobody"
            loads[c["assignee"]] += 1
        else:
            assert not c.get("assignee"), f"{vid} ({status}) has assignee {c.get('assignee')}"
    assert not queues, f"closed or unknown conversations left in queues: {dict(queues)}"
    for agent in ws.agents:
        state = dict(store.agent_hash(agent.id))
        load, cap = int(state.get("load", 0)), int(state.get("capacity", 0))
        assert load == loads[agent.id], f"{agent.id}: load {load} but {loads[agent.id]} assigned"
        mine = set(r.smembers(k.agent_open(agent.id)))
        assert len(mine) == load, f"{agent.id}: open set {sorted(mine)} but load {load}"
        limit = max(cap, (allowance or {}).get(agent.id, 0))
        assert load <= limit, f"{agent.id} was given work over capacity ({load}/{cap})"
        free = state.get("presence") == "online" and load < cap
        if free:
            assert r.zcard(k.inbox(agent.id)) == 0, f"{agent.id} is free but their inbox waits"
            for ref in agent.departments:
                campaign, dept = ref.split("/")
                assert r.zcard(k.dept_queue(campaign, dept)) == 0, (
                    f"{agent.id} is free but {ref}'s queue waits")
