"""The gateway's own Twilio signature check and form parser agree with the Twilio SDK's
check and urllib's strict parse_qsl, which they replace on the hot path."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.twilio.inbound import (
    MAX_FIELDS,
    BadWebhook,
    compute_signature,
    parse_form,
    signature_valid,
)
from tests.signing import twilio_signature, whatsapp_form

URL = "https://desk.example.com/twilio/messages"
forms = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=12)


@given(token=st.text(min_size=1, max_size=40), url=st.text(max_size=60), form=forms)
def test_same_signature_as_the_sdk(token: str, url: str, form: dict[str, str]) -> None:
    assert compute_signature(token, url, form).decode() == twilio_signature(token, url, form)


def test_valid_tampered_and_default_port_signatures() -> None:
    form = whatsapp_form("SM" + "a" * 32, "Hola, ¿y mi pedido?")
    signature = twilio_signature("token", URL, form)
    assert signature_valid("token", URL, form, signature)
    assert not signature_valid("token", URL, form | {"Body": "otro"}, signature)
    assert not signature_valid("other", URL, form, signature)
    assert not signature_valid("token", URL, form, "")
    # Twilio may sign the URL with the explicit default port: the SDK's fallback accepts it.
    with_port = twilio_signature("token", "https://desk.example.com:443/twilio/messages", form)
    assert signature_valid("token", URL, form, with_port)


def _reference(raw: bytes) -> dict[str, str] | None:
    """What parse_form did before (urllib's strict parse_qsl): None where it refused."""
    try:
        text = raw.decode("utf-8").rstrip()
        return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                              max_num_fields=MAX_FIELDS))
    except ValueError:  # UnicodeDecodeError included
        return None


bodies = st.one_of(
    st.binary(max_size=80),
    st.lists(st.sampled_from(["a", "b=", "=c", "&", "=", "+", "%", "%2", "%41", "%C3%A9", "%FF",
                              "%e2%82", "%E2%82%AC", "é", "€", "x=y", "MessageSid=SM1", ";", " ",
                              "%26", "%3D", "%3d", "%2B", "%25", "\x1f", "\n"]),
             max_size=20).map(lambda parts: "".join(parts).encode()),
)


@given(raw=bodies)
def test_form_parsing_matches_the_strict_parse_qsl(raw: bytes) -> None:
    expected = _reference(raw)
    if expected is None:
        with pytest.raises(BadWebhook):
            parse_form(raw, "utf-8")
    else:
        assert parse_form(raw, "utf-8") == expected


def test_too_many_fields_are_refused() -> None:
    assert len(parse_form(b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS)), None)) == MAX_FIELDS
    with pytest.raises(BadWebhook):
        parse_form(b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 1)), None)
