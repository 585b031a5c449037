"""Deliver conversation events to a campaign's bot as signed webhook POSTs.

The signature follows Slack's scheme, which bot builders already know:
``X-Relaydesk-Signature: v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`` with
``X-Relaydesk-Timestamp`` in Unix seconds. A bot should reject timestamps more than five
minutes old and compare signatures in constant time (see ``verify``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests

TIMESTAMP_HEADER = "X-Relaydesk-Timestamp"
SIGNATURE_HEADER = "X-Relaydesk-Signature"
DELIVERY_HEADER = "X-Relaydesk-Delivery"
MAX_AGE = 300


class BotUnavailable(Exception):
    """The bot did not accept the delivery; retry later."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str,
           now: float | None = None) -> bool:
    """What a bot runs on each delivery."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= MAX_AGE and hmac.compare_digest(sign(secret, timestamp, body), signature)


def deliver(session: requests.Session, url: str, secret: str, delivery_id: str,
            payload: dict[str, Any], timeout: float = 5.0) -> None:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: sign(secret, stamp, body), DELIVERY_HEADER: delivery_id}
    try:
        resp = session.post(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise BotUnavailable(f"cannot reach the bot: {type(exc).__name__}") from exc
    if not 200 <= resp.status_code < 300:
        raise BotUnavailable(f"the bot answered {resp.status_code}")
