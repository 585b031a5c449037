"""Local stand-in for the Slack Web API.

Sandbox mode and the tests drive Slack through the official ``slack_sdk`` clients with
``base_url`` pointed here. That keeps the agent side offline while the real client code
runs, and leaves every call, message, thread reply and reaction inspectable; failures
such as rate limits can be injected per method.

Like Slack it refuses what Slack refuses: a section's text over 3,000 characters or more than
50 blocks (``invalid_blocks``), a ``text`` over 40,000 characters (``msg_too_long``), a channel
that does not exist (``channel_not_found``) or is archived (``is_archived``). With ``limits``
it also answers ``chat.postMessage`` with 429 and ``Retry-After`` beyond Slack's posting rates
(about one message per second per channel with short bursts, a few hundred per minute per
workspace); ``delay`` makes every answer slow, as a distant API is.
"""

import asyncio
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Params = dict[str, Any]

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")  # JSON strings in form bodies
_CONTENT = ("text", "blocks", "attachments")
# What Slack returns as "message"; the stored copy also has channel and reactions.
_MESSAGE_KEYS = ("type", "ts", "thread_ts", "user", "bot_id", "team", *_CONTENT)


#: Slack's documented limits (chat.postMessage, Block Kit).
MAX_TEXT = 40_000  # characters of a message's ``text``
MAX_BLOCKS = 50  # blocks in one message
MAX_SECTION_TEXT = 3_000  # characters of a section block's text
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]+$")


@dataclass
class SlackLimits:
    """Posting rates to enforce (Slack: ~1 message per second per channel, with bursts;
    several hundred per minute per workspace)."""

    channel_rate: float = 1.0  # chat.postMessage per second, per channel
    channel_burst: int = 3  # posts a quiet channel may take at once
    workspace_per_minute: int = 300  # chat.postMessage per minute, whole workspace


