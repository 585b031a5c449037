"""The gateway's own Twilio signature check agrees with the Twilio SDK's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from channels.twilio.inbound import compute_signature, signature_valid
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
