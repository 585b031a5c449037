"""``python -m gateway simulate``: be the customer and the agent against a sandbox gateway.

It signs a WhatsApp or SMS webhook exactly as Twilio would and posts it, then signs a Slack
thread reply exactly as Slack would, and prints what the Slack and Twilio stand-ins inside the
gateway received: the thread card, the customer's message, the message that reached the
customer's phone, and its delivery status as the agent sees it.

Scripted (``--say TEXT --reply TEXT``) it runs one round trip; with neither it is an
interactive prompt. A reply the gateway refuses (not the assignee, conversation closed, window
closed, ...) is answered in Slack with an ephemeral message to the agent: simulate shows it and
stops there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from gateway.settings import (
    SANDBOX_SLACK_SECRET,
    SANDBOX_TWILIO_SID,
    SANDBOX_TWILIO_TOKEN,
    desk_redis,
    load_settings,
)
from routing.config import Campaign, Workspace, load_config

EXIT_CODES = """\
exit codes (scripted):
  0  the round trip happened: the reply reached the customer and showed its final status; or
     the agent's reply was refused and the refusal was shown; or --reply was an internal ;;note
  1  a step did not happen within --timeout, the gateway answered a webhook with an error, or
     there is nothing to simulate against (no gateway, not in sandbox mode, Redis unreachable,
     no Relay Desk data in Redis)
  2  invalid arguments (e.g. a --campaign the config does not have)"""

STATUS_BY_EMOJI = {"hourglass_flowing_sand": "pending", "heavy_check_mark": "sent",
                   "ballot_box_with_check": "delivered", "eyes": "read", "x": "failed"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.split("\n\n", 1)[1].strip()
    p.epilog = EXIT_CODES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--url", default="", help="the gateway (default: from HOST/PORT)")
    p.add_argument("--config", default="", help="YAML config (default: GATEWAY_CONFIG)")
    p.add_argument("--channel", choices=("whatsapp", "sms"), default="whatsapp")
    p.add_argument("--campaign", default="", help="campaign id (default: the first campaign "
                   "of --channel)")
    p.add_argument("--phone", default="+525512345678", help="the customer's phone")
    p.add_argument("--name", default="Lucía", help="the customer's WhatsApp profile name")
    p.add_argument("--agent", default="", help="Slack user id of the agent (default: the "
                   "first agent who starts online)")
    p.add_argument("--say", default="", help="scripted: what the customer writes")
    p.add_argument("--reply", default="", help="scripted: what the agent answers")
    p.add_argument("--template", default="", help="scripted: the agent sends this template of "
                   "the campaign to --phone (an active message) instead of a conversation")
    p.add_argument("--var", action="append", default=[], help="a template variable, in order "
                   "(default: the template's examples)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each step")


def say(side: str, text: str) -> None:
    print(f"{side:<22} {text}", flush=True)


def customer_address(channel: str, phone: str) -> str:
    """How Twilio addresses a customer on a channel."""
    return f"whatsapp:{phone}" if channel == "whatsapp" else phone


def customer_form(campaign: Campaign, phone: str, name: str, text: str) -> dict[str, str]:
    """The form Twilio posts for a customer's message to a campaign's number."""
    sid = "SM" + secrets.token_hex(16)
    form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": SANDBOX_TWILIO_SID,
            "From": customer_address(campaign.channel, phone), "To": campaign.address,
            "Body": text, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    if campaign.channel == "whatsapp":
        form |= {"ProfileName": name, "WaId": phone.lstrip("+")}
    return form


def twilio_headers(url: str, form: dict[str, str]) -> dict[str, str]:
    """Signed as Twilio signs a webhook to ``url`` (the public URL the gateway checks)."""
    return {"X-Twilio-Signature": RequestValidator(SANDBOX_TWILIO_TOKEN).compute_signature(
        url, form), "Content-Type": "application/x-www-form-urlencoded"}


def thread_event(channel: str, user: str, text: str, ts: str, thread_ts: str
                 ) -> dict[str, Any]:
    """The Events API callback for a person's reply in a thread."""
    return event_callback({"type": "message", "channel": channel, "user": user, "text": text,
                           "ts": ts, "thread_ts": thread_ts, "channel_type": "channel",
                           "event_ts": ts})


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T0001", "api_app_id": "A0SANDBOX",
            "event_id": "Ev" + secrets.token_hex(8), "event_time": int(time.time()),
            "event": event}


def slack_headers(body: str, content_type: str = "application/json") -> dict[str, str]:
    """Signed as Slack signs a request (Events API, interactivity, slash commands)."""
    stamp = str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(SANDBOX_SLACK_SECRET).generate_signature(
                timestamp=stamp, body=body)}


