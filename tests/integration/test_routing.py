"""The routing policy, rule by rule and in order, against a real Redis."""

from __future__ import annotations

import pytest
import redis

from routing.results import Inbound
from routing.store import Store
from routing.types import InboundMessage
from tests.routing_world import HELP, SHOP, WORLD, check_invariants, where
from tests.snapshot import snapshot

PHONE = "+525512345678"


@pytest.fixture
def store(sync_redis: redis.Redis, namespace: str) -> Store:
    s = Store(sync_redis, namespace)
    s.seed(WORLD)
    for agent in ("ana", "bruno", "carla", "dora"):
        s.set_presence(agent, "online", "test")
    return s


def write(store: Store, phone: str = PHONE, to: str = SHOP, sid: str | None = None,
          now: float | None = None) -> Inbound:
    write.n = getattr(write, "n", 0) + 1
    campaign = WORLD.entry_campaign(to)
    channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    msg = InboundMessage(sid=sid or f"SM{write.n:032d}", channel=channel, phone=phone,
                         customer_addr=prefix + phone, campaign_addr=to, body="hola")
    return (store.inbound(msg, campaign.id, campaign.default_department or "",
                                             campaign.bot is not None, now=now))


def last_route(store: Store, vid: str) -> dict[str, str]:
    events = [dict(f) for _, f in store.events(vid)]
    return [e for e in events if e["type"] in ("assigned", "queued", "bot")][-1]


def test_rule_1_exclusive_agent_wins_over_everything(store: Store) -> None:
    store.set_owner([PHONE], "agent", "bruno", "test")
    store.set_exclusive(PHONE, "shop", "carla", "test")
    r = write(store)
    assert where(store, r.conversation) == "agent:carla"
    route = last_route(store, r.conversation)
    assert route["rule"] == "exclusive" and "exclusive agent carla is online" in route["reason"]


def test_rule_2_owner_agent_before_department_and_bot(store: Store) -> None:
    store.set_owner([PHONE], "agent", "bruno", "test")
    r = write(store)
    assert where(store, r.conversation) == "agent:bruno"
    route = last_route(store, r.conversation)
    assert route["rule"] == "owner_agent"
    assert route["skipped"] == "no exclusive agent in shop"


def test_rule_3_owner_department_bypasses_the_bot(store: Store) -> None:
    store.set_owner([PHONE], "department", "shop/care", "test")
    r = write(store)
    assert where(store, r.conversation) in ("agent:ana", "agent:carla")
    assert last_route(store, r.conversation)["rule"] == "owner_department"


def test_rule_4_bot_when_nobody_owns_the_contact(store: Store) -> None:
    r = write(store)
    assert where(store, r.conversation) == "bot" and r.status == "bot"
    route = last_route(store, r.conversation)
    assert route["skipped"] == "no exclusive agent in shop; contact has no owner"
    assert store.redis.lrange(store.keys.to_bot(r.conversation), 0, -1) == [r.message]
    assert f"bot:{r.conversation}" in r.jobs


def test_rule_5_default_department_when_the_campaign_has_no_bot(store: Store) -> None:
    r = write(store, to=HELP)
    assert where(store, r.conversation) in ("agent:carla", "agent:dora")
    route = last_route(store, r.conversation)
    assert route["rule"] == "default_department" and "help has no bot" in route["skipped"]


def test_rule_6_unassigned_queue_without_default_department(store: Store) -> None:
    r = write(store, to="+15005550009")
    assert where(store, r.conversation) == "unassigned"
    assert "unassigned queue" in last_route(store, r.conversation)["reason"]


def test_owner_who_does_not_serve_the_campaign_is_skipped_with_reason(store: Store) -> None:
    store.set_owner([PHONE], "agent", "dora", "test")  # dora serves help only
    r = write(store)
    assert where(store, r.conversation) == "bot"
    assert "owner dora does not serve shop" in last_route(store, r.conversation)["skipped"]


def test_offline_owner_gets_it_in_their_inbox_then_on_coming_online(store: Store) -> None:
    store.set_presence("bruno", "offline", "test")
    store.set_owner([PHONE], "agent", "bruno", "test")
    r = write(store)
    assert where(store, r.conversation) == "inbox:bruno"  # not given to anyone else
    assert "owner bruno is offline: waiting in their inbox" in last_route(
        store, r.conversation)["reason"]
    changed = store.set_presence("bruno", "online", "bruno")
    assert changed.before == "offline" and changed.assigned == (r.conversation,)
    assert where(store, r.conversation) == "agent:bruno"
    assert "bruno came online: bruno takes it from their inbox" in last_route(
        store, r.conversation)["reason"]
    assert store.redis.zscore(store.keys.pending, f"alert:{r.conversation}") is not None


