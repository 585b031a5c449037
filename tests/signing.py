"""Sign requests exactly as Twilio and Slack do, with their own SDKs' signers."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


def slack_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(signing_secret).generate_signature(
            timestamp=ts, body=body),
        "Content-Type": "application/json",
    }


def whatsapp_form(sid: str, text: str, phone: str = "+525512345678",
                  to: str = "whatsapp:+14155238886", name: str = "Lucía",
                  media: list[tuple[str, str]] = ()) -> dict[str, str]:
    form = {
        "MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{phone}", "To": to, "Body": text, "ProfileName": name,
        "WaId": phone.lstrip("+"), "NumMedia": str(len(media)), "ApiVersion": "2010-04-01",
    }
    for i, (ctype, url) in enumerate(media):
        form[f"MediaContentType{i}"], form[f"MediaUrl{i}"] = ctype, url
    return form


def sms_form(sid: str, text: str, phone: str = "+525512345678",
             to: str = "+15005550006") -> dict[str, str]:
    return {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": phone, "To": to, "Body": text, "NumMedia": "0", "ApiVersion": "2010-04-01"}


def thread_reply_event(event_id: str, channel: str, thread_ts: str, user: str, text: str,
                       ts: str | None = None) -> dict[str, Any]:
    ts = ts or f"{time.time():.6f}"
    return {
        "token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()),
        "event": {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                  "thread_ts": thread_ts, "channel_type": "channel", "event_ts": ts},
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
    }


def encode_form(form: dict[str, str]) -> str:
    return urlencode(form)


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def slash_command(user: str, text: str, command: str = "/relaydesk") -> dict[str, str]:
    return {"token": "legacy", "team_id": "T0001", "team_domain": "acme", "channel_id": "C0X",
            "channel_name": "support", "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": "A0001",
            "response_url": "https://hooks.slack.com/commands/T0001/1/x",
            "trigger_id": "1.2.3"}


def button_click(user: str, action: str, value: str, channel: str, message_ts: str
                 ) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0001",
            "token": "legacy", "team": {"id": "T0001"}, "trigger_id": f"trig-{action}",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel},
            "actions": [{"action_id": action, "block_id": "rd_actions", "value": value,
                         "type": "button", "action_ts": "1"}]}


def select_in_view(user: str, view: dict[str, Any], block: str, value: str) -> dict[str, Any]:
    state = {"values": {block: {block: {"type": "static_select",
                                        "selected_option": {"value": value}}}}}
    return {"type": "block_actions", "user": {"id": user}, "api_app_id": "A0001",
            "token": "legacy", "team": {"id": "T0001"}, "trigger_id": "trig-select",
            "container": {"type": "view", "view_id": view.get("id", "V1")},
            "view": view | {"id": view.get("id", "V1"), "hash": "h1", "state": state},
            "actions": [{"action_id": block, "block_id": block, "type": "static_select",
                         "selected_option": {"value": value}, "action_ts": "1"}]}


def submit_view(user: str, callback: str, metadata: str, fields: dict[str, str],
                selects: tuple[str, ...] = ()) -> dict[str, Any]:
    values = {k: {k: ({"type": "static_select", "selected_option": {"value": v}} if k in selects
                      else {"type": "plain_text_input", "value": v})} for k, v in fields.items()}
    return {"type": "view_submission", "user": {"id": user}, "api_app_id": "A0001",
            "token": "legacy", "team": {"id": "T0001"}, "trigger_id": "trig-submit",
            "view": {"id": "V1", "type": "modal", "callback_id": callback, "hash": "h1",
                     "private_metadata": metadata, "state": {"values": values}}}
