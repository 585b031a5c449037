"""Send one message through the Twilio SDK and classify what went wrong.

A 429, a 5xx or a network error is *transient*: the job is retried with backoff. Any other
error is *permanent*: the message is marked failed and the agent is told why in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

# Twilio error codes an agent may meet, in words they can act on.
REASONS = {
    "21211": "the customer's number is not a valid phone number",
    "21408": "Twilio is not enabled to send to this country",
    "21610": "the customer opted out (replied STOP); they must send START before we can write",
    "21612": "this number cannot receive messages from our sender",
    "21614": "the number is not a mobile number and cannot receive SMS",
    "30003": "the customer's phone is unreachable or switched off",
    "30004": "the message was blocked by the customer's carrier or the customer",
    "30005": "the customer's number is unknown or no longer in service",
    "30006": "the customer's line cannot receive this message (landline or unreachable carrier)",
    "30007": "the carrier filtered the message as spam",
    "30008": "the carrier could not deliver it (unknown error)",
    "63016": "outside the WhatsApp 24-hour window: send an approved template instead",
    "63018": "WhatsApp rate limit reached for this sender",
    "63024": "the recipient is not a valid WhatsApp user",
}


def reason(code: str, fallback: str = "") -> str:
    if code in REASONS:
        return REASONS[code]
    return fallback or (f"Twilio error {code}" if code else "Twilio could not send it")


class TransientSendError(Exception):
    """Try again later."""


@dataclass
class PermanentSendError(Exception):
    code: str
    reason: str


def send_message(client: Client, from_: str, to: str, body: str, media_urls: list[str],
                 status_callback: str, content_sid: str = "", content_variables: str = ""
                 ) -> tuple[str, str]:
    """Create the message; returns (MessageSid, status). With ``content_sid`` it is a Content
    API template (WhatsApp active messages, interactive content) and ``body`` is not sent."""
    kwargs: dict[str, object] = {"from_": from_, "to": to, "status_callback": status_callback}
    if content_sid:
        kwargs["content_sid"] = content_sid
        if content_variables:
            kwargs["content_variables"] = content_variables
    elif body:
        kwargs["body"] = body
    if media_urls:
        kwargs["media_url"] = media_urls
    try:
        created = client.messages.create(**kwargs)
    except TwilioRestException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise TransientSendError(f"Twilio answered {exc.status}") from exc
        code = str(exc.code or "")
        raise PermanentSendError(code, reason(code, exc.msg)) from exc
    except requests.RequestException as exc:
        raise TransientSendError(f"cannot reach Twilio: {type(exc).__name__}") from exc
    return str(created.sid), str(created.status or "queued")
