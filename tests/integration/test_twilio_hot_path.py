"""The Twilio webhook's hot path keeps every check: content type, signature, then one script
through the pipelined client, stored before the 200, concurrent webhooks each answered."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import System
from tests.signing import encode_form, twilio_signature, whatsapp_form


async def test_wrong_content_type_and_bad_signature_touch_nothing(system: System) -> None:
    before = system.snapshot()
    form = whatsapp_form("SM" + "c" * 32, "hola")
    url = system.settings.public_url + "/twilio/messages"
    async with system.http.post(system.base + "/twilio/messages", data=encode_form(form),
                                headers={"Content-Type": "text/plain",
                                         "X-Twilio-Signature": twilio_signature(
                                             system.settings.twilio_auth_token, url, form)},
                                ) as resp:
        assert resp.status == 400
    assert (await system.post_twilio("/twilio/messages", form, signature="bad")).status == 403
    assert system.snapshot() == before


async def test_concurrent_webhooks_are_each_stored_before_their_200(system: System) -> None:
    forms = [whatsapp_form(f"SM{i:032x}", f"mensaje {i}", phone=f"+5255{40_000_000 + i:08d}")
             for i in range(40)]
    responses = await asyncio.gather(*(system.post_twilio("/twilio/messages", f) for f in forms))
    assert [r.status for r in responses] == [200] * 40
    for form in forms:  # stored when the 200 went out: no waiting, no draining
        mid = system.store.redis.get(system.store.keys.sid(form["MessageSid"]))
        assert mid is not None
        assert system.store.message_hash(mid)["body"] == form["Body"]
