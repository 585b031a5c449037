"""Python and Lua build the same key names (a script and a reader must meet on one key), and
every kind of work mark has a job."""

from __future__ import annotations

import redis

from routing.keys import Keys
from routing.store import library_source
from routing.types import Work
from workers.dispatch import JOBS


def test_lua_and_python_build_the_same_key_names(sync_redis: redis.Redis) -> None:
    k = Keys("kt")
    pairs = {
        "K.seq": k.seq, "K.ident": k.ident, "K.open": k.open, "K.threads": k.threads,
        "K.awaiting": k.awaiting, "K.pending": k.pending,
        "K.contact('c1')": k.contact("c1"), "K.contact_convs('c1')": k.contact_convs("c1"),
        "K.contact_notes('c1')": k.contact_notes("c1"),
        "K.contact_audit('c1')": k.contact_audit("c1"),
        "K.conv('v1')": k.conv("v1"), "K.events('v1')": k.events("v1"),
        "K.outbox('v1', 'slack')": k.to_slack("v1"), "K.outbox('v1', 'twilio')": k.to_twilio("v1"),
        "K.outbox('v1', 'bot')": k.to_bot("v1"), "K.msg('m1')": k.msg("m1"),
        "K.sid('SM1')": k.sid("SM1"), "K.early('SM1')": k.early("SM1"),
        "K.slack_event('Ev1')": k.slack_event("Ev1"), "K.idem('x')": k.idem("x"),
        "K.agent('ana')": k.agent("ana"), "K.agent_depts('ana')": k.agent_depts("ana"),
        "K.agent_open('ana')": k.agent_open("ana"), "K.inbox('ana')": k.inbox("ana"),
        "K.dept_members('care/front')": k.dept_members("care", "front"),
        "K.dept_queue('care/front')": k.dept_queue("care", "front"),
        "K.unassigned('care')": k.unassigned("care"),
        "K.people('v1')": k.people("v1"), "K.history('ana')": k.history("ana"),
    }
    lua = library_source() + "\nreturn {" + ", ".join(pairs) + "}"
    names = sync_redis.eval(lua, 1, k.seq, k.prefix, "0")
    assert dict(zip(pairs, names, strict=True)) == pairs


def test_every_kind_of_work_has_a_job() -> None:
    assert set(JOBS) == set(Work)
