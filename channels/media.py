"""Signed media links: Twilio fetches an agent's attachment from us, and we fetch it from Slack.

Slack's file URLs need the bot token, and Twilio needs a URL it can fetch without one, so an
outbound attachment is sent as ``PUBLIC_URL/media/<message>/<n>?exp=<unix time>&sig=...``. The
signature makes the link unguessable and the expiry makes it short-lived: Twilio fetches media
when it sends the message, so an hour is plenty, and a link that leaks later opens nothing.

The key is derived from the Twilio auth token (HKDF-SHA256 with a purpose label), so a media
link never exposes anything about the token itself, and no other signature made with the token
can be replayed as a media signature (or the other way round).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

LINK_TTL = 3600  # seconds a media link stays valid
PURPOSE = b"relaydesk/media-link/v1"
SIG = re.compile(r"[0-9a-f]{32}")
EXP = re.compile(r"[0-9]{1,12}")


def media_key(auth_token: str) -> bytes:
    """HKDF-SHA256 (RFC 5869, one output block) of the auth token for media links only."""
    prk = hmac.new(b"relaydesk", auth_token.encode(), hashlib.sha256).digest()
    return hmac.new(prk, PURPOSE + b"\x01", hashlib.sha256).digest()


def signature(key: bytes, message_id: str, index: int, expires: int) -> str:
    return hmac.new(key, f"{message_id}/{index}/{expires}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def media_url(public_url: str, key: bytes, message_id: str, index: int,
              now: float | None = None) -> str:
    expires = int(time.time() if now is None else now) + LINK_TTL
    return (f"{public_url}/media/{message_id}/{index}?exp={expires}"
            f"&sig={signature(key, message_id, index, expires)}")


def check(key: bytes, message_id: str, index: int, exp: str, sig: str,
          now: float | None = None) -> str | None:
    """Why the link is refused, or None if it is ours and still valid."""
    if not EXP.fullmatch(exp) or not SIG.fullmatch(sig):
        return "invalid media signature"
    if not hmac.compare_digest(signature(key, message_id, index, int(exp)), sig):
        return "invalid media signature"
    if int(exp) < (time.time() if now is None else now):
        return "media link expired"
    return None
