"""The aiohttp application: wires settings, config, the store, the dispatcher and the routes."""

from __future__ import annotations

import asyncio
import json

import redis
import structlog
from aiohttp import web

from gateway import api, media_routes, metrics, slack_routes, twilio_routes
from gateway.redis_fast import PipelinedRedis
from gateway.services import SERVICES, Services, error, unavailable
from gateway.settings import Settings
from routing.config import Workspace
from routing.connection import UNAVAILABLE, async_client, sync_client
from routing.errors import ActionError, Conflict, Invalid, NotFound, Refused, Unprocessable
from routing.permissions import Principal, token_hash
from routing.store import Store
from workers.dispatch import Dispatcher

log = structlog.get_logger("gateway")


@web.middleware
async def front(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """The one middleware, around every request: webhooks are tallied for the metrics, API
    calls authenticated first, and every refusal answered as JSON. One layer rather than one
    per concern: each aiohttp middleware is another coroutine per request, and three of them
    cost the webhook path about a tenth of its CPU (``make bench``)."""
    try:
        if request.method == "POST" and (webhook := metrics.WEBHOOK_PATHS.get(request.path)):
            return await metrics.observe(request, webhook, handler)
        if request.path.startswith("/api/"):
            await api.authenticate(request)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        response = error(exc.status, exc.reason)
        if "Allow" in exc.headers:  # a 405 says which methods the resource has (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ActionError as exc:  # a use case refused: its reason, with the status that fits
        return error(STATUS[type(exc)], exc.reason)
    except UNAVAILABLE as exc:
        log.warning("redis.unavailable", path=request.path, error=type(exc).__name__)
        return unavailable(exc)


STATUS = {NotFound: 404, Refused: 403, Invalid: 400, Unprocessable: 422, Conflict: 409}


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        await services.store.redis.ping()
    except redis.RedisError as exc:
        return unavailable(exc)
    return web.json_response({"ok": True, "sandbox": services.settings.sandbox})


SANDBOX_ADMIN_TOKEN = "sandbox-admin-token"


def sandbox_bot_token(campaign: str) -> str:
    return f"sandbox-bot-token-{campaign}"


async def remove_sandbox_tokens(store: Store, workspace: Workspace) -> int:
    """Live mode on data a sandbox once used: its well-known tokens must not outlive it.
    (Any other ``sandbox-`` token, e.g. of a campaign since removed, is refused at login.)"""
    names = [SANDBOX_ADMIN_TOKEN, *(sandbox_bot_token(c.id) for c in workspace.campaigns)]
    return await store.redis.hdel(store.keys.tokens(), *(token_hash(n) for n in names))


async def seed_sandbox_tokens(store: Store, workspace: Workspace) -> None:
    """Well-known tokens so a newcomer and the example bot can use the API in the sandbox."""
    await store.add_token(token_hash(SANDBOX_ADMIN_TOKEN),
                          json.dumps(Principal("admin", "sandbox").to_json()))
    for campaign in workspace.campaigns:
        if campaign.bot:
            await store.add_token(token_hash(sandbox_bot_token(campaign.id)), json.dumps(
                Principal("bot", "sandbox-bot", campaign=campaign.id).to_json()))


def use_uvloop() -> bool:
    """Make the event loops created from now on uvloop's (about a sixth less CPU per inbound
    webhook than asyncio's own loop, measured by ``make bench``). False if uvloop is not
    installed (it is a dependency on Linux and macOS)."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def create_app(settings: Settings, workspace: Workspace) -> web.Application:
    """The gateway. Built outside any event loop, as ``python -m gateway web`` does before
    ``web.run_app`` starts one, it also switches the process to uvloop; built inside a running
    loop (tests), it leaves the loop alone."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        use_uvloop()
    app = web.Application(middlewares=[front],
                          client_max_size=1024 * 1024)
    client = async_client(settings.redis_url, decode_responses=True)
    services = Services(
        settings=settings,
        workspace=workspace,
        store=Store(client, settings.redis_namespace),
        dispatcher=Dispatcher(sync_client(settings.rq_redis_url), settings.rq_queue),
    )
    app[SERVICES] = services
    try:  # Twilio's webhooks, the hot path, run their scripts auto-pipelined (redis_fast.py)
        pipelined: PipelinedRedis | None = PipelinedRedis.from_url(settings.redis_url,
                                                                   decode_responses=True)
    except ValueError:  # rediss:// or a unix socket: redis-py's client does it all
        pipelined = None
    if pipelined is not None:
        app[twilio_routes.SCRIPTS] = Store(pipelined, settings.redis_namespace)

    async def start(_: web.Application) -> None:
        await services.store.seed(workspace)
        if settings.sandbox:
            await seed_sandbox_tokens(services.store, workspace)
        elif await remove_sandbox_tokens(services.store, workspace):
            log.warning("sandbox.tokens_removed", reason="real credentials are set")
        await services.start()

    async def close(_: web.Application) -> None:
        await services.stop()
        await client.aclose()
        if pipelined is not None:
            await pipelined.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(close)
    app.router.add_get("/healthz", health)
    metrics.setup(app, services, health)
    twilio_routes.setup(app)
    api.setup(app)
    media_routes.setup(app)
    slack_routes.setup(app, services)
    if settings.sandbox:
        from gateway.sandbox.mount import mount

        mount(app, settings)
    return app
