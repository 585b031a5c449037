"""``GET /media/<message>/<n>?sig=``: an agent's attachment, fetched by Twilio.

The signature proves we made the link and its expiry has not passed (see ``channels.media``);
the file is streamed from Slack with the bot token, so Slack files never need to be public.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from channels.media import check, media_key
from gateway.services import SERVICES, error
from routing.types import Message


async def media(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    mid = request.match_info["message"]
    try:
        index = int(request.match_info["index"])
    except ValueError:
        return error(404, "no such media")
    refusal = check(media_key(svc.settings.twilio_auth_token), mid, index,
                    request.query.get("exp", ""), request.query.get("sig", ""))
    if refusal:
        return error(403, refusal)
    raw = await svc.store.message_hash(mid)
    msg = Message.from_hash(raw) if raw else None
    if msg is None or msg.direction != "out" or not 0 <= index < len(msg.media):
        return error(404, "no such media")
    item = msg.media[index]
    if not item.private:
        raise web.HTTPFound(item.url)
    headers = {"Authorization": f"Bearer {svc.settings.slack_bot_token}"}
    async with aiohttp.ClientSession() as http, http.get(item.url, headers=headers) as upstream:
        if upstream.status != 200:
            return error(502, f"Slack answered {upstream.status} for this file")
        response = web.StreamResponse(headers={"Content-Type": item.content_type})
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(64 * 1024):
            await response.write(chunk)
        await response.write_eof()
        return response


def setup(app: web.Application) -> None:
    app.router.add_get("/media/{message}/{index}", media)
