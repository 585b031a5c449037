"""The Lua scripts against a real Redis: dedupe, conversations, routing, status order."""

from __future__ import annotations

import pytest
import redis

from routing.config import Workspace, load_config
from routing.results import Inbound, Replied
from routing.store import Store
from routing.types import AgentReply, InboundMessage
from tests.conftest import EXAMPLE_CONFIG
from tests.snapshot import snapshot

WA = "whatsapp:+14155238886"


def inbound(sid: str, phone: str = "+5215512345678", body: str = "hola", to: str = WA,
            name: str = "") -> InboundMessage:
    return InboundMessage(sid=sid, channel="whatsapp", phone=phone,
                          customer_addr=f"whatsapp:{phone}", campaign_addr=to, body=body,
                          profile_name=name)


@pytest.fixture
def store(sync_redis: redis.Redis, namespace: str, workspace: Workspace) -> Store:
    s = Store(sync_redis, namespace)
    s.seed(workspace)
    return s


def receive(store: Store, msg: InboundMessage, now: float | None = None) -> Inbound:
    return (store.inbound(msg, "support-wa", "general", now=now))


def test_first_message_opens_and_assigns_to_online_department_member(store: Store) -> None:
    r = receive(store, inbound("SM1", name="Lucía"))
    assert (r.outcome, r.opened, r.assignee) == ("stored", True, "ana")
    conv = store.conversation_hash(r.conversation)
    assert conv["status"] == "assigned" and conv["department"] == "general"
    contact = store.contact_hash(conv["contact"])
    assert contact["name"]== "Lucía" and contact["phone"] == "+5215512345678"
    kinds = [e[1]["type"] for e in store.events(r.conversation)]
    assert kinds == ["opened", "assigned", "message"]
    reason = store.events(r.conversation)[1][1]["reason"]
    assert "ana is online with free capacity" in reason


def test_same_message_sid_twice_changes_nothing(store: Store, sync_redis: redis.Redis) -> None:
    first = receive(store, inbound("SM1"))
    before = snapshot(sync_redis, store.keys.prefix)
    again = receive(store, inbound("SM1"))
    after = snapshot(sync_redis, store.keys.prefix)
    assert again.outcome == "duplicate"
    assert (again.message, again.conversation) == (first.message, first.conversation)
    assert before == after


def test_second_message_reuses_open_conversation(store: Store, sync_redis: redis.Redis) -> None:
    a = receive(store, inbound("SM1"))
    b = receive(store, inbound("SM2", body="¿hay alguien?"))
    assert b.conversation == a.conversation and not b.opened
    assert sync_redis.lrange(store.keys.to_slack(a.conversation), 0, -1) == [
        a.message, b.message]
    assert int(sync_redis.hget(store.keys.agent("ana"), "load")) == 1


def test_same_phone_is_one_contact_across_channels(store: Store) -> None:
    wa = receive(store, inbound("SM1"))
    sms = InboundMessage(sid="SM2", channel="sms", phone="+5215512345678",
                         customer_addr="+5215512345678", campaign_addr="+15005550006")
    r = (store.inbound(sms, "support-sms", "general"))
    assert r.conversation != wa.conversation
    assert (store.conversation_hash(r.conversation)["contact"]
            == store.conversation_hash(wa.conversation)["contact"])


def test_department_full_queues_the_conversation(store: Store, sync_redis: redis.Redis) -> None:
    sync_redis.hset(store.keys.agent("ana"), "capacity", 1)
    receive(store, inbound("SM1", phone="+5215500000001"))
    r = receive(store, inbound("SM2", phone="+5215500000002"))
    assert r.assignee == ""
    assert store.conversation_hash(r.conversation)["status"] == "queued"
    assert sync_redis.zrange(store.keys.dept_queue("support-wa", "general"), 0, -1) == [
        r.conversation]
    reason = store.events(r.conversation)[1][1]["reason"]
    assert "no online member of department general has free capacity" in reason


def _thread(store: Store, sync_redis: redis.Redis, vid: str) -> None:
    sync_redis.hset(store.keys.threads, f"C0SUPPORTWA|17000.1{vid}", vid)


def reply(store: Store, vid: str, user: str = "U0ANA", event: str = "Ev1",
          now: float | None = None) -> Replied:
    agent = store_agents()[user]
    return store.agent_reply(
        AgentReply(event, "C0SUPPORTWA", f"17000.1{vid}", user, "hola, soy Ana", "17000.2"),
        agent, now=now)


def store_agents() -> dict[str, str]:
    """Slack user -> agent, as the use-case layer resolves it before the store is asked."""
    return {a.slack_user: a.id for a in load_config(EXAMPLE_CONFIG).agents}


def test_assignee_reply_is_queued_once(store: Store, sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation)
    first = reply(store, r.conversation)
    assert first.outcome == "queued"
    assert reply(store, r.conversation).outcome == "duplicate"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation)) == 1


@pytest.mark.parametrize(("user", "outcome"), [("U0BRUNO", "not_assignee")])
def test_reply_from_someone_else_is_refused(store: Store, sync_redis: redis.Redis, user: str,
                                            outcome: str) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation)
    refused = reply(store, r.conversation, user=user)
    assert refused.outcome == outcome
    assert sync_redis.llen(store.keys.to_twilio(r.conversation)) == 0


def test_whatsapp_reply_outside_24h_window_is_refused(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"), now=1_000_000.0)
    _thread(store, sync_redis, r.conversation)
    late = reply(store, r.conversation, now=1_000_000.0 + 24 * 3600 + 1)
    assert late.outcome == "window_closed"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation)) == 0


def test_status_only_moves_forward_whatever_the_order(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation)
    mid = reply(store, r.conversation).message
    assert store.status("SMout", "delivered").outcome == "early"  # before the worker has it
    assert store.sent(mid, r.conversation, "SMout", "queued").outcome == "delivered"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation)) == 0
    assert store.status("SMout", "read").outcome == "changed"
    for late in ("sent", "delivered", "read"):
        assert store.status("SMout", late).outcome == "unchanged"
    assert store.message_hash(mid)["status"] == "read"


def test_settle_keeps_outbox_entry_until_outbox_empty(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    member = f"slack:{r.conversation}"
    assert store.settle(member, 9e12) == 0
    sync_redis.delete(store.keys.to_slack(r.conversation))
    assert store.settle(member, 0) == 1
    assert sync_redis.zscore(store.keys.pending, member) is None
