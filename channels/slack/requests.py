"""Check a Slack request before slack-bolt sees it: signature on the raw bytes first, then the
charset and the decoding, then the shape of what our listeners read.

Bolt verifies signatures too, but it decodes the body first and crashes on a non-numeric
timestamp, and its listeners index straight into the payload; anything refused here is a 4xx
with the reason, and nothing has been touched.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

MAX_AGE = 5 * 60  # seconds; Slack's own recommendation against replays
VID = re.compile(r"v[0-9]{1,18}")
CID = re.compile(r"c[0-9]{1,18}")
CARD_ACTION = re.compile(r"rd_(assign|transfer|escalate|close|contact|history)")
VIEW_CALLBACK = re.compile(r"rd_(assign|transfer|escalate|close|contact|contact_confirm)")
OBJECTS = ("event", "view", "message", "container")
LISTS = ("authorizations", "actions")


class Refused(ValueError):
    """Why the request is refused, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def verify(secret: str, headers: Mapping[str, str], raw: bytes,
           now: float | None = None) -> None:
    """Slack's v0 signature over the exact bytes received; raises ``Refused(403)``."""
    ts = headers.get("X-Slack-Request-Timestamp", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        raise Refused(403, "missing or malformed X-Slack-Request-Timestamp (Unix seconds)")
    if abs((time.time() if now is None else now) - int(ts)) > MAX_AGE:
        raise Refused(403, "X-Slack-Request-Timestamp is too old (or in the future)")
    given = headers.get("X-Slack-Signature", "").encode("utf-8", "surrogateescape")
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
    if not hmac.compare_digest(b"v0=" + mac.hexdigest().encode(), given):
        raise Refused(403, "invalid or missing X-Slack-Signature")


def decode(raw: bytes, charset: str | None) -> str:
    """Slack sends UTF-8; anything else is refused (415), invalid bytes too (400)."""
    try:
        name = codecs.lookup(charset or "utf-8").name
    except LookupError:
        name = ""
    if name not in ("utf-8", "ascii"):
        raise Refused(415, f"unsupported charset {charset!r}: Slack sends UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not valid UTF-8") from None


def parse(text: str, content_type: str) -> dict[str, Any]:
    """The payload as bolt will read it (JSON, a form, or a form carrying ``payload``)."""
    try:
        if content_type == "application/json" or text.startswith("{"):
            body = json.loads(text) if text else {}
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
            body = json.loads(form["payload"]) if "payload" in form else form
    except ValueError as exc:
        raise Refused(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise Refused(400, f"expected a JSON object, got {type(body).__name__}")
    shape_problem = problem(body)
    if shape_problem:
        raise Refused(400, shape_problem)
    return body


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _obj(value: Any) -> bool:
    return isinstance(value, dict)


def _state_problem(view: dict[str, Any]) -> str | None:
    state = view.get("state", {})
    values = state.get("values", {}) if _obj(state) else None
    if not _obj(values) or not all(_obj(a) and all(_obj(x) for x in a.values())
                                   for a in values.values()):
        return "view.state.values must map block ids to objects of actions"
    for actions in values.values():
        for action in actions.values():
            selected = action.get("selected_option")
            if selected is not None and not (_obj(selected) and _str(selected.get("value", ""))):
                return "selected_option must be an object with a string value"
            if action.get("value") is not None and not _str(action["value"]):
                return "an input's value must be a string"
    return None


def _metadata_problem(callback: str, metadata: Any) -> str | None:
    if not _str(metadata):
        return "view_submission without private_metadata"
    if callback != "rd_contact_confirm":
        return None if VID.fullmatch(metadata) else \
            f"private_metadata {metadata[:40]!r} is not a conversation id"
    try:
        meta = json.loads(metadata)
    except ValueError:
        meta = None
    if not (_obj(meta) and _str(meta.get("vid")) and VID.fullmatch(meta["vid"])
            and _str(meta.get("cid")) and CID.fullmatch(meta["cid"])
            and _obj(meta.get("changes"))):
        return "private_metadata of rd_contact_confirm must hold vid, cid and changes"
    return None


def problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a payload our listeners would read, or None."""
    kind = body.get("type")
    for key in OBJECTS:  # bolt's middleware reads these as objects whenever they are present
        if key in body and not _obj(body[key]):
            return f"{key} must be an object"
    for key in LISTS:
        if key in body and not (isinstance(body[key], list) and all(map(_obj, body[key]))):
            return f"{key} must be a list of objects"
    if "event" in body:
        event = body["event"]
        files = event.get("files")
        if files is not None and not (isinstance(files, list) and all(
                _obj(f) and _str(f.get("url_private", "")) for f in files)):
            return "event.files must be a list of file objects"
    if kind in ("block_actions", "view_submission"):
        user = body.get("user")
        if not (_obj(user) and _str(user.get("id"))):
            return f"{kind} without user.id"
    if kind == "block_actions":
        actions = body.get("actions")
        if not (isinstance(actions, list) and actions and all(
                _obj(a) and _str(a.get("action_id")) for a in actions)):
            return "block_actions without actions (a list of objects with an action_id)"
        action = actions[0]
        if CARD_ACTION.fullmatch(action["action_id"]):
            if not (_str(action.get("value")) and VID.fullmatch(action["value"])):
                return f"{action['action_id']}: value is not a conversation id"
            if not _str(body.get("trigger_id")):
                return f"{action['action_id']}: missing trigger_id"
            channel, container = body.get("channel"), body.get("container")
            if not ((_obj(channel) and _str(channel.get("id"))) or
                    (_obj(container) and _str(container.get("channel_id")))):
                return f"{action['action_id']}: no channel or container.channel_id"
        if action["action_id"] == "agent":
            view = body.get("view")
            if not (_obj(view) and _str(view.get("id"))):
                return "agent: the select is not in a view"
            blocks = view.get("blocks")
            if not (isinstance(blocks, list) and blocks and _obj(blocks[0])
                    and _obj(blocks[0].get("element"))
                    and isinstance(blocks[0]["element"].get("options", []), list)
                    and all(_obj(o) and _str(o.get("value")) and _obj(o.get("text"))
                            for o in blocks[0]["element"].get("options", []))):
                return "agent: the view has no select of agents"
            return _metadata_problem("rd_assign", view.get("private_metadata")) or \
                _state_problem(view)
    if kind == "view_submission":
        view = body.get("view")
        if not (_obj(view) and _str(view.get("callback_id"))):
            return "view_submission without view.callback_id"
        if VIEW_CALLBACK.fullmatch(view["callback_id"]):
            return _metadata_problem(view["callback_id"], view.get("private_metadata")) or \
                _state_problem(view)
    return None
