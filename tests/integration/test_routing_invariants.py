"""Routing under load and under random sequences of events keeps its invariants: every open
conversation in exactly one place, loads exact, nobody over capacity, nothing waiting that a free
agent could take (see tests/routing_world.check_invariants)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.config import Workspace
from routing.store import Store
from routing.types import InboundMessage
from tests.integration.conftest import System
from tests.routing_world import HELP, WORLD, check_invariants, where
from tests.signing import sms_form


@pytest.fixture
def workspace() -> Workspace:
    return WORLD


async def test_many_simultaneous_webhooks_few_agents(system: System) -> None:
    for agent in ("carla", "dora"):  # help/desk: capacity 1 + 3
        system.store.redis.hset(system.store.keys.agent(agent), "presence", "online")
    phones = [f"+5255{i:08d}" for i in range(60)]
    forms = [sms_form(f"SM{i:02d}{n}" + "0" * 29, f"mensaje {n}", phone=p, to=HELP)
             for i, p in enumerate(phones) for n in (1, 2)]
    statuses = await asyncio.gather(*(system.post_twilio("/twilio/messages", f) for f in forms))
    assert [s.status for s in statuses] == [200] * len(forms)
    store = system.store
    convs = list(store.redis.hvals(store.keys.open))
    assert len(convs) == len(phones)  # one conversation per contact, despite the race
    places = [where(store, v) for v in convs]
    assert places.count("agent:carla") == 1 and places.count("agent:dora") == 3
    assert places.count("dept:help/desk") == 56
    check_invariants(store.redis, store, WORLD)
    assert all(store.redis.llen(store.keys.to_slack(v)) == 2 for v in convs)


PHONES = [f"+52550000{i:04d}" for i in range(6)]
AGENTS = [a.id for a in WORLD.agents]
SERVING = {c.id: [a.id for a in WORLD.agents if any(d.startswith(c.id + "/")
                                                     for d in a.departments)]
           for c in WORLD.campaigns}
message = st.tuples(st.just("msg"), st.sampled_from(PHONES), st.sampled_from(WORLD.campaigns))
closing = st.tuples(st.just("close"), st.integers(0, 50))
op = st.one_of(  # messages and closes weighted up: contention is where routing goes wrong
    message, message, message, closing, closing,
    st.tuples(st.just("presence"), st.sampled_from(AGENTS),
              st.sampled_from(["online", "online", "away", "offline"])),
    st.tuples(st.just("capacity"), st.sampled_from(AGENTS), st.integers(0, 3)),
    st.tuples(st.just("owner"), st.sampled_from(PHONES), st.sampled_from(
        [("", ""), ("department", "shop/sales"), ("department", "shop/care"),
         ("department", "help/desk")] + [("agent", a) for a in AGENTS])),
    st.tuples(st.just("exclusive"), st.sampled_from(PHONES), st.sampled_from(["shop", "help"]),
              st.integers(0, 3)),
    st.tuples(st.just("handoff"), st.integers(0, 50),
              st.sampled_from([("route", ""), ("department", "care"), ("agent", "bruno"),
                               ("agent", "ana")])),
)
_namespaces = itertools.count()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=8, max_size=40))
def test_random_sequences_keep_the_invariants(sync_redis: redis.Redis, ops: list) -> None:
    store = Store(sync_redis, f"prop{next(_namespaces)}")
    store.seed(WORLD)
    for agent in AGENTS:  # start tight: everyone online with room for one conversation
        store.set_capacity(agent, 1, "test")
        store.set_presence(agent, "online", "test")
    sid = itertools.count()
    allowance: dict[str, int] = {}
    for step in ops:
        kind = step[0]
        opened = list(sync_redis.hvals(store.keys.open))
        if kind == "msg":
            _, phone, campaign = step
            wa = campaign.channel == "whatsapp"
            addr = ("whatsapp:" if wa else "") + phone
            store.inbound(InboundMessage(f"SM{next(sid):032d}", campaign.channel, phone, addr,
                                         campaign.address, "hola"),
                          campaign.id, campaign.default_department or "", campaign.bot is not None)
        elif kind == "presence":
            store.set_presence(step[1], step[2], "test")
        elif kind == "capacity":
            load = int(sync_redis.hget(store.keys.agent(step[1]), "load") or 0)
            allowance[step[1]] = max(step[2], load)
            store.set_capacity(step[1], step[2], "test")
        elif kind == "close" and opened:
            store.close(sorted(opened)[step[1] % len(opened)], "test")
        elif kind == "owner":
            store.set_owner([step[1]], step[2][0], step[2][1], "test")
        elif kind == "exclusive":
            agents = SERVING[step[2]]
            agent = agents[step[3] % len(agents)] if step[3] < len(agents) else ""
            store.set_exclusive(step[1], step[2], agent, "test")
        elif kind == "handoff":
            bots = sorted(v for v in opened if where(store, v) == "bot")
            if bots:
                ttype, tid = step[2]
                store.handoff(bots[step[1] % len(bots)], "", ttype, tid, "sales", "", "", "bot")
        check_invariants(sync_redis, store, WORLD, allowance)
        for agent, allowed in allowance.items():  # closes shrink the allowance
            allowance[agent] = min(allowed, int(sync_redis.hget(store.keys.agent(agent), "load")))
