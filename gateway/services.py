"""What every route needs, stored on the aiohttp app under ``SERVICES``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TypeVar

import redis
import structlog
from aiohttp import web

from gateway.settings import Settings
from routing.actions import Ctx
from routing.config import Workspace
from routing.results import Result
from routing.store import Store
from workers.dispatch import Dispatcher

log = structlog.get_logger("gateway")
R = TypeVar("R", bound=Result)


@dataclass
class Services:
    settings: Settings
    workspace: Workspace
    store: Store
    dispatcher: Dispatcher
    _waiting: dict[str, None] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _flushing: bool = False

    @property
    def ctx(self) -> Ctx:
        """What the use cases (routing.actions) work with."""
        return Ctx(self.workspace, self.store)

    def done(self, result: R) -> R:
        """A use case's result: enqueue the jobs its script marked, and hand it back."""
        self.dispatch(*result.jobs)
        return result

    def dispatch(self, *members: str) -> None:
        """Ask for jobs for these work marks. The marks are already stored (by the Lua script
        that made the work), so this never waits: a background task enqueues them in batches,
        one RQ pipeline per batch, and the worker's sweeper covers a crash in between."""
        for member in members:
            self._waiting[member] = None
        if members:
            self._wake.set()

    async def _enqueue_forever(self) -> None:
        while True:
            await self._wake.wait()
            await self._flush()

    async def _flush(self) -> None:
        self._wake.clear()
        batch, self._waiting = list(self._waiting), {}
        if not batch:
            return
        self._flushing = True
        try:
            await asyncio.to_thread(self.dispatcher.enqueue, *batch)
        except redis.RedisError as exc:
            log.warning("dispatch.deferred", count=len(batch), error=str(exc))
        finally:
            self._flushing = False

    async def idle(self) -> None:
        """Wait until every requested job is on the queue (tests, shutdown)."""
        while self._waiting or self._flushing:
            await asyncio.sleep(0.002)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._enqueue_forever(), name="dispatch")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush()


SERVICES = web.AppKey("services", Services)


def error(status: int, message: str) -> web.Response:
    """Every refusal is JSON: ``{"error": "what is wrong"}``."""
    return web.json_response({"error": message}, status=status)


RETRY_AFTER = 5  # seconds; what a 503 asks callers to wait while Redis is unreachable


def unavailable(exc: BaseException) -> web.Response:
    """Redis is unreachable: a fast 503 that says to come back, so the caller (Twilio with
    connection overrides, Slack, an API client) retries instead of losing the request."""
    response = error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
