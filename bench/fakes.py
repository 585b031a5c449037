"""The Slack and Twilio stand-ins for the end-to-end bench, in their own process, stamping
when each bench message reaches them.

``python -m bench.fakes SLACK_PORT TWILIO_PORT TWILIO_SID TWILIO_TOKEN SLACK_TOKEN``

Every ``chat.postMessage`` and ``Messages.json`` whose text carries a bench reference
(``ref<number>x``) is stamped with ``time.time()`` on arrival, before the fake handles it
(each reference of a post that coalesces several customer messages), and the calls that carry
any are counted; ``GET /bench/stamps`` on the Slack port returns them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time

from aiohttp import web

from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio

REF = re.compile(r"ref(\d+)x")


def stamping(stamps: dict[str, float], calls: dict[str, int], kind: str, *,
             form_field: str) -> web.middleware:
    @web.middleware
    async def stamp(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        if request.method == "POST":
            at = time.time()
            if request.content_type == "application/json":
                text = (await request.json()).get(form_field)
            else:
                text = (await request.post()).get(form_field)
            if isinstance(text, str):  # a coalesced post carries several messages
                found = REF.findall(text)
                for ref in found:
                    stamps.setdefault(ref, at)
                calls[kind] += bool(found)
        return await handler(request)

    return stamp


def main(argv: list[str]) -> None:
    slack_port, twilio_port, sid, token, slack_token = argv
    slack_stamps: dict[str, float] = {}
    twilio_stamps: dict[str, float] = {}
    calls = {"slack": 0, "twilio": 0}  # provider calls that carried bench messages
    slack = FakeSlack(slack_token)
    twilio = FakeTwilio(sid, token)
    slack_app = web.Application(middlewares=[stamping(slack_stamps, calls, "slack",
                                                            form_field="text")])
    slack_app.add_subapp("/api", slack.app())

    async def stamps(_: web.Request) -> web.Response:
        return web.json_response({"slack": slack_stamps, "twilio": twilio_stamps,
                                  "calls": calls})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    slack_app.router.add_get("/bench/stamps", stamps)
    slack_app.router.add_get("/healthz", health)
    twilio_app = web.Application(middlewares=[stamping(twilio_stamps, calls, "twilio",
                                                             form_field="Body")])
    for route in twilio.app().router.routes():  # the fake's routes, behind the stamp
        twilio_app.router.add_route(route.method, route.resource.canonical, route.handler)

    async def serve() -> None:
        runners = [web.AppRunner(slack_app, access_log=None),
                   web.AppRunner(twilio_app, access_log=None)]
        for runner, port in zip(runners, (slack_port, twilio_port), strict=True):
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", int(port)).start()
        print("fakes ready", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            for runner in runners:
                await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1:])
