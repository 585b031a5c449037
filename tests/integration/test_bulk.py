"""Bulk active messages: progress and per-recipient results, opt-out and duplicates skipped,
cancel, replies to a named department, the requester's DM, 21610 and 429, and a killed worker
that resumes without sending anyone a template twice."""

from __future__ import annotations

import asyncio
import json

import pytest

from channels.twilio.send import TransientSendError
from routing.config import Workspace
from tests.integration.conftest import System
from tests.integration.test_active import CUSTOMER, SID, WA, WORKSPACE, api, customer_writes
from workers.bulk import send_chunk
from workers.dispatch import Dispatcher
from workers.sweeper import sweep_once

OTHERS = ["+525500000001", "+525500000002", "+525500000003"]


@pytest.fixture
def workspace() -> Workspace:
    return WORKSPACE


@pytest.fixture(autouse=True)
def tokens(system: System) -> None:
    from routing.permissions import token_hash
    from tests.integration.test_active import TOKENS

    for name, p in TOKENS.items():
        system.store.add_token(token_hash(f"tok-{name}"), json.dumps(p.to_json()))


def recipients(*phones: str) -> list[dict]:
    return [{"to": p, "variables": {"customer": f"C{i}", "ticket": f"#{i}"}}
            for i, p in enumerate(phones)]


async def create(system: System, phones: list[str], who: str = "marta", **extra: str) -> str:
    status, created = await api(system, "POST", "/api/campaigns/care/bulk",
                                {"template": "follow_up", "recipients": recipients(*phones),
                                 **extra}, who=who)
    assert status == 202, created
    return created["id"]


async def report(system: System, bid: str) -> dict:
    status, data = await api(system, "GET", f"/api/campaigns/care/bulk/{bid}", who="marta")
    assert status == 200, data
    return data


async def test_bulk_sends_reports_and_skips(system: System) -> None:
    await customer_writes(system, "STOP")  # CUSTOMER opted out of active messages on WA
    bid = await create(system, [CUSTOMER, *OTHERS[:2], OTHERS[0]])
    await system.drain()
    sent = system.twilio.messages
    assert sorted(m["to"] for m in sent) == sorted(f"whatsapp:{p}" for p in OTHERS[:2])
    assert {m["content_sid"] for m in sent} == {SID}
    assert json.loads(sent[0]["content_variables"])["2"].startswith("#")
    data = await report(system, bid)
    assert data["status"] == "done"
    assert data["counts"] | {} == {"queued": 0, "sent": 2, "delivered": 0, "read": 0,
                                   "failed": 0, "skipped": 2, "cancelled": 0}
    assert data["skipped_reasons"] == {"opted out": 1, "duplicate of recipient 2": 1}
    assert [r["result"] for r in data["results"]] == ["skipped", "sent", "sent", "skipped"]
    for m in sent:
        await system.twilio.send_status(m["sid"], "read")
    await system.drain()
    # Changes within 2 s of the last refresh wait for the next one, or for the sweeper.
    sweep_once(system.store, Dispatcher(system.queue.connection, system.settings.rq_queue),
               grace=0)
    await system.drain()
    data = await report(system, bid)
    assert data["counts"]["read"] == 2
    # The requester's DM: posted once, then updated in place.
    dms = [m for (ch, _), m in system.slack.messages.items() if ch == "DU0MARTA"]
    assert len(dms) == 1 and "read 2" in dms[0]["text"] and f"Bulk {bid}" in dms[0]["text"]
    assert system.slack.calls_to("chat.update")


async def test_bulk_permissions_and_validation(system: System) -> None:
    status, err = await api(system, "POST", "/api/campaigns/care/bulk",
                            {"template": "follow_up", "recipients": recipients(*OTHERS)},
                            who="ana")
    assert status == 403 and "marketing" in err["error"]
    status, err = await api(system, "POST", "/api/campaigns/care/bulk",
                            {"template": "follow_up",
                             "recipients": [{"to": "12", "variables": {}}]}, who="marta")
    assert status == 400 and "recipients[0]" in err["error"]
    status, err = await api(system, "POST", "/api/campaigns/care/bulk",
                            {"template": "menu", "recipients": recipients(*OTHERS)})
    assert status == 422
    key = {"Idempotency-Key": "same"}
    first = await api(system, "POST", "/api/campaigns/care/bulk",
                      {"template": "follow_up", "recipients": recipients(*OTHERS)}, key="b1")
    again = await api(system, "POST", "/api/campaigns/care/bulk",
                      {"template": "follow_up", "recipients": recipients(*OTHERS)}, key="b1")
    assert first[1]["id"] == again[1]["id"] and again[1]["duplicate"] and key