class _SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _fail(error: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


def _need(params: Params, name: str, error: str) -> str:
    value = params.get(name)
    if not value:
        raise _SlackError(error)
    return str(value)


class FakeSlack:
    """Slack Web API emulator; mount ``app()`` or serve it standalone."""

    def __init__(
        self,
        token: str,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        limits: SlackLimits | None = None,
        delay: float = 0.0,
    ) -> None:
        self.token = token
        self.limits = limits
        self.delay = delay  # seconds before answering any call
        self.channels: set[str] | None = None  # known channels (None: any well-formed id)
        self.archived: set[str] = set()
        self.throttled = 0  # 429s answered because of ``limits``
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._minute: deque[float] = deque()  # workspace posts of the last 60 s
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.calls: list[tuple[str, Params]] = []
        #: The client ends (host, port) calls came from: one per connection a client opened.
        self.connections: set[tuple[str, int]] = set()
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> latest
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}  # view id -> latest view
        self.users: dict[str, dict[str, Any]] = {}
        self.add_user(bot_user_id, "relaydesk", "RelayDesk", is_bot=True)
        self._reactions: dict[tuple[str, str], list[str]] = {}
        self._home_views: dict[str, str] = {}  # user id -> view id of their App Home
        self.opened: dict[str, tuple[str, str]] = {}  # trigger id -> (views.open|push, view id)
        self._failures: defaultdict[str, deque[tuple[str, int]]] = defaultdict(deque)
        self._last_ts_us = 0
        self.files: dict[str, tuple[str, bytes]] = {}  # name -> (content type, bytes)
        self._handlers: dict[str, Callable[[Params], Params]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.open": self._conversations_open,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "users.info": self._users_info,
            "conversations.history": lambda p: self._read(p, thread=False),
            "conversations.replies": lambda p: self._read(p, thread=True),
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/log", self._log)
        app.router.add_get("/files-pri/{name}", self._file)  # a file's url_private
        app.router.add_get("/{method}", self._dispatch)  # users.info and friends use GET
        app.router.add_post("/{method}", self._dispatch)
        return app

    # -- helpers for tests and the sandbox ------------------------------------------------

    def add_file(self, name: str, content_type: str, data: bytes, base_url: str) -> dict[str, Any]:
        """Host a file as Slack does (``url_private`` needs the bot token); returns the file
        object a ``file_share`` message event carries."""
        self.files[name] = (content_type, data)
        return {"id": f"F{len(self.files):08d}", "name": name, "mimetype": content_type,
                "url_private": f"{base_url.rstrip('/')}/files-pri/{name}", "size": len(data)}

    async def _file(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=403, text="invalid_auth")
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type=found[0])

    def add_user(
        self, user_id: str, name: str, real_name: str | None = None, is_bot: bool = False
    ) -> None:
        """Register a user for ``users.info`` (unknown ids get a generated profile)."""
        self.users[user_id] = _user(user_id, self.team_id, name, real_name or name, is_bot)

    def fail_next(
        self, method: str, error: str = "ratelimited", status: int = 429, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 adds ``Retry-After: 1``)."""
        self._failures[method].extend([(error, status)] * times)

    def only_channels(self, *channels: str) -> None:
        """Posting anywhere else (DMs aside) is ``channel_not_found``."""
        self.channels = set(channels)

    def _throttle(self, channel: str) -> float:
        """0 if a post to ``channel`` is within ``limits`` now, else seconds to wait."""
        if self.limits is None:
            return 0.0
        now = time.monotonic()
        while self._minute and now - self._minute[0] >= 60:
            self._minute.popleft()
        if len(self._minute) >= self.limits.workspace_per_minute:
            return 60 - (now - self._minute[0])
        rate, burst = self.limits.channel_rate, self.limits.channel_burst
        tokens, at = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            return (1 - tokens) / rate
        self._buckets[channel] = (tokens - 1, now)
        self._minute.append(now)
        return 0.0

    def calls_to(self, method: str) -> list[Params]:
        return [params for name, params in self.calls if name == method]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Replies in a thread, oldest first, without the parent message."""
        return [
            msg
            for (chan, ts), msg in self.messages.items()
            if chan == channel and msg.get("thread_ts") == thread_ts and ts != thread_ts
        ]

    def add_user_message(self, channel: str, user: str, text: str, thread_ts: str = "") -> str:
        """A person's message (the sandbox console writes as an agent); returns its ts."""
        ts = self._next_ts()
        self.messages[(channel, ts)] = {
            "type": "message", "channel": channel, "ts": ts, "thread_ts": thread_ts or None,
            "text": text, "blocks": None, "attachments": None, "user": user,
            "team": self.team_id, "reactions": self._reactions.setdefault((channel, ts), []),
        }
        return ts

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The App Home last published for a user."""
        view_id = self._home_views.get(user)
        return self.views.get(view_id) if view_id else None

    def show_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        """Store a view a response_action (update, push) shows; returns it with its id."""
        return self._store_view({"view": view}, view_id)["view"]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Reaction names on any message, including ones this fake did not post."""
        return list(self._reactions.get((channel, ts), []))

    async def wait_for(self, predicate: Callable[["FakeSlack"], Any], timeout: float = 5.0) -> Any:
        """Poll until ``predicate(self)`` is truthy and return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate(self)):
            if loop.time() >= deadline:
                name = getattr(predicate, "__name__", repr(predicate))
                methods = [method for method, _ in self.calls]
                raise AssertionError(
                    f"Slack condition {name} not met within {timeout}s; calls: {methods}"
                )
            await asyncio.sleep(0.01)
        return result

    # -- HTTP -----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername")[:2])
        params: Params = dict(request.query)
        if request.content_type == "application/json":
            try:  # slack_sdk's sync client sends a call without arguments with no body
                body = await request.json() if await request.read() else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self.calls.append((method, params))
                return _fail("invalid_json")
            params.update(body)
        else:
            form = await request.post()  # urlencoded or multipart; empty for GET
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        params = {k: _decode(k, v) for k, v in params.items() if v is not None}
        token = params.pop("token", None)
        self.calls.append((method, params))

        handler = self._handlers.get(method)
        if handler is None:
            return _fail("unknown_method")
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.token not in (bearer, token):
            return _fail("invalid_auth")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._failures[method]:
            error, status = self._failures[method].popleft()
            return _fail(error, status, {"Retry-After": "1"} if status == 429 else None)
        if method == "chat.postMessage" and (wait := self._throttle(str(params.get("channel")))):
            self.throttled += 1
            return _fail("ratelimited", 429, {"Retry-After": str(max(1, math.ceil(wait)))})
        if any(isinstance(params.get(field), str) for field in _JSON_FIELDS):
            return _fail("invalid_arguments")  # a blocks/view/... field that is not JSON
        try:
            result = handler(params)
        except _SlackError as exc:
            return _fail(exc.error)
        return web.json_response({"ok": True, **result})

    async def _log(self, request: web.Request) -> web.Response:
        """Calls with 1-based ``index``; ``?since=N`` returns only those after index N."""
        try:
            since = max(0, int(request.query.get("since", "0")))
        except ValueError:
            raise web.HTTPBadRequest(text="since must be an integer") from None
        calls = [
            {"index": index, "method": method, "params": params}
            for index, (method, params) in enumerate(self.calls[since:], start=since + 1)
        ]
        return web.json_response({"calls": calls, "last": len(self.calls)})

    # -- methods --------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Unique, increasing Slack timestamps like "1700000000.000100"."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _public(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack returns it in ``message``."""
        return {k: msg[k] for k in _MESSAGE_KEYS if msg.get(k) is not None}

    def _auth_test(self, _params: Params) -> Params:
        return {
            "url": "https://sandbox.slack.com/",
            "team": "Sandbox",
            "user": "relaydesk",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel(self, params: Params) -> str:
        channel = _need(params, "channel", "channel_not_found")
        if not _CHANNEL_ID.match(channel) or (
                self.channels is not None and channel[0] != "D" and channel not in self.channels):
            raise _SlackError("channel_not_found")
        if channel in self.archived:
            raise _SlackError("is_archived")
        return channel

    def _post_message(self, params: Params) -> Params:
        channel = self._channel(params)
        if not any(params.get(k) for k in _CONTENT):
            raise _SlackError("no_text")
        _check_content(params)
        ts = self._next_ts()
        thread_ts = params.get("thread_ts")
        msg = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "thread_ts": str(thread_ts) if thread_ts else None,
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "attachments": params.get("attachments"),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "reactions": self._reactions.setdefault((channel, ts), []),
            "metadata": params.get("metadata"),
        }
        self.messages[(channel, ts)] = msg
        return {"channel": channel, "ts": ts, "message": self._public(msg)}

    def _read(self, params: Params, thread: bool) -> Params:
        """conversations.history (top-level, newest first) and .replies (a thread, oldest
        first); ``oldest`` and ``include_all_metadata`` as Slack has them."""
        channel = _need(params, "channel", "channel_not_found")
        parent = _need(params, "ts", "thread_not_found") if thread else None
        oldest = float(params.get("oldest") or 0)
        found = [m for (chan, ts), m in self.messages.items() if chan == channel
                 and float(ts) >= oldest and (m.get("thread_ts") == parent or ts == parent
                                              if thread else not m.get("thread_ts"))]
        found.sort(key=lambda m: float(m["ts"]), reverse=not thread)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("true", "1")
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)  # the cursor is an offset here
        page, more = found[start:start + limit], len(found) > start + limit
        return {"messages": [self._public(m) | ({"metadata": m["metadata"]} if with_metadata
                                                and m.get("metadata") else {}) for m in page],
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _update(self, params: Params) -> Params:
        channel = self._channel(params)
        ts = _need(params, "ts", "message_not_found")
        _check_content(params)
        old = self.messages.get((channel, ts))
        if old is None:
            raise _SlackError("message_not_found")
        if not any(k in params for k in _CONTENT):
            raise _SlackError("no_text")
        # Like Slack, fields left out (e.g. blocks) keep their previous value.
        msg = {**old, **{k: params[k] for k in _CONTENT if k in params}}
        self.messages[(channel, ts)] = msg
        return {"channel": channel, "ts": ts, "text": msg["text"], "message": self._public(msg)}

    def _post_ephemeral(self, params: Params) -> Params:
        channel = _need(params, "channel", "channel_not_found")
        user = _need(params, "user", "user_not_found")
        if not any(params.get(k) for k in _CONTENT):
            raise _SlackError("no_text")
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": params.get("text", ""),
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts"),
                "message_ts": ts,
            }
        )
        return {"message_ts": ts}

    def _reaction_target(self, params: Params) -> tuple[list[str], str]:
        channel = _need(params, "channel", "channel_not_found")
        ts = _need(params, "timestamp", "no_item_specified")
        name = _need(params, "name", "invalid_name")
        return self._reactions.setdefault((channel, ts), []), name

    def _reactions_add(self, params: Params) -> Params:
        names, name = self._reaction_target(params)
        if name in names:
            raise _SlackError("already_reacted")
        names.append(name)
        return {}

    def _reactions_remove(self, params: Params) -> Params:
        names, name = self._reaction_target(params)
        if name not in names:
            raise _SlackError("no_reaction")
        names.remove(name)
        return {}

    def _conversations_open(self, params: Params) -> Params:
        users = params.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        ids = [u.strip() for u in str(users or "").split(",") if u.strip()]
        if len(ids) == 1:
            channel_id = "D" + ids[0]
        elif ids:
            channel_id = "G" + "".join(ids)
        else:
            channel_id = _need(params, "channel", "users_list_not_supplied")
        return {"no_op": False, "already_open": False, "channel": {"id": channel_id}}

    def _store_view(self, params: Params, view_id: str | None = None) -> Params:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        view_id = view_id or f"V{len(self.views) + 1:08d}"
        stored = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "bot_id": self.bot_id,
            "app_id": "ASANDBOX",
            "hash": self._next_ts(),
        }
        self.views[view_id] = stored
        return {"view": stored}

    def _views_open(self, params: Params, method: str = "views.open") -> Params:
        result = self._store_view(params)
        if params.get("trigger_id"):
            self.opened[str(params["trigger_id"])] = (method, result["view"]["id"])
        return result

    def _views_push(self, params: Params) -> Params:
        return self._views_open(params, "views.push")

    def _views_update(self, params: Params) -> Params:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            view_id = next(
                (vid for vid, v in self.views.items() if v.get("external_id") == external_id), None
            )
        return self._store_view(params, view_id)

    def _views_publish(self, params: Params) -> Params:
        user = _need(params, "user_id", "user_not_found")
        result = self._store_view(params, self._home_views.get(user))
        self._home_views[user] = result["view"]["id"]
        return result

    def _users_info(self, params: Params) -> Params:
        user = _need(params, "user", "user_not_found")
        generated = _user(user, self.team_id, user.lower(), f"Sandbox user {user}", False)
        return {"user": self.users.get(user, generated)}


def _check_content(params: Params) -> None:
    """Slack's size limits on a message."""
    if len(str(params.get("text") or "")) > MAX_TEXT:
        raise _SlackError("msg_too_long")
    blocks = params.get("blocks")
    if blocks is None:
        return
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise _SlackError("invalid_blocks")
    for block in blocks:
        text = block.get("text") if isinstance(block, dict) else None
        if (isinstance(block, dict) and block.get("type") == "section" and isinstance(text, dict)
                and len(str(text.get("text", ""))) > MAX_SECTION_TEXT):
            raise _SlackError("invalid_blocks")


def _decode(name: str, value: Any) -> Any:
    """Form bodies carry blocks, attachments and views as JSON strings."""
    if name in _JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _user(user_id: str, team_id: str, name: str, real_name: str, is_bot: bool) -> dict[str, Any]:
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "real_name": real_name,
        "is_bot": is_bot,
        "profile": {"real_name": real_name, "display_name": name},
    }