class Simulator:
    def __init__(self, http: aiohttp.ClientSession, url: str, public_url: str,
                 campaign: Campaign, phone: str, name: str, agent: str, timeout: float) -> None:
        self.http, self.url, self.public_url = http, url.rstrip("/"), public_url.rstrip("/")
        self.campaign, self.phone, self.name, self.agent = campaign, phone, name, agent
        self.timeout = timeout
        self.slack_seen, self.twilio_seen = 0, 0
        self.thread_ts = ""
        self.agent_ts = ""  # the agent message this run wrote
        self.reactions: dict[str, list[str]] = {}
        self.refusal = ""  # what Slack showed only to the agent after their reply
        self.quiet = False

    @property
    def customer(self) -> str:
        return customer_address(self.campaign.channel, self.phone)

    async def customer_writes(self, text: str) -> bool:
        form = customer_form(self.campaign, self.phone, self.name, text)
        async with self.http.post(
            self.url + "/twilio/messages", data=urlencode(form),
            headers=twilio_headers(self.public_url + "/twilio/messages", form),
        ) as resp:
            say(f"customer -> {self.campaign.channel}", f"{text!r} (gateway answered "
                f"{resp.status})")
            if resp.status != 200:
                say("", await resp.text())
        return resp.status == 200

    async def agent_replies(self, text: str) -> bool:
        if not self.thread_ts:
            say("agent", "no thread yet: write as the customer first")
            return False
        self.refusal = ""
        ts = self.agent_ts = f"{time.time():.6f}"
        body = json.dumps(thread_event(self.campaign.slack_channel, self.agent, text, ts,
                                       self.thread_ts))
        async with self.http.post(self.url + "/slack/events", data=body,
                                  headers=slack_headers(body)) as r:
            say(f"agent {self.agent} -> slack", f"{text!r} (gateway answered {r.status})")
        return r.status == 200

    async def catch_up(self) -> None:
        """Skip what the stand-ins received before this run."""
        self.quiet = True
        await self.poll()
        self.quiet, self.thread_ts, self.reactions = False, "", {}

    async def poll(self) -> None:
        """Print what the stand-ins received since the last poll."""
        async with self.http.get(self.url + f"/sandbox/slack/api/log?since={self.slack_seen}") as r:
            log = await r.json()
        for call in log["calls"]:
            self.slack_seen = call["index"]
            self._show_slack(call["method"], call["params"])
        async with self.http.get(self.url + "/sandbox/twilio/log") as r:
            messages = (await r.json())["messages"]
        for msg in messages[self.twilio_seen:]:
            self._say(f"{msg['to']} <-", f"template {msg['content_sid']} with "
                      f"{msg['content_variables']}" if msg.get("content_sid")
                      else repr(msg["body"]))
        self.twilio_seen = len(messages)

    def _show_slack(self, method: str, p: dict[str, Any]) -> None:
        if method == "chat.postMessage" and str(p.get("channel", "")).startswith("D"):
            self._say(f"slack DM {p['channel'][1:]}", p.get("text", ""))
        elif method == "chat.postMessage" and not p.get("thread_ts"):
            self._say(f"slack #{p.get('channel')}", f"new thread card: {p.get('text')}")
        elif method == "chat.postMessage":
            if p.get("channel") == self.campaign.slack_channel and not self.quiet:
                self.thread_ts = p["thread_ts"]
            self._say("slack thread", p.get("text", ""))
        elif method == "chat.update":
            self._say("slack card updated", p.get("text", ""))
        elif method == "chat.postEphemeral":
            if (not self.quiet and p.get("user") == self.agent
                    and p.get("thread_ts") == self.thread_ts):
                self.refusal = p.get("text", "")
            self._say(f"slack (only {p.get('user')})", p.get("text", ""))
        elif method == "reactions.add":
            self.reactions.setdefault(p["timestamp"], []).append(p["name"])
            self._say("slack agent message", f"status: {STATUS_BY_EMOJI.get(p['name'], p['name'])}")

    def _say(self, side: str, text: str) -> None:
        if not self.quiet:
            say(side, text)

    async def wait(self, done: Any, what: str) -> bool:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            await self.poll()
            if done():
                return True
            await asyncio.sleep(0.1)
        say("simulate", f"timed out waiting for {what}")
        return False