async def test_cancel_before_sending(system: System) -> None:
    bid = await create(system, OTHERS)
    status, data = await api(system, "POST", f"/api/campaigns/care/bulk/{bid}/cancel",
                             who="marta")
    assert status == 200 and data["status"] == "cancelled"
    await system.drain()
    assert system.twilio.messages == []
    assert (await report(system, bid))["counts"]["cancelled"] == 3


async def test_replies_go_to_the_department_the_bulk_names(system: System) -> None:
    await create(system, [CUSTOMER], department="sales")
    await system.drain()
    vid = await customer_writes(system, "¿qué oferta?")
    conv = system.store.conversation_hash(vid)
    assert conv["department"] == "sales" and conv["status"] == "queued"


async def test_21610_fails_the_recipient_and_records_the_opt_out(system: System) -> None:
    system.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    bid = await create(system, [CUSTOMER])
    await system.drain()
    [row] = (await report(system, bid))["results"]
    assert row["result"] == "failed" and "opted out" in row["reason"]
    cid = system.store.contact_id(CUSTOMER)
    assert system.store.contact_hash(cid).get(f"optout:whatsapp:{WA}")


async def test_429_backs_off_and_sends_once(system: System) -> None:
    system.services.dispatch = lambda *members: None  # run the chunk by hand
    bid = await create(system, OTHERS)
    system.twilio.fail_next(429, 20429, "Too Many Requests")
    with pytest.raises(TransientSendError):
        await asyncio.to_thread(send_chunk, f"{bid}.0")
    assert len(system.twilio.messages) < 3
    # The sender backs off: a retry within the backoff asks Twilio nothing (other senders'
    # bulks and this number's replies are not held).
    asked = len(system.twilio.requests)
    with pytest.raises(TransientSendError, match="backing off"):
        await asyncio.to_thread(send_chunk, f"{bid}.0")
    assert len(system.twilio.requests) == asked
    system.store.redis.delete(system.store.keys.pace(f"whatsapp:{WA}") + ":backoff")
    await asyncio.to_thread(send_chunk, f"{bid}.0")
    assert sorted(m["to"] for m in system.twilio.messages) == sorted(
        f"whatsapp:{p}" for p in OTHERS)
    assert (await report(system, bid))["counts"]["sent"] == 3


async def test_a_killed_worker_resumes_and_nobody_gets_it_twice(system: System) -> None:
    system.services.dispatch = lambda *members: None
    bid = await create(system, OTHERS)
    store = system.store
    # A worker sent recipient 1 and recorded it, claimed recipient 2 and died mid-send.
    first = store.bulk_claim(bid, 1)
    store.bulk_sent(bid, 1, "SM" + "f" * 32, "queued")
    store.bulk_claim(bid, 2)
    assert first.outcome == "send"
    await asyncio.to_thread(send_chunk, f"{bid}.0")  # the sweeper's re-run of the chunk
    assert [m["to"] for m in system.twilio.messages] == [f"whatsapp:{OTHERS[2]}"]
    results = (await report(system, bid))["results"]
    assert [r["result"] for r in results] == ["sent", "failed", "sent"]
    assert "uncertain" in results[1]["reason"]
    await asyncio.to_thread(send_chunk, f"{bid}.0")  # a duplicate run sends nothing
    assert len(system.twilio.messages) == 1


async def test_cli_sends_a_csv_once_with_a_progress_bar(system: System, tmp_path) -> None:
    import io

    from gateway.bulk_cli import send

    csv = tmp_path / "list.csv"
    csv.write_text("to,customer,ticket\n" + "".join(f"{p},C{i},#{i}\n"
                                                   for i, p in enumerate(OTHERS)))
    out = io.StringIO()
    first = await asyncio.to_thread(send, system.base, "tok-marta", "care", "follow_up", csv,
                                    wait=False, out=out)
    await system.drain()
    again = await asyncio.to_thread(send, system.base, "tok-marta", "care", "follow_up", csv,
                                    out=out)
    assert first["id"] == again["id"] and again["status"] == "done"
    assert len(system.twilio.messages) == 3  # the second run sent nothing
    assert "already created by an earlier run" in out.getvalue()
    assert "[##############################] 3/3 sent 3" in out.getvalue()
