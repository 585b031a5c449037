"""Signed media links: Twilio fetches an agent's attachment from us, and we fetch it from Slack.

Slack's file URLs need the bot token, and Twilio needs a URL it can fetch without one, so an
outbound attachment is sent as ``PUBLIC_URL/media/<message>/<n>?sig=...``; the signature (HMAC
with the Twilio auth token, which only we and Twilio hold) makes the link unguessable.
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, message_id: str, index: int) -> str:
    return hmac.new(secret.encode(), f"{message_id}/{index}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def media_url(public_url: str, secret: str, message_id: str, index: int) -> str:
    return f"{public_url}/media/{message_id}/{index}?sig={signature(secret, message_id, index)}"


def valid(secret: str, message_id: str, index: int, sig: str) -> bool:
    return hmac.compare_digest(signature(secret, message_id, index), sig)
