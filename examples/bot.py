"""A sample Relay Desk bot: answers every message, and hands the conversation to people when
the customer asks for one ("humano", "agente", "persona", "agent", "human").

Run it next to `make run` (sandbox defaults need no settings):

    .venv/bin/python examples/bot.py

Settings (env): RELAYDESK_URL (default http://127.0.0.1:8080), RELAYDESK_BOT_TOKEN (default the
sandbox token of campaign sales-wa), BOT_SECRET (the HMAC secret; default the sandbox one),
BOT_PORT (8090). It is self-contained on purpose: copy it to start your own bot.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import aiohttp
from aiohttp import web

KEYWORDS = {"humano", "agente", "persona", "agent", "human"}
GREETING = ("Hola, soy el asistente de ventas. Escribe *humano* cuando quieras hablar "
            "con una persona.")


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Relay Desk signs "v1:{timestamp}:{body}" with HMAC-SHA256; reject stale timestamps."""
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return False
    except ValueError:
        return False
    expected = "v1=" + hmac.new(secret.encode(), f"v1:{timestamp}:".encode() + body,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def make_app(relaydesk_url: str, token: str, secret: str) -> web.Application:
    api = relaydesk_url.rstrip("/") + "/api/conversations/"
    headers = {"Authorization": f"Bearer {token}"}

    async def on_event(request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_ok(secret, request.headers.get("X-Relaydesk-Timestamp", ""), body,
                            request.headers.get("X-Relaydesk-Signature", "")):
            return web.Response(status=401, text="bad signature")
        event = await request.json()
        conv, msg = event["conversation"]["id"], event["message"]
        # The delivery id makes our calls idempotent: a redelivery changes nothing.
        key = {"Idempotency-Key": request.headers.get("X-Relaydesk-Delivery", msg["id"])}
        words = set(msg["text"].lower().replace("*", " ").split())
        async with aiohttp.ClientSession(headers=headers) as http:
            if words & KEYWORDS:
                call = http.post(api + conv + "/handoff", headers=key, json={
                    "target": {"type": "route"},
                    "note": f"the customer asked for a person: {msg['text'][:200]}"})
            else:
                call = http.post(api + conv + "/messages", headers=key, json={"text": GREETING})
            async with call as resp:
                if resp.status >= 500:
                    return web.Response(status=503)  # ask Relay Desk to deliver again later
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/relaydesk", on_event)
    return app


if __name__ == "__main__":
    web.run_app(
        make_app(os.environ.get("RELAYDESK_URL", "http://127.0.0.1:8080"),
                 os.environ.get("RELAYDESK_BOT_TOKEN", "sandbox-bot-token-sales-wa"),
                 os.environ.get("BOT_SECRET", "sandbox-bot-secret")),
        host="127.0.0.1", port=int(os.environ.get("BOT_PORT", "8090")),
    )
