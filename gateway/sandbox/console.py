"""The sandbox console at ``/sandbox``: be the customers and the agents in a browser.

Left, a phone per channel: what a customer writes is posted to ``/twilio/messages`` signed as
Twilio signs it, and what the agents send arrives there with its delivery ticks (the Twilio
stand-in's messages and statuses). Right, what the Slack stand-in holds, rendered from the Block
Kit the service posted: the campaign channels with their cards and threads, the supervisors'
channel, the chosen agent's DMs and App Home, and any modal open for them. Clicking a button,
choosing in a select or submitting a modal posts the interactivity payload Slack would
(form-encoded ``payload=``, signed with the signing secret) to ``/slack/events``; a thread reply
is a signed Events API message; opening Home is ``app_home_opened``. So every click runs the
real path. The page is server-rendered; a little JavaScript swaps fragments when the
server-sent event stream says something changed.

Sandbox mode only (it is mounted with the stand-ins) and loopback only: a request from another
address, or one a proxy forwarded, is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from channels.slack.render import STATUS_EMOJI
from gateway.sandbox import blockkit
from gateway.sandbox.blockkit import e
from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio
from gateway.services import SERVICES
from gateway.settings import Settings
from gateway.simulate import (
    customer_address,
    customer_form,
    event_callback,
    slack_headers,
    thread_event,
    twilio_headers,
)
from routing.config import Workspace

STATIC = Path(__file__).with_name("static")
LOOPBACK = {"127.0.0.1", "::1"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
FORM = "application/x-www-form-urlencoded"
TICKS = {"queued": ("🕓", "queued"), "accepted": ("🕓", "queued"), "sending": ("🕓", "sending"),
         "sent": ("✓", "sent"), "delivered": ("✓✓", "delivered"), "read": ("✓✓", "read"),
         "undelivered": ("⚠", "undelivered"), "failed": ("⚠", "failed")}
DEFAULT_PHONE = "+525512345678"
STATUS = {emoji: label for label, emoji in STATUS_EMOJI.items()}  # reaction -> status label


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


class Console:
    def __init__(self, settings: Settings, twilio: FakeTwilio, slack: FakeSlack) -> None:
        self.settings, self.twilio, self.slack = settings, twilio, slack
        self.workspace: Workspace | None = None
        self.customers: list[dict[str, Any]] = []  # what customers wrote, with the answer
        self.stacks: dict[str, list[str]] = {}  # Slack user -> open modal view ids
        self.errors: dict[str, dict[str, str]] = {}  # view id -> input errors
        self.notes: list[dict[str, Any]] = []  # slash command answers (only their user)
        self.version = 0
        self.stopping = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    # -- who is who -------------------------------------------------------------------

    @property
    def ws(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    def name(self, ident: str) -> str:
        """A Slack user or channel id as the console shows it."""
        if ident == self.slack.bot_user_id:
            return "Relay Desk"
        agent = self.ws.agent_by_slack(ident)
        if agent:
            return agent.label
        return self.channel_name(ident) if ident[:1] in "CDG" else ident

    def channel_name(self, channel: str) -> str:
        for c in self.ws.campaigns:
            if c.slack_channel == channel:
                return c.id
        if channel == self.ws.supervisors_channel:
            return "supervisors"
        return channel

    def channels(self) -> list[tuple[str, str, str]]:
        """(channel id, name, what it is) for the sidebar."""
        out = []
        for c in self.ws.campaigns:
            if c.slack_channel not in [o[0] for o in out]:
                out.append((c.slack_channel, c.id, c.label))
        if self.ws.supervisors_channel:
            out.append((self.ws.supervisors_channel, "supervisors", "escalations"))
        return out

    def signature(self) -> tuple[int, ...]:
        """Changes whenever something the page shows may have changed."""
        return (len(self.slack.calls), len(self.slack.ephemerals), len(self.twilio.messages),
                len(self.twilio.callbacks), len(self.slack.messages), self.version)

    # -- pages and fragments ----------------------------------------------------------

    def page(self, user: str, place: str) -> str:
        agents = "".join(
            f'<option value="{e(a.slack_user)}"{" selected" if a.slack_user == user else ""}>'
            f'{e(a.label)} ({e(", ".join(a.roles))})</option>' for a in self.ws.agents)
        phones = "".join(self.phone(channel) for channel in ("whatsapp", "sms")
                         if any(c.channel == channel for c in self.ws.campaigns))
        return (PAGE.replace("{{title}}", e(self.ws.name))
                .replace("{{phones}}", phones).replace("{{agents}}", agents)
                .replace("{{slack}}", self.slack_panel(user, place))
                .replace("{{state}}", e(json.dumps({"as": user, "place": place}))))

    def phone(self, channel: str) -> str:
        campaigns = "".join(f'<option value="{e(c.id)}">{e(c.label)} · {e(c.number)}</option>'
                            for c in self.ws.campaigns if c.channel == channel)
        name = ('<input name="name" value="Lucía" aria-label="profile name" '
                'title="WhatsApp profile name">') if channel == "whatsapp" else ""
        title = {"whatsapp": "WhatsApp", "sms": "SMS"}[channel]
        return (f'<section class="phone {channel}" data-channel="{channel}">'
                f'<div class="phone-head"><b>{title}</b>'
                f'<select name="campaign" aria-label="campaign">{campaigns}</select></div>'
                f'<div class="phone-who"><input name="phone" value="{DEFAULT_PHONE}" '
                f'aria-label="customer phone">{name}</div>'
                f'<div class="phone-messages">{self.phone_messages(channel, DEFAULT_PHONE)}</div>'
                f'<form class="phone-compose"><input name="text" autocomplete="off" '
                f'placeholder="Write as the customer…" aria-label="{title} message">'
                f'<button type="submit">Send</button></form></section>')

    def phone_messages(self, channel: str, phone: str) -> str:
        address = customer_address(channel, phone)
        rows: list[tuple[float, str]] = []
        for m in self.customers:
            if m["channel"] == channel and m["phone"] == phone:
                ok = m["status"] == 200
                mark = "✓" if ok else f"⚠ {m['status']}"
                rows.append((m["at"], f'<div class="bubble mine{"" if ok else " refused"}">'
                             f'<div class="meta">to {e(m["campaign_label"])}</div>{e(m["text"])}'
                             f'<div class="ticks" title="gateway answered {m["status"]}">'
                             f'{_clock(m["at"])} {e(mark)}</div></div>'))
        for m in self.twilio.messages:
            if m["to"] != address:
                continue
            tick, label = TICKS.get(m["status"], ("🕓", m["status"]))
            campaign = next((c.label for c in self.ws.campaigns if c.address == m["from"]),
                            m["from"])
            media = "".join(f'<div class="media">📎 <a href="{e(u)}" target="_blank">'
                            f'{e(u.rsplit("/", 1)[-1][:40])}</a></div>' for u in m["media_urls"])
            at = _stamp(m["created_at"])
            rows.append((at, f'<div class="bubble theirs" data-status="{e(label)}">'
                         f'<div class="meta">{e(campaign)}</div>{e(m["body"])}{media}'
                         f'<div class="ticks {e(label)}" title="{e(label)}">{_clock(at)} '
                         f'<span class="tick">{tick}</span> {e(label)}</div></div>'))
        rows.sort(key=lambda r: r[0])
        return "".join(r for _, r in rows) or \
            '<div class="empty">Write to a campaign below, as a customer would.</div>'

    def slack_panel(self, user: str, place: str) -> str:
        me = self.ws.agent_by_slack(user)
        dm = "D" + user
        links = [f'<a class="place{" active" if place == "home" else ""}" data-place="home" '
                 f'href="#">⌂ Home</a>', '<div class="sec">Channels</div>']
        for channel, name, what in self.channels():
            count = sum(1 for (ch, _), m in self.slack.messages.items()
                        if ch == channel and not m.get("thread_ts"))
            links.append(f'<a class="place{" active" if place == channel else ""}" '
                         f'data-place="{e(channel)}" href="#" title="{e(what)}"># {e(name)}'
                         f'{f"<span class=count>{count}</span>" if count else ""}</a>')
        dms = sum(1 for (ch, _), _m in self.slack.messages.items() if ch == dm)
        links += ['<div class="sec">Direct messages</div>',
                  f'<a class="place{" active" if place == dm else ""}" data-place="{e(dm)}" '
                  f'href="#">Relay Desk{f"<span class=count>{dms}</span>" if dms else ""}</a>']
        if place == "home":
            title, body = "Home · Relay Desk", self.home(user)
        else:
            title = (f"# {self.channel_name(place)}" if place != dm else "Relay Desk (app)")
            body = self.channel(place, user)
        stack = [v for v in self.stacks.get(user, []) if v in self.slack.views]
        overlay = ""
        if stack:
            view = self.slack.views[stack[-1]]
            modal = blockkit.modal(view, self.errors.get(view["id"]), self.name)
            overlay = f'<div class="overlay">{modal}</div>'
        who = f'{e(me.label)} · {e(", ".join(me.roles))}' if me else e(user)
        return (f'<div class="slack-app" data-as="{e(user)}" data-place="{e(place)}">'
                f'<nav class="sidebar"><div class="ws">{e(self.ws.name)}</div>'
                f'<div class="me">{who}</div>{"".join(links)}</nav>'
                f'<main class="pane"><header class="pane-head">{e(title)}</header>'
                f'<div class="pane-body">{body}</div>'
                f'<form class="command"><input name="command" data-keep autocomplete="off" '
                f'placeholder="/relaydesk online · away · offline · status · mine · gallery">'
                f'<button type="submit">Run</button></form></main>{overlay}</div>')

    def home(self, user: str) -> str:
        view = self.slack.home_view(user)
        if view is None:
            return '<div class="empty">Opening Home…</div>'
        return f'<div class="home" data-view="{e(view["id"])}">' \
               f'{blockkit.blocks(view.get("blocks"), self.name)}</div>'

    def channel(self, channel: str, user: str) -> str:
        parents = sorted((m for (ch, _), m in self.slack.messages.items()
                          if ch == channel and not m.get("thread_ts")), key=lambda m: m["ts"])
        out = [self.message(m, user, with_thread=True) for m in parents]
        out += [self.ephemeral(x) for x in self.slack.ephemerals
                if x["user"] == user and x["channel"] == channel and not x.get("thread_ts")]
        out += [f'<div class="msg ephemeral"><div class="who">Relay Desk · /relaydesk '
                f'<span class="only">Only visible to you</span></div>'
                f'<div class="body">{blockkit.mrkdwn(n["text"], self.name)}</div></div>'
                for n in self.notes if n["user"] == user and n["place"] == channel]
        return "".join(out) or '<div class="empty">Nothing here yet.</div>'

    def message(self, m: dict[str, Any], user: str, with_thread: bool = False) -> str:
        author = m.get("user") or ""
        app = ' <span class="app">APP</span>' if author == self.slack.bot_user_id else ""
        body = blockkit.blocks(m["blocks"], self.name) if m.get("blocks") else \
            f'<div class="bk-text">{blockkit.mrkdwn(m.get("text", ""), self.name)}</div>'
        reactions = "".join(f'<span class="reaction" data-name="{e(r)}" title=":{e(r)}:">'
                            f'{blockkit.EMOJI.get(r, ":" + e(r) + ":")}'
                            f'{f" {STATUS[r]}" if r in STATUS else ""}</span>'
                            for r in m.get("reactions") or [])
        thread = ""
        if with_thread:
            replies = self.slack.thread(m["channel"], m["ts"])
            notes = [x for x in self.slack.ephemerals if x["user"] == user
                     and x["channel"] == m["channel"] and x.get("thread_ts") == m["ts"]]
            thread = ('<div class="thread">' + "".join(self.message(r, user) for r in replies)
                      + "".join(self.ephemeral(x) for x in notes)
                      + f'<form class="reply" data-channel="{e(m["channel"])}" '
                      f'data-thread="{e(m["ts"])}"><input name="reply-{e(m["ts"])}" data-keep '
                      'autocomplete="off" placeholder="Reply in thread…"><button type="submit">'
                      'Reply</button></form></div>') if (replies or notes or m.get("blocks")) \
                else ""
        return (f'<div class="msg{" mine" if author == user else ""}" '
                f'data-channel="{e(m["channel"])}" data-ts="{e(m["ts"])}">'
                f'<div class="who">{e(self.name(author))}{app} '
                f'<time>{_clock(float(m["ts"]))}</time></div>'
                f'<div class="body">{body}</div>'
                f'{f"<div class=reactions>{reactions}</div>" if reactions else ""}{thread}</div>')

    def ephemeral(self, x: dict[str, Any]) -> str:
        body = blockkit.blocks(x["blocks"], self.name) if x.get("blocks") else \
            blockkit.mrkdwn(x.get("text", ""), self.name)
        return (f'<div class="msg ephemeral"><div class="who">Relay Desk <span class="only">'
                f'Only visible to you</span></div><div class="body">{body}</div></div>')

    # -- what people do ---------------------------------------------------------------

    async def post(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        async with self._http.post(self.settings.local_url + path, data=body.encode(),
                                   headers=headers) as resp:
            return resp.status, await resp.text()

    async def customer_writes(self, campaign_id: str, phone: str, name: str, text: str
                              ) -> int:
        campaign = self.ws.campaign(campaign_id)
        if campaign is None:
            raise web.HTTPBadRequest(reason=f"no campaign {campaign_id!r}")
        form = customer_form(campaign, phone, name or phone, text)
        entry = {"channel": campaign.channel, "campaign_label": campaign.label, "phone": phone,
                 "text": text, "at": time.time(), "status": 0}
        self.customers.append(entry)
        entry["status"], _ = await self.post(
            "/twilio/messages", urlencode(form),
            twilio_headers(self.settings.callback_url("/twilio/messages"), form))
        self.version += 1
        return entry["status"]

    def _user(self, user: str) -> dict[str, Any]:
        agent = self.ws.agent_by_slack(user)
        return {"id": user, "username": agent.id if agent else user.lower(),
                "name": agent.id if agent else user.lower(), "team_id": self.slack.team_id}

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        return {"type": kind, "user": self._user(user), "api_app_id": "ASANDBOX",
                "token": "sandbox", "team": {"id": self.slack.team_id, "domain": "sandbox"},
                "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}",
                "is_enterprise_install": False, "enterprise": None}

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post("/slack/events", body, slack_headers(body, FORM))

    def _values(self, state: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for block_id, field in (state or {}).items():
            kind, value = field.get("type"), field.get("value") or ""
            values[block_id] = {field.get("action") or block_id: (
                {"type": "static_select",
                 "selected_option": {"value": value, "text": {"type": "plain_text",
                                                              "text": value}} if value else None}
                if kind == "static_select" else {"type": kind or "plain_text_input",
                                                 "value": value or None})}
        return values

    def _opened(self, user: str, trigger: str) -> None:
        """A view the click opened (views.open) or pushed (views.push) joins their stack."""
        method, view_id = self.slack.opened.pop(trigger, ("", ""))
        if method == "views.open":
            self.stacks[user] = [view_id]
        elif method == "views.push":
            self.stacks.setdefault(user, []).append(view_id)

    async def act(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        kind = data.get("kind")
        try:
            if kind in ("button", "select"):
                return await self._block_action(user, kind, data)
            if kind == "submit":
                return await self._submit(user, data)
            if kind == "close":
                stack = self.stacks.get(user, [])
                if stack and stack[-1] == data.get("view_id"):
                    stack.pop()
                return {"status": 200}
            if kind == "reply":
                return await self._reply(user, data)
            if kind == "home":
                body = json.dumps(event_callback({"type": "app_home_opened", "user": user,
                                                  "channel": "D" + user, "tab": "home",
                                                  "event_ts": f"{time.time():.6f}"}))
                status, _ = await self.post("/slack/events", body, slack_headers(body))
                return {"status": status}
            if kind == "command":
                return await self._command(user, data)
            raise web.HTTPBadRequest(reason=f"unknown kind {kind!r}")
        finally:
            self.version += 1

    async def _block_action(self, user: str, kind: str, data: dict[str, Any]
                            ) -> dict[str, Any]:
        payload = self._base("block_actions", user)
        action: dict[str, Any] = {"action_id": data.get("action_id", ""),
                                  "block_id": data.get("block_id", ""),
                                  "action_ts": f"{time.time():.6f}"}
        if kind == "button":
            action |= {"type": "button", "value": data.get("value", ""),
                       "text": {"type": "plain_text", "text": data.get("label", "")}}
        else:
            value = data.get("value", "")
            action |= {"type": "static_select",
                       "selected_option": {"value": value,
                                           "text": {"type": "plain_text", "text": value}}}
        payload["actions"] = [action]
        view_id = data.get("view_id")
        if view_id and view_id in self.slack.views:
            view = self.slack.views[view_id]
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = view | {"state": {"values": self._values(data.get("state", {}))}}
        else:
            channel, ts = data.get("channel", ""), data.get("ts", "")
            message = self.slack.messages.get((channel, ts), {})
            payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel,
                                    "is_ephemeral": False}
            payload["channel"] = {"id": channel, "name": self.channel_name(channel)}
            payload["message"] = {k: v for k, v in message.items()
                                  if k not in ("channel", "reactions") and v is not None}
        status, _ = await self.interact(payload)
        self._opened(user, payload["trigger_id"])
        return {"status": status}

    async def _submit(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        view_id = data.get("view_id", "")
        view = self.slack.views.get(view_id)
        if view is None:
            raise web.HTTPNotFound(reason="no such view")
        payload = self._base("view_submission", user)
        payload["view"] = view | {"state": {"values": self._values(data.get("state", {}))}}
        payload["response_urls"] = []
        status, text = await self.interact(payload)
        self._opened(user, payload["trigger_id"])
        answer = json.loads(text) if text.strip().startswith("{") else {}
        stack = self.stacks.setdefault(user, [])
        action = answer.get("response_action")
        self.errors.pop(view_id, None)
        if status != 200:
            return {"status": status, "error": text}
        if action == "errors":
            self.errors[view_id] = answer.get("errors") or {}
        elif action == "update":
            self.slack.show_view(answer["view"], view_id)
        elif action == "push":
            stack.append(self.slack.show_view(answer["view"])["id"])
        elif action == "clear":
            stack.clear()
        elif stack and stack[-1] == view_id:
            stack.pop()
        return {"status": status, "response_action": action or ""}

    async def _reply(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = data.get("channel", ""), data.get("thread_ts", "")
        text = str(data.get("text", "")).strip()
        if not (channel and thread_ts and text):
            raise web.HTTPBadRequest(reason="channel, thread_ts and text are needed")
        ts = self.slack.add_user_message(channel, user, text, thread_ts)
        body = json.dumps(thread_event(channel, user, text, ts, thread_ts))
        status, _ = await self.post("/slack/events", body, slack_headers(body))
        return {"status": status, "ts": ts}

    async def _command(self, user: str, data: dict[str, Any]) -> dict[str, Any]:
        text = str(data.get("text", "")).strip().removeprefix("/relaydesk").strip()
        place = data.get("place", "")
        agent = self.ws.agent_by_slack(user)
        form = {"token": "sandbox", "team_id": self.slack.team_id, "team_domain": "sandbox",
                "channel_id": place, "channel_name": self.channel_name(place),
                "user_id": user, "user_name": agent.id if agent else user,
                "command": "/relaydesk", "text": text, "api_app_id": "ASANDBOX",
                "response_url": self.settings.local_url + "/sandbox/console/ignored",
                "trigger_id": f"{int(time.time())}.{secrets.token_hex(6)}"}
        body = urlencode(form)
        status, answer = await self.post("/slack/events", body, slack_headers(body, FORM))
        shown = answer
        with contextlib.suppress(ValueError):
            shown = json.loads(answer).get("text", answer)
        self.notes.append({"user": user, "place": place, "text": f"/relaydesk {text}\n{shown}",
                           "at": time.time()})
        return {"status": status, "text": shown}

    async def close(self) -> None:
        self.stopping.set()
        if self._http is not None:
            await self._http.close()


def _stamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


# -- HTTP -------------------------------------------------------------------------------

CONSOLE = web.AppKey("sandbox_console", Console)


def loopback_only(request: web.Request) -> None:
    """From this machine only: a loopback peer, no proxy in between, a loopback ``Host`` (a
    DNS-rebound name is not), and for a change, JSON from the console's own page (a form
    another site posts is neither)."""
    if (request.remote not in LOOPBACK or any(h in request.headers for h in FORWARDED)
            or request.url.host not in LOOPBACK_HOSTS):
        raise web.HTTPForbidden(reason="the sandbox console answers on loopback only")
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if request.content_type != "application/json" or (
                origin and origin != f"{request.scheme}://{request.host}"):
            raise web.HTTPForbidden(reason="only the console's own page may do that")


def _console(request: web.Request) -> Console:
    loopback_only(request)
    console = request.app[CONSOLE]
    console.workspace = request.app[SERVICES].workspace
    return console


def _who(console: Console, request: web.Request) -> tuple[str, str]:
    ws = console.ws
    user = request.query.get("as", "")
    if ws.agent_by_slack(user) is None:
        first = next((a for a in ws.agents if a.presence == "online"), None) or ws.agents[0]
        user = first.slack_user
    place = request.query.get("place", "") or ws.campaigns[0].slack_channel
    return user, place


async def page(request: web.Request) -> web.Response:
    console = _console(request)
    user, place = _who(console, request)
    return web.Response(text=console.page(user, place), content_type="text/html")


async def slack_fragment(request: web.Request) -> web.Response:
    console = _console(request)
    user, place = _who(console, request)
    return web.Response(text=console.slack_panel(user, place), content_type="text/html")


async def phone_fragment(request: web.Request) -> web.Response:
    console = _console(request)
    channel = request.query.get("channel", "whatsapp")
    phone = request.query.get("phone", DEFAULT_PHONE).strip()
    return web.Response(text=console.phone_messages(channel, phone), content_type="text/html")


async def customer(request: web.Request) -> web.Response:
    console = _console(request)
    data = await request.json()
    text = str(data.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(reason="write something")
    status = await console.customer_writes(str(data.get("campaign", "")),
                                           str(data.get("phone", DEFAULT_PHONE)).strip(),
                                           str(data.get("name", "")), text)
    return web.json_response({"status": status})


async def act(request: web.Request) -> web.Response:
    console = _console(request)
    data = await request.json()
    user, _ = _who(console, request)
    user = data.get("as") if console.ws.agent_by_slack(str(data.get("as", ""))) else user
    return web.json_response(await console.act(str(user), data))


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``change`` whenever the stand-ins or the console changed."""
    console = _console(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    seen: tuple[int, ...] = ()
    quiet = 0.0
    try:
        while not console.stopping.is_set():
            now = console.signature()
            if now != seen:
                seen = now
                await response.write(f"event: change\ndata: {sum(now)}\n\n".encode())
                quiet = 0.0
            elif quiet > 15:
                await response.write(b": keep-alive\n\n")
                quiet = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(console.stopping.wait(), 0.2)
            quiet += 0.2
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def static(request: web.Request) -> web.FileResponse:
    loopback_only(request)
    name = request.match_info["name"]
    if name not in ("console.js", "console.css"):
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)


