"""The ceiling: the cheapest aiohttp server that answers a Twilio webhook like the gateway does.

It reads the form body and returns the same empty TwiML, and nothing else, on the same event
loop as the gateway (uvloop when installed), so the gap between it and the gateway is the cost
of the gateway's own work rather than of aiohttp, the loop or HTTP.
Run as ``python -m bench.ceiling PORT`` (in its own process, like the gateway).
"""

from __future__ import annotations

import sys

from aiohttp import web

from gateway.app import use_uvloop
from gateway.twilio_routes import EMPTY_TWIML

PATH = "/twilio/messages"


async def incoming(request: web.Request) -> web.Response:
    await request.post()
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post(PATH, incoming)
    app.router.add_get("/healthz", health)
    return app


def main(argv: list[str]) -> None:
    if len(argv) != 1 or not argv[0].isdigit():
        sys.exit("usage: python -m bench.ceiling PORT")
    use_uvloop()  # the gateway's event loop, so the gap is the gateway's own work
    web.run_app(create_app(), host="127.0.0.1", port=int(argv[0]), print=None,
                access_log=None, handle_signals=True)


if __name__ == "__main__":
    main(sys.argv[1:])
