"""The Lua scripts against a real Redis: dedupe, conversations, routing, status order."""

from __future__ import annotations

import pytest
import redis

from routing.config import Workspace
from routing.store import Store
from routing.types import AgentReply, InboundMessage, InboundResult, ReplyResult
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


def receive(store: Store, msg: InboundMessage, now: float | None = None) -> InboundResult:
    return InboundResult.parse(store.inbound(msg, "support-wa", "general", now=now))


def test_first_message_opens_and_assigns_to_online_department_member(store: Store) -> None:
    r = receive(store, inbound("SM1", name="Lucía"))
    assert (r.outcome, r.opened, r.assignee) == ("stored", True, "ana")
    conv = store.conversation_hash(r.conversation_id)
    assert conv[b"status"] == b"assigned" and conv[b"department"] == b"general"
    contact = store.contact_hash(conv[b"contact"].decode())
    assert contact[b"name"].decode() == "Lucía" and contact[b"phone"] == b"+5215512345678"
    kinds = [e[1][b"type"] for e in store.events(r.conversation_id)]
    assert kinds == [b"opened", b"assigned", b"message"]
    reason = store.events(r.conversation_id)[1][1][b"reason"].decode()
    assert "ana is online with free capacity" in reason


def test_same_message_sid_twice_changes_nothing(store: Store, sync_redis: redis.Redis) -> None:
    first = receive(store, inbound("SM1"))
    before = snapshot(sync_redis, store.keys.prefix)
    again = receive(store, inbound("SM1"))
    after = snapshot(sync_redis, store.keys.prefix)
    assert again.outcome == "duplicate"
    assert (again.message_id, again.conversation_id) == (first.message_id, first.conversation_id)
    assert before == after


def test_second_message_reuses_open_conversation(store: Store, sync_redis: redis.Redis) -> None:
    a = receive(store, inbound("SM1"))
    b = receive(store, inbound("SM2", body="¿hay alguien?"))
    assert b.conversation_id == a.conversation_id and not b.opened
    assert sync_redis.lrange(store.keys.to_slack(a.conversation_id), 0, -1) == [
        a.message_id.encode(), b.message_id.encode()]
    assert int(sync_redis.hget(store.keys.agent("ana"), "load")) == 1


def test_same_phone_is_one_contact_across_channels(store: Store) -> None:
    wa = receive(store, inbound("SM1"))
    sms = InboundMessage(sid="SM2", channel="sms", phone="+5215512345678",
                         customer_addr="+5215512345678", campaign_addr="+15005550006")
    r = InboundResult.parse(store.inbound(sms, "support-sms", "general"))
    assert r.conversation_id != wa.conversation_id
    assert (store.conversation_hash(r.conversation_id)[b"contact"]
            == store.conversation_hash(wa.conversation_id)[b"contact"])


def test_department_full_queues_the_conversation(store: Store, sync_redis: redis.Redis) -> None:
    sync_redis.hset(store.keys.agent("ana"), "capacity", 1)
    receive(store, inbound("SM1", phone="+5215500000001"))
    r = receive(store, inbound("SM2", phone="+5215500000002"))
    assert r.assignee == ""
    assert store.conversation_hash(r.conversation_id)[b"status"] == b"queued"
    assert sync_redis.zrange(store.keys.dept_queue("support-wa", "general"), 0, -1) == [
        r.conversation_id.encode()]
    reason = store.events(r.conversation_id)[1][1][b"reason"].decode()
    assert "no online member of department general has free capacity" in reason


def _thread(store: Store, sync_redis: redis.Redis, vid: str) -> None:
    sync_redis.hset(store.keys.threads, f"C0SUPPORTWA|17000.1{vid}", vid)


def reply(store: Store, vid: str, user: str = "U0ANA", event: str = "Ev1",
          now: float | None = None) -> ReplyResult:
    return ReplyResult.parse(store.agent_reply(
        AgentReply(event, "C0SUPPORTWA", f"17000.1{vid}", user, "hola, soy Ana", "17000.2"),
        now=now))


def test_assignee_reply_is_queued_once(store: Store, sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation_id)
    first = reply(store, r.conversation_id)
    assert first.outcome == "queued"
    assert reply(store, r.conversation_id).outcome == "duplicate"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation_id)) == 1


@pytest.mark.parametrize(("user", "outcome"), [("U0BRUNO", "not_assignee"),
                                               ("U0STRANGER", "not_an_agent")])
def test_reply_from_someone_else_is_refused(store: Store, sync_redis: redis.Redis, user: str,
                                            outcome: str) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation_id)
    refused = reply(store, r.conversation_id, user=user)
    assert refused.outcome == outcome
    assert sync_redis.llen(store.keys.to_twilio(r.conversation_id)) == 0


def test_whatsapp_reply_outside_24h_window_is_refused(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"), now=1_000_000.0)
    _thread(store, sync_redis, r.conversation_id)
    late = reply(store, r.conversation_id, now=1_000_000.0 + 24 * 3600 + 1)
    assert late.outcome == "window_closed"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation_id)) == 0


def test_status_only_moves_forward_whatever_the_order(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    _thread(store, sync_redis, r.conversation_id)
    mid = reply(store, r.conversation_id).detail
    assert store.status("SMout", "delivered")[0] == b"early"  # before the worker recorded it
    assert store.sent(mid, r.conversation_id, "SMout", "queued") == b"delivered"
    assert sync_redis.llen(store.keys.to_twilio(r.conversation_id)) == 0
    assert store.status("SMout", "read")[0] == b"changed"
    for late in ("sent", "delivered", "read"):
        assert store.status("SMout", late)[0] == b"unchanged"
    assert store.message_hash(mid)[b"status"] == b"read"


def test_settle_keeps_outbox_entry_until_outbox_empty(store: Store,
                                                      sync_redis: redis.Redis) -> None:
    r = receive(store, inbound("SM1"))
    member = f"slack:{r.conversation_id}"
    assert store.settle(member, 9e12) == 0
    sync_redis.delete(store.keys.to_slack(r.conversation_id))
    assert store.settle(member, 0) == 1
    assert sync_redis.zscore(store.keys.pending, member) is None
