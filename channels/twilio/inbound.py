"""Turn Twilio's form-encoded webhooks into domain messages, and check their signatures.

Signatures are checked against the *public* URL Twilio called (``PUBLIC_URL`` + path and
query), not the URL this process sees, so the check holds behind a TLS-terminating proxy.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from twilio.request_validator import RequestValidator

from routing.config import e164
from routing.types import Choice, InboundMessage, Media

MAX_MEDIA = 10  # Twilio sends at most 10 media items per message
MAX_FIELDS = 200  # a message webhook has about 20; media adds 2 each
CHARSETS = {"utf-8", "ascii"}  # Twilio sends UTF-8 (ASCII is a subset)


class BadWebhook(ValueError):
    """The request is malformed; the message says what is wrong (sent back with a 400)."""


class UnsupportedCharset(BadWebhook):
    """The body is declared in a charset we do not read (sent back with a 415)."""


@lru_cache(maxsize=32)
def charset_of(declared: str | None) -> str:
    """The codec for a declared charset (none means UTF-8), if it is UTF-8 or ASCII."""
    try:
        name = codecs.lookup(declared or "utf-8").name
    except LookupError:
        name = ""
    if name not in CHARSETS:
        raise UnsupportedCharset(f"unsupported charset {declared!r}: send UTF-8")
    return name


def parse_form(raw: bytes, declared_charset: str | None) -> dict[str, str]:
    """A form-encoded body, decoded strictly: bytes or %-escapes that are not valid UTF-8 are
    refused, never replaced (the signature is computed over what Twilio meant)."""
    charset = charset_of(declared_charset)
    try:
        text = raw.decode(charset).rstrip()
    except UnicodeDecodeError:
        raise BadWebhook(f"the body is not valid {charset.upper()}") from None
    if text.count("&") >= MAX_FIELDS:
        raise BadWebhook(f"more than {MAX_FIELDS} form fields")
    # What parse_qsl(keep_blank_values=True, errors="strict") returns, as a dict, at a fraction
    # of its cost. Twilio escapes every non-ASCII byte, so the usual body is ASCII; when no
    # escape in it stands for '&' or '=', the whole body is unescaped at once and split after
    # (a separator is ASCII, never part of a multibyte character, so strictness is the same).
    try:
        if text.isascii() and "%26" not in text and "%3D" not in text and "%3d" not in text:
            if "%" in text:
                text = unquote_to_bytes(text.replace("+", " ")).decode(charset)
            elif "+" in text:
                text = text.replace("+", " ")
            return {name: value for name, _, value in
                    (field.partition("=") for field in text.split("&") if field)}
        form = {}
        for field in text.split("&"):
            if field:
                name, _, value = field.partition("=")
                form[_unquote(name, charset)] = _unquote(value, charset)
    except UnicodeDecodeError:
        raise BadWebhook(f"the body is not valid {charset.upper()}") from None
    return form


def _unquote(part: str, charset: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    if "%" not in part:
        return part
    return unquote_to_bytes(part).decode(charset)  # strict: bad escapes raise


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> bytes:
    """Twilio's signature of a form POST: HMAC-SHA1 of the URL followed by every parameter
    name and value, sorted by name, base64-encoded. The SDK's ``compute_signature`` for a
    dict of single values, without its per-call set-up (a quarter of the time)."""
    payload = url + "".join([name + params[name] for name in sorted(params)])
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest)


def signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """One HMAC for the exact public URL (the usual case); then the SDK's full check, which
    also accepts the URL with or without an explicit default port."""
    if not signature or not signature.isascii():  # a base64 HMAC is ASCII
        return False
    if hmac.compare_digest(compute_signature(auth_token, url, params), signature.encode()):
        return True
    return RequestValidator(auth_token).validate(url, dict(params), signature)


def _required(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise BadWebhook(f"missing {name}")
    return value


def parse_address(value: str, field: str) -> tuple[str, str]:
    """``whatsapp:+1...`` or ``+1...`` -> (channel, E.164 phone)."""
    channel, _, number = value.rpartition(":")
    if channel not in ("", "whatsapp"):
        raise BadWebhook(f"{field}: unsupported channel {channel!r} (whatsapp or SMS only)")
    try:
        phone = e164(number)
    except ValueError as exc:
        raise BadWebhook(f"{field}: {exc}") from None
    return ("whatsapp" if channel else "sms"), phone


def parse_message(form: Mapping[str, str]) -> InboundMessage:
    """Normalize an incoming-message webhook (WhatsApp or SMS)."""
    sid = _required(form, "MessageSid")
    if not sid.startswith(("SM", "MM")) or not sid.isalnum():
        raise BadWebhook("MessageSid is not a Twilio message SID")
    channel, phone = parse_address(_required(form, "From"), "From")
    to_channel, to_phone = parse_address(_required(form, "To"), "To")
    if channel != to_channel:
        raise BadWebhook("From and To are on different channels")
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise BadWebhook("NumMedia is not a number") from None
    if not 0 <= num_media <= MAX_MEDIA:
        raise BadWebhook(f"NumMedia must be between 0 and {MAX_MEDIA}")
    media = []
    for i in range(num_media):
        url = _required(form, f"MediaUrl{i}")
        if not url.startswith(("https://", "http://")):
            raise BadWebhook(f"MediaUrl{i} is not an http(s) URL")
        media.append(Media(form.get(f"MediaContentType{i}") or "application/octet-stream", url))
    body = form.get("Body") or ""
    choice = None
    if form.get("ButtonPayload") or form.get("ButtonText"):  # A8: a quick reply
        choice = Choice("button", (form.get("ButtonPayload") or "")[:200],
                        (form.get("ButtonText") or "")[:200])
    elif form.get("ListId") or form.get("ListTitle"):  # A8: a list-picker item
        choice = Choice("list", (form.get("ListId") or "")[:200],
                        (form.get("ListTitle") or "")[:200])
    body = body or (choice.title if choice else "")
    if not body and not media:
        raise BadWebhook("a message needs a Body or media")
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    return InboundMessage(
        sid=sid,
        channel=channel,  # type: ignore[arg-type]
        phone=phone,
        customer_addr=prefix + phone,
        campaign_addr=prefix + to_phone,
        body=body,
        media=tuple(media),
        profile_name=(form.get("ProfileName") or "").strip()[:100],
        choice=choice,
    )


def parse_status(form: Mapping[str, str]) -> tuple[str, str, str]:
    """A status callback -> (MessageSid, status, error code)."""
    sid = _required(form, "MessageSid")
    status = _required(form, "MessageStatus").lower()
    known = {"accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
             "failed", "read", "receiving", "received", "canceled", "partially_delivered"}
    if status not in known:
        raise BadWebhook(f"MessageStatus {status!r} is not a Twilio message status")
    return sid, status, (form.get("ErrorCode") or "").strip()