async def scripted(sim: Simulator, text: str, reply: str) -> int:
    await sim.catch_up()
    sent_before = sim.twilio_seen
    if not await sim.customer_writes(text):
        return 1
    if not await sim.wait(lambda: sim.thread_ts, "the message in a Slack thread"):
        return 1
    if not reply:
        return 0
    if not await sim.agent_replies(reply):
        return 1
    if reply.startswith(";;"):
        say("simulate", "an internal note: kept with the contact, never sent to the customer")
        return 0
    # A refusal is posted (ephemeral, to the agent) before the gateway answers Slack, so it is
    # in the stand-in's log by now; a reply that was accepted goes on to Twilio.
    if not await sim.wait(lambda: sim.refusal or sim.twilio_seen > sent_before,
                          "the reply to reach Twilio"):
        return 1
    if sim.refusal:
        say("simulate", "the gateway refused the agent's reply (above); nothing was sent to "
            "the customer")
        return 0
    final = "read" if sim.campaign.channel == "whatsapp" else "delivered"
    def shown() -> bool:
        return any(STATUS_BY_EMOJI.get(e) == final for e in sim.reactions.get(sim.agent_ts, []))

    return 0 if await sim.wait(shown, f"the agent's message to show {final}") else 1


async def scripted_template(sim: Simulator, agent_id: str, name: str, values: list[str]
                            ) -> int:
    """An active message: the agent sends a template to the customer (through the API, as the
    Contact modal and ``/relaydesk send`` do), then its send and delivery status are shown."""
    from gateway.app import SANDBOX_ADMIN_TOKEN

    template = sim.campaign.template(name)
    if template is None:
        say("simulate", f"{sim.campaign.id} has no template {name!r} (templates: "
            f"{', '.join(t.name for t in sim.campaign.templates) or 'none'})")
        return 2
    await sim.catch_up()
    sent_before = sim.twilio_seen
    values = values or [v.example for v in template.variables]
    async with sim.http.post(
            sim.url + "/api/active-messages",
            json={"campaign": sim.campaign.id, "to": sim.phone, "template": name,
                  "variables": values, "agent": agent_id},
            headers={"Authorization": f"Bearer {SANDBOX_ADMIN_TOKEN}"}) as resp:
        answer = await resp.json()
    say(f"agent {sim.agent} -> template", f"{name} {values} (gateway answered {resp.status}: "
        f"{answer.get('error') or 'conversation ' + answer.get('conversation', '')})")
    if resp.status >= 300:
        return 0 if resp.status in (403, 409, 422) else 1
    if not await sim.wait(lambda: sim.twilio_seen > sent_before, "the template to reach Twilio"):
        return 1
    final = "read" if sim.campaign.channel == "whatsapp" else "delivered"

    def shown() -> bool:
        return any(STATUS_BY_EMOJI.get(e) == final for es in sim.reactions.values() for e in es)

    return 0 if await sim.wait(shown, f"the template to show {final}") else 1


async def interactive(sim: Simulator) -> int:
    print("Type as the customer; start a line with '>' to answer as the agent; Ctrl-D quits.")
    loop = asyncio.get_running_loop()
    await sim.catch_up()
    while True:
        await sim.poll()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return 0
        line = line.strip()
        if line.startswith(">"):
            await sim.agent_replies(line[1:].strip())
        elif line:
            await sim.customer_writes(line)
        await asyncio.sleep(1.0)


async def run(args: argparse.Namespace, workspace: Workspace, url: str, public_url: str) -> int:
    campaign = (workspace.campaign(args.campaign) if args.campaign else
                next((c for c in workspace.campaigns if c.channel == args.channel), None))
    if campaign is None:
        say("simulate", f"no campaign {args.campaign or args.channel!r}")
        return 2
    agent = args.agent or next(
        (a.slack_user for a in workspace.agents if a.presence == "online"),
        workspace.agents[0].slack_user if workspace.agents else "U0NOBODY")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        try:
            async with http.get(url + "/healthz") as r:
                health = await r.json()
        except aiohttp.ClientError:
            say("simulate", f"no gateway at {url}: start it with `make run`")
            return 1
        if not health.get("sandbox"):
            say("simulate", "the gateway has real credentials; simulate needs sandbox mode")
            return 1
        sim = Simulator(http, url, public_url, campaign, args.phone, args.name, agent,
                        args.timeout)
        if args.template:
            found = workspace.agent_by_slack(agent)
            return await scripted_template(sim, found.id if found else "", args.template,
                                           args.var)
        if args.say:
            return await scripted(sim, args.say, args.reply)
        return await interactive(sim)


def main(args: argparse.Namespace) -> None:
    settings = load_settings()
    workspace = load_config(args.config or settings.gateway_config)
    desk_redis(settings).close()  # the gateway's Redis, derived as it derives it
    url = args.url or settings.local_url
    sys.exit(asyncio.run(run(args, workspace, url, settings.public_url)))
