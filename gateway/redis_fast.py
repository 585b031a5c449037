"""A lean, auto-pipelining Redis client for the gateway's hot path (the inbound script).

redis-py's asyncio client checks a connection out of its pool, packs, sends and parses one
command per request, with a few layers of wrappers around each: about a third of the
gateway's CPU under load. This client keeps one connection and, for the requests that call a
script during one event-loop turn, writes their ``EVALSHA`` commands together: ``BATCH`` per
``write`` and the rest at the end of the turn (one round trip for each write); replies are
parsed by hiredis's C reader and handed back in order. Nothing is weakened: every caller
still awaits its own script's reply, so a message is stored and routed in Redis before the
webhook is answered.

It implements only what ``routing.store.Store`` needs to run scripts, ``register_script``, so
the same ``Store`` methods (with their argument order) drive it::

    store = Store(PipelinedRedis.from_url(url, decode_responses=True), namespace)
    raw = await store.inbound(msg, campaign, department, has_bot)

Bounds as ``routing.connection``'s clients: connecting gives up after ``CONNECT_TIMEOUT``
(``redis.ConnectionError``), and a reply that takes longer than ``SOCKET_TIMEOUT`` drops the
connection and fails every command in flight with ``redis.TimeoutError``; both are among
``UNAVAILABLE``, which the gateway answers with a 503. A lost connection fails the commands in
flight with ``redis.ConnectionError`` (as redis-py would) and the next command reconnects.
``NOSCRIPT`` (a restarted or flushed Redis) loads the script and runs it again, as redis-py's
``Script`` does.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlparse

import hiredis
import redis
from redis.exceptions import NoScriptError, ResponseError

from routing.connection import CONNECT_TIMEOUT, SOCKET_TIMEOUT

Arg = str | bytes | int | float
#: Commands per write at most: a burst's first scripts go out (and Redis runs them) while the
#: gateway is still parsing the rest of the burst, instead of all of them at the turn's end.
#: Measured with ``make bench``'s load (32 connections): 8 kept the gateway's core busy
#: (99 % instead of about 80 %, when it waited for Redis to run a whole turn's scripts) for
#: about a third more webhooks per second; 2, 4 and 16 did no better.
BATCH = 8


def pack(*parts: Arg) -> bytes:
    """One command in RESP, packed by hiredis in C (a third of the time of doing it here);
    arguments are encoded as redis-py encodes them (floats as their ``repr``), and anything
    else is refused as redis-py refuses it."""
    try:
        return hiredis.pack_command(parts)
    except TypeError:
        bad = next(p for p in parts if type(p) not in (str, bytes, int, float))
        raise redis.DataError(f"Invalid input of type: {type(bad).__name__!r}") from None


def _error(reply: hiredis.ReplyError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class _Protocol(asyncio.Protocol):
    def __init__(self, client: PipelinedRedis) -> None:
        self.client = client
        self.reader = (hiredis.Reader(encoding="utf-8") if client.decode_responses
                       else hiredis.Reader())
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting, deadlines = self.client._waiting, self.client._deadlines
        while (reply := self.reader.gets()) is not False:
            future = waiting.popleft()
            if deadlines:
                deadlines.popleft()
            if not future.done():  # the caller may have been cancelled meanwhile
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(_error(reply))
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost(self, exc)


class PipelinedRedis:
    """Commands from one event-loop turn go out together, on one connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, db: int = 0,
                 password: str | None = None, username: str | None = None,
                 decode_responses: bool = False) -> None:
        self.host, self.port, self.db = host, port, db
        self.decode_responses = decode_responses  # replies as str (UTF-8), like redis-py's
        self.username, self.password = username, password
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._deadlines: deque[float] = deque()  # when each command in flight times out
        self._watchdog: asyncio.TimerHandle | None = None
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self.batch = BATCH
        self.writes = 0  # how many writes (round trips) went out: for tests and the bench

    @classmethod
    def from_url(cls, url: str, decode_responses: bool = False) -> PipelinedRedis:
        u = urlparse(url)
        if u.scheme not in ("redis", ""):
            raise ValueError(f"PipelinedRedis speaks plain redis:// only, not {u.scheme}://")
        db = int(u.path.lstrip("/") or 0)
        return cls(u.hostname or "127.0.0.1", u.port or 6379, db, u.password, u.username,
                   decode_responses)

    # -- the Store's interface ------------------------------------------------------------

    def register_script(self, source: str) -> Script:
        return Script(self, source)

    # -- commands -------------------------------------------------------------------------

    async def execute(self, *parts: Arg) -> Any:
        """Send one command with whatever else this loop turn sends; await its reply."""
        if self._protocol is None:
            await self._connect()
        return await self.send(pack(*parts))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Queue a packed command for this loop turn's write (connected clients only)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._buffer.append(command)
        self._waiting.append(future)
        if len(self._buffer) >= self.batch:  # Redis starts on these while we parse the rest
            self._flush()
            return future
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush_turn)
        return future

    def _flush(self) -> None:
        data, self._buffer = b"".join(self._buffer), []
        protocol = self._protocol
        if not data or protocol is None or protocol.transport is None:
            return  # connection lost before the flush: its commands have already failed
        protocol.transport.write(data)
        self.writes += 1
        loop = asyncio.get_running_loop()
        sent = len(self._waiting) - len(self._deadlines)
        self._deadlines.extend([loop.time() + SOCKET_TIMEOUT] * sent)
        if self._watchdog is None:
            self._watchdog = loop.call_later(1.0, self._watch)

    def _flush_turn(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _watch(self) -> None:
        """Once a second while commands are in flight: drop a connection whose oldest reply
        is overdue (its replies could no longer be matched to their commands)."""
        self._watchdog = None
        protocol = self._protocol
        if protocol is None or not self._deadlines:
            return
        loop = asyncio.get_running_loop()
        if loop.time() > self._deadlines[0]:
            self._fail(protocol, redis.TimeoutError(
                f"Timeout reading from {self.host}:{self.port}"))
            if protocol.transport is not None:
                protocol.transport.abort()
            return
        self._watchdog = loop.call_later(1.0, self._watch)

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(loop.create_connection(
                lambda: _Protocol(self), self.host, self.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise redis.ConnectionError(
                f"Error connecting to {self.host}:{self.port}: {exc or 'timeout'}") from exc
        hello: list[bytes] = []
        if self.password:
            hello.append(pack("AUTH", *([self.username] if self.username else []),
                              self.password))
        if self.db:
            hello.append(pack("SELECT", self.db))
        if hello:
            futures = [loop.create_future() for _ in hello]
            self._waiting.extend(futures)
            assert protocol.transport is not None
            protocol.transport.write(b"".join(hello))
            for future in futures:
                await asyncio.wait_for(future, SOCKET_TIMEOUT)
        self._protocol = protocol
        return protocol

    def _lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        self._fail(protocol, redis.ConnectionError(
            f"Connection to {self.host}:{self.port} lost" + (f": {exc}" if exc else "")))

    def _fail(self, protocol: _Protocol, error: Exception) -> None:
        """Forget a connection and fail everything sent or about to be sent on it."""
        if protocol is not self._protocol and self._protocol is not None:
            return  # an older connection: its commands were failed when it was replaced
        self._protocol = None
        waiting, self._waiting = self._waiting, deque()
        self._deadlines.clear()
        self._buffer = []
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for future in waiting:
            if not future.done():
                future.set_exception(error)

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()


class Script:
    """``EVALSHA`` through the pipeline; loads the script once on ``NOSCRIPT``."""

    def __init__(self, client: PipelinedRedis, source: str) -> None:
        self.client = client
        self.script = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[Arg] = (), args: Iterable[Arg] = ()) -> Any:
        args = tuple(args)
        client = self.client
        try:
            if client._protocol is None:
                await client._connect()
            return await client.send(pack("EVALSHA", self.sha, len(keys), *keys, *args))
        except NoScriptError:
            await self.client.execute("SCRIPT", "LOAD", self.script)
            return await self.client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