def setup(app: web.Application, settings: Settings, twilio: FakeTwilio, slack: FakeSlack
          ) -> None:
    console = Console(settings, twilio, slack)
    app[CONSOLE] = console
    app.router.add_get("/sandbox", page)
    app.router.add_get("/sandbox/", page)
    app.router.add_get("/sandbox/console/slack", slack_fragment)
    app.router.add_get("/sandbox/console/phone", phone_fragment)
    app.router.add_get("/sandbox/console/stream", stream)
    app.router.add_get("/sandbox/console/static/{name}", static)
    app.router.add_post("/sandbox/console/customer", customer)
    app.router.add_post("/sandbox/console/act", act)

    async def shutdown(_: web.Application) -> None:
        await console.close()

    app.on_shutdown.append(shutdown)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · Relay Desk sandbox</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/sandbox/console/static/console.css">
</head><body data-state="{{state}}">
<header class="top"><b>Relay Desk sandbox</b> <span>{{title}}</span>
<span class="hint">Customers on the left; Slack on the right. Every click is the signed
request Twilio or Slack would send.</span>
<label class="as">You are <select id="as" aria-label="Slack user">{{agents}}</select></label>
<span id="live" class="live" title="live updates">●</span></header>
<div class="layout"><aside class="phones">{{phones}}</aside>
<section id="slack" class="slack">{{slack}}</section></div>
<script src="/sandbox/console/static/console.js"></script>
</body></html>
"""
