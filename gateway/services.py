"""What every route needs, stored on the aiohttp app under ``SERVICES``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis
import structlog
from aiohttp import web

from gateway.settings import Settings
from routing.config import Workspace
from routing.store import Store
from workers.dispatch import Dispatcher

log = structlog.get_logger("gateway")


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    store: Store
    dispatcher: Dispatcher

    async def dispatch(self, *members: str) -> None:
        """Enqueue jobs; if RQ's Redis is unreachable the sweeper enqueues them later."""
        try:
            await asyncio.to_thread(self.dispatcher.enqueue, *members)
        except redis.RedisError as exc:
            log.warning("dispatch.deferred", members=list(members), error=str(exc))


SERVICES = web.AppKey("services", Services)


def error(status: int, message: str) -> web.Response:
    """Every refusal is JSON: ``{"error": "what is wrong"}``."""
    return web.json_response({"error": message}, status=status)