def test_owner_at_capacity_waits_in_their_inbox_until_a_close(store: Store) -> None:
    store.set_capacity("bruno", 1, "test")
    store.set_owner(["+525500000001", "+525500000002"], "agent", "bruno", "test")
    first = write(store, phone="+525500000001")
    second = write(store, phone="+525500000002")
    assert where(store, second.conversation) == "inbox:bruno"
    assert "is at capacity (1/1)" in last_route(store, second.conversation)["reason"]
    closed = store.close(first.conversation, "bruno", "Resolved")
    assert closed.outcome == "closed" and closed.assigned == (second.conversation,)
    assert where(store, second.conversation) == "agent:bruno"
    check_invariants(store.redis, store)


def test_department_picks_fewest_open_then_idle_longest(store: Store) -> None:
    phones = [f"+5255000000{i:02d}" for i in range(1, 5)]
    store.set_owner(phones, "department", "shop/sales", "test")
    a = write(store, phone=phones[0], now=1000.0)  # ana and bruno equal and never assigned: ana
    b = write(store, phone=phones[1], now=1001.0)  # ana has 1 open: bruno
    assert (where(store, a.conversation), where(store, b.conversation)) == (
        "agent:ana", "agent:bruno")
    store.close(a.conversation, "test", "Resolved", now=1001.5)
    c = write(store, phone=phones[2], now=1002.0)  # fewest open: ana (0) over bruno (1)
    assert where(store, c.conversation) == "agent:ana"
    d = write(store, phone=phones[3], now=1003.0)  # 1 each: bruno, idle since 1001 (ana 1002)
    assert where(store, d.conversation) == "agent:bruno"
    check_invariants(store.redis, store)


def test_department_queue_drains_oldest_first_escalated_first(store: Store) -> None:
    for agent in ("ana", "bruno"):
        store.set_presence(agent, "offline", "test")
    phones = [f"+5255000001{i:02d}" for i in range(4)]
    store.set_owner(phones, "department", "shop/sales", "test")
    vids = [write(store, phone=p, now=1000.0 + i).conversation for i, p in enumerate(phones)]
    assert all(where(store, v) == "dept:shop/sales" for v in vids)
    store.redis.hset(store.keys.conv(vids[3]), "priority", "escalated")  # re-score as escalated
    store.redis.zadd(store.keys.dept_queue("shop", "sales"), {vids[3]: 1003.0 - 1e12})
    got = store.set_presence("bruno", "online", "bruno").assigned  # capacity 2
    assert got == (vids[3], vids[0])
    got = store.set_presence("ana", "online", "ana").assigned  # capacity 2
    assert got == (vids[1], vids[2])
    check_invariants(store.redis, store)


def test_raising_capacity_takes_waiting_work(store: Store) -> None:
    store.set_capacity("dora", 0, "test")
    store.set_capacity("carla", 0, "test")
    r = write(store, to=HELP)
    assert where(store, r.conversation) == "dept:help/desk"
    assert store.set_capacity("dora", 1, "test").assigned == (r.conversation,)


def test_dry_run_matches_routing_and_changes_nothing(store: Store) -> None:
    store.set_presence("bruno", "away", "test")
    store.set_owner([PHONE], "agent", "bruno", "test")
    keys_before = snapshot(store.redis, store.keys.prefix)
    d = store.dry_run(PHONE, "shop", "sales", True)
    rule, action, target, reason = d.rule, d.action, d.target, d.reason
    assert snapshot(store.redis, store.keys.prefix) == \
        keys_before
    assert (rule, action, target) == ("owner_agent", "inbox", "bruno")
    assert "bruno is away" in reason
    r = write(store)
    assert where(store, r.conversation) == "inbox:bruno"
    assert last_route(store, r.conversation)["reason"] == reason


def test_two_messages_together_open_one_conversation(store: Store) -> None:
    a, b = write(store), write(store)
    assert a.conversation == b.conversation and a.opened and not b.opened
    assert int(store.redis.hget(store.keys.seq, "conv")) == 1


def test_same_webhook_twice_routes_once(store: Store) -> None:
    store.set_owner([PHONE], "agent", "ana", "test")
    first = write(store, sid="SM" + "7" * 32)
    again = write(store, sid="SM" + "7" * 32)
    assert again.outcome == "duplicate" and again.jobs == ()
    assert int(store.redis.hget(store.keys.agent("ana"), "load")) == 1
    events = [f["type"] for _, f in store.events(first.conversation)]
    assert events.count("assigned") == 1
