"""Bad input never gets a 500: every refusal is a 4xx JSON body saying what is wrong, and
nothing is stored."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import pytest
import requests

from tests.integration.conftest import SLACK_SECRET, TWILIO_TOKEN, System
from tests.signing import (
    button_click,
    dumps,
    encode_form,
    submit_view,
    thread_reply_event,
    twilio_signature,
    whatsapp_form,
)

FORM = "application/x-www-form-urlencoded"


def slack_sign(body: bytes, timestamp: str | None = None, secret: str = SLACK_SECRET
               ) -> dict[str, str]:
    ts = str(int(time.time())) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}


async def post(system: System, path: str, body: bytes, headers: dict[str, str]
               ) -> tuple[int, Any]:
    before = system.snapshot()
    async with system.http.post(system.base + path, data=body, headers=headers) as resp:
        status, ctype = resp.status, resp.content_type
        answer = await resp.json() if ctype == "application/json" else await resp.text()
    assert system.snapshot() == before, "a refused request changed Redis"
    return status, answer


def twilio_headers(system: System, path: str, form: dict[str, str],
                   ctype: str = FORM) -> dict[str, str]:
    url = system.settings.public_url + path
    return {"Content-Type": ctype, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form)}


@pytest.mark.parametrize("path", ["/twilio/messages", "/twilio/status"])
@pytest.mark.parametrize(("body", "ctype", "status", "error"), [
    (b"MessageSid=SM1&Body=%FF%FE", FORM, 400, "not valid utf-8"),
    (b"MessageSid=SM1&Body=\xff\xfe", FORM, 400, "not valid utf-8"),
    (b"MessageSid=SM1&Body=hola", FORM + "; charset=bogus-8", 415, "charset"),
    (b"MessageSid=SM1&Body=hola", FORM + "; charset=utf-16", 415, "charset"),
])
async def test_twilio_undecodable_bodies_are_4xx(system: System, path: str, body: bytes,
                                                 ctype: str, status: int, error: str) -> None:
    got, answer = await post(system, path, body, {"Content-Type": ctype,
                                                  "X-Twilio-Signature": "x"})
    assert got == status and error in answer["error"].lower()


async def test_twilio_signed_utf8_still_works(system: System) -> None:
    form = whatsapp_form("SM" + "1" * 32, "¿y mi pedido? ñ")
    headers = twilio_headers(system, "/twilio/messages", form, FORM + "; charset=UTF-8")
    async with system.http.post(system.base + "/twilio/messages", data=encode_form(form),
                                headers=headers) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(("body", "headers", "error"), [
    (b'{"type":"url_verification","challenge":"\xff"}', {}, "x-slack-request-timestamp"),
    (b'{"type":"url_verification","challenge":"\xff"}',
     {"X-Slack-Request-Timestamp": str(int(time.time()))}, "x-slack-signature"),
    (b"{}", {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
     "x-slack-request-timestamp"),
    (b"{}", {"X-Slack-Request-Timestamp": "１２３", "X-Slack-Signature": "v0=00"},
     "x-slack-request-timestamp"),
    (b"{}", {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}, "old"),
    (b"{}", {"X-Slack-Request-Timestamp": str(int(time.time())),
             "X-Slack-Signature": "v0=ü"}, "signature"),
])
async def test_slack_bad_signatures_are_403(system: System, body: bytes,
                                            headers: dict[str, str], error: str) -> None:
    status, answer = await post(system, "/slack/events", body,
                                {"Content-Type": "application/json"} | headers)
    assert status == 403 and error in answer["error"].lower()


async def test_slack_wrong_secret_is_403(system: System) -> None:
    body = dumps(thread_reply_event("Ev1", "C0X", "1.1", "U0ANA", "hola")).encode()
    status, answer = await post(system, "/slack/events", body,
                                {"Content-Type": "application/json"}
                                | slack_sign(body, secret="wrong"))
    assert status == 403 and "X-Slack-Signature" in answer["error"]


@pytest.mark.parametrize(("body", "ctype", "status", "error"), [
    (b'{"type":"event_callback","x":"\xff"}', "application/json", 400, "utf-8"),
    (b"{}", "application/json; charset=bogus", 415, "charset"),
    (b"{}", "application/json; charset=latin-1", 415, "charset"),
    (b'{"type": "event_callback", ', "application/json", 400, "json"),
    (b"[1, 2]", "application/json", 400, "object"),
    (b'"text"', "application/json", 400, "object"),
    (b'{"type":"event_callback","event":[1]}', "application/json", 400, "event"),
    (encode_form({"payload": "{not json"}).encode(), FORM, 400, "json"),
    (encode_form({"payload": "[]"}).encode(), FORM, 400, "object"),
    (encode_form({"payload": dumps({"type": "block_actions", "user": {"id": "U0ANA"},
                                    "actions": []})}).encode(), FORM, 400, "actions"),
    (encode_form({"payload": dumps({"type": "block_actions", "user": {"id": "U0ANA"}})}
                 ).encode(), FORM, 400, "actions"),
    (encode_form({"payload": dumps(button_click("U0ANA", "rd_close", "v1:events", "C0X",
                                                "1.1"))}).encode(), FORM, 400, "conversation"),
    (encode_form({"payload": dumps(button_click("U0ANA", "rd_close", "v1", "C0X", "1.1")
                                   | {"trigger_id": None})}).encode(), FORM, 400, "trigger_id"),
    (encode_form({"payload": dumps(_no_meta := {
        **submit_view("U0ANA", "rd_close", "v1", {"note": "x"}),
        "view": {k: v for k, v in submit_view("U0ANA", "rd_close", "v1", {"note": "x"})[
            "view"].items() if k != "private_metadata"}})}).encode(), FORM, 400, "metadata"),
    (encode_form({"payload": dumps(submit_view("U0ANA", "rd_close", "v1:events",
                                               {"note": "x"}))}).encode(), FORM, 400,
     "metadata"),
    (encode_form({"payload": dumps(submit_view("U0ANA", "rd_contact_confirm", "{}",
                                               {}))}).encode(), FORM, 400, "metadata"),
    (encode_form({"payload": dumps({"type": "view_submission", "user": {"id": "U0ANA"}})}
                 ).encode(), FORM, 400, "view"),
])
async def test_slack_signed_but_malformed_is_4xx(system: System, body: bytes, ctype: str,
                                                 status: int, error: str) -> None:
    got, answer = await post(system, "/slack/events", body,
                             {"Content-Type": ctype} | slack_sign(body))
    assert got == status, answer
    assert error in answer["error"].lower()


@pytest.mark.parametrize("query", ["sig=é", "sig=%C3%A9&exp=1", "exp=９&sig=00", "sig=%FF",
                                   "exp=99999999999999999999999&sig=" + "0" * 32])
async def test_media_with_non_ascii_signatures_is_403(system: System, query: str) -> None:
    async with system.http.get(system.base + "/media/m1/0?" + query) as resp:
        assert resp.status == 403 and "error" in await resp.json()


@pytest.mark.parametrize("path", ["/twilio/messages", "/twilio/status"])
async def test_twilio_non_utf8_signature_header_is_403(system: System, path: str) -> None:
    """A latin-1 byte in the header (found by the fuzzer) reaches us as a lone surrogate."""
    before = system.snapshot()
    resp = await asyncio.to_thread(requests.post, system.base + path, data=b"MessageSid=SM1",
                                   headers={"Content-Type": FORM, "X-Twilio-Signature": "\xe9"},
                                   timeout=10)
    assert resp.status_code == 403 and "X-Twilio-Signature" in resp.json()["error"]
    assert system.snapshot() == before


@pytest.mark.parametrize("body", [b'{"type":"url_verification","event":null}',
                                  b'{"type":"event_callback","authorizations":[1]}',
                                  b'{"type":"block_actions","view":"x","actions":[]}'])
async def test_slack_fields_bolt_reads_as_objects_must_be_objects(system: System,
                                                                 body: bytes) -> None:
    status, answer = await post(system, "/slack/events", body,
                                {"Content-Type": "application/json"} | slack_sign(body))
    assert status == 400 and "must be" in answer["error"]
