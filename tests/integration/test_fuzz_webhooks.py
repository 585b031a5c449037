"""Fuzz the raw webhook endpoints: random bodies, charsets, content types and headers, some
signed correctly. Never a 5xx; a refused request writes nothing to Redis."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl, quote, urlencode

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import SLACK_SECRET, TWILIO_TOKEN, System
from tests.signing import twilio_signature

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
TWILIO_FIELDS = ["MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                 "MediaContentType0", "MessageStatus", "ErrorCode", "ProfileName", "WaId"]
SLACK_TYPES = ["event_callback", "block_actions", "view_submission", "url_verification",
               "shortcut", "view_closed"]
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header_text = st.text(LATIN1, max_size=30).map(str.lstrip)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "event", "actions", "view", "user", "id", "value", "team",
                         "action_id", "private_metadata", "callback_id", "files", "channel",
                         "container", "trigger_id", "state", "values", "blocks", "text"])
        | st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
slack_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(SLACK_TYPES) | st.text(max_size=10)},
    optional={k: json_values for k in ["event", "actions", "view", "user", "team", "trigger_id",
                                       "channel", "container", "authorizations", "enterprise"]})


@st.composite
def twilio_bodies(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return draw(st.binary(max_size=200))
    fields = draw(st.dictionaries(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=8),
                                  st.text(max_size=30), max_size=8))
    body = urlencode(fields).encode()
    if choice == 2:  # sprinkle raw and %-escaped bytes that may not be UTF-8
        junk = draw(st.binary(min_size=1, max_size=4))
        at = draw(st.integers(0, len(body)))
        escaped = draw(st.booleans())
        body = body[:at] + (quote(junk).encode() if escaped else junk) + body[at:]
    return body


@st.composite
def slack_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200)), draw(st.sampled_from([JSON, FORM]))
    if choice == 1:
        return json.dumps(draw(json_values)).encode(), JSON
    payload = json.dumps(draw(slack_objects))
    if choice == 2:
        return payload.encode(), JSON
    return urlencode({"payload": payload}).encode(), FORM


charsets = st.sampled_from(["", "; charset=utf-8", "; charset=UTF-8", "; charset=bogus",
                            "; charset=latin-1", "; charset=utf-16", "; charset="]) | \
    st.text(LATIN1, max_size=12).map(lambda c: f"; charset={c}")


@st.composite
def requests_to_webhooks(draw: st.DrawFn, public_url: str) -> tuple[str, str, bytes, dict]:
    endpoint = draw(st.sampled_from(["/twilio/messages", "/twilio/status", "/slack/events",
                                     "/media"]))
    if endpoint == "/media":
        parts = [quote(draw(st.text(max_size=12)), safe="") or "x" for _ in range(2)]
        query = urlencode({"exp": draw(st.text(max_size=12)), "sig": draw(st.text(max_size=40))})
        return "GET", f"/media/{parts[0]}/{parts[1]}?{query}", b"", {}
    if endpoint.startswith("/twilio"):
        body = draw(twilio_bodies())
        ctype = draw(st.sampled_from([FORM, JSON, "text/plain"])) + draw(charsets)
        headers = {"Content-Type": ctype}
        if draw(st.booleans()):  # signed as Twilio would, when the body is a form at all
            try:
                params = dict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
            except ValueError:  # not UTF-8: the gateway refuses it before any signature
                params = {}
            headers["X-Twilio-Signature"] = twilio_signature(TWILIO_TOKEN,
                                                             public_url + endpoint, params)
        else:
            headers["X-Twilio-Signature"] = draw(header_text)
        return "POST", endpoint, body, headers
    body, ctype = draw(slack_bodies())
    headers = {"Content-Type": ctype + draw(charsets)}
    if draw(st.booleans()):
        ts = str(int(time.time()))
        mac = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256)
        headers |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}
    else:
        headers |= {"X-Slack-Request-Timestamp": draw(header_text),
                    "X-Slack-Signature": draw(header_text)}
    return "POST", endpoint, body, headers


async def test_webhooks_never_5xx_and_refusals_write_nothing(system: System) -> None:
    http = requests.Session()
    seen: dict[int, int] = {}

    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(requests_to_webhooks(system.settings.public_url))
    def one(request: tuple[str, str, bytes, dict]) -> None:
        method, path, body, headers = request
        before = system.snapshot(), system.queue.count
        resp = http.request(method, system.base + path, data=body, headers=headers, timeout=10,
                            allow_redirects=False)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, (resp.status_code, resp.text, request)
        if resp.status_code >= 400:
            assert resp.headers["Content-Type"].startswith(JSON), request
            assert "error" in resp.json()
            after = system.snapshot(), system.queue.count
            assert after == before, ("a refused request wrote to Redis", request)

    try:
        await asyncio.to_thread(one)
    finally:
        http.close()
    assert {403, 400}.issubset(seen), seen  # the fuzzer reached past the signature checks
