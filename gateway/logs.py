"""structlog set-up: JSON lines off a terminal, pretty on one; no full phone numbers, no bodies.

Masking is a processor, so it applies to every log call, including ones written later: to every
string in the event, however deep in lists and dicts, to exception text and tracebacks (they
are rendered to text first, then masked), and to the standard-library loggers (rq, aiohttp,
...), which are routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

import structlog

# "+" (or its URL encoding) then 9 or more digits, single separators allowed: "+52 55 1234 5678".
PLUS_PHONE = re.compile(r"(?<![\w+])(\+|%2[Bb])(\d(?:[ ().-]{0,2}\d){8,})(?!\d)")
# A bare run of 9-15 digits (WhatsApp's WaId: "525512345678"), not part of a word, a decimal
# (Slack's "1700000000.123456") or a longer id ("1700000000000-0").
BARE_PHONE = re.compile(r"(?<![\w.+%-])\d{9,15}(?![\w]|[.-]\d)")
BODY_KEYS = {"body", "text", "message_body"}
PLAIN = (int, float, bool, type(None))


def _stars(digits: str) -> str:
    """Keep the first two and the last four digits; separators stay as they are."""
    total = sum(c.isdigit() for c in digits)
    seen, out = 0, []
    for c in digits:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= 2 or seen > total - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


def _bare(match: re.Match[str]) -> str:
    digits = match[0]
    # Country code 1 (NANP) numbers have exactly 11 digits; "1" and 10 or 13 digits is a Unix
    # time in seconds or milliseconds, not a phone.
    if digits.startswith("1") and len(digits) != 11:
        return digits
    return _stars(digits)


def mask_phone(value: str) -> str:
    """``whatsapp:+5215512345678`` -> ``whatsapp:+52*******5678``."""
    value = PLUS_PHONE.sub(lambda m: m[1] + _stars(m[2]), value)
    return BARE_PHONE.sub(_bare, value)


def mask_value(value: Any) -> Any:
    """Mask every string inside ``value``; anything else is masked as its ``repr``."""
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(mask_value(v) for v in value)
    if isinstance(value, bytes):
        return mask_phone(value.decode("utf-8", "replace"))
    return mask_phone(repr(value))


def _mask(log_bodies: bool) -> structlog.types.Processor:
    def processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        for key, value in list(event.items()):
            if key.startswith("_"):  # structlog's own (e.g. the stdlib record)
                continue
            if key in BODY_KEYS and not log_bodies:
                event[key] = f"<{len(str(value))} chars>"
            else:
                event[key] = mask_value(value)
        return event

    return processor


def _logger_name(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    record = event.get("_record")
    if record is not None:
        event.setdefault("logger", record.name)
    return event


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so a second ``configure`` replaces it instead of adding another."""


def configure(fmt: str = "auto", level: str = "info", log_bodies: bool = False) -> None:
    pretty = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Callable[..., Any] = (structlog.dev.ConsoleRenderer() if pretty
                                    else structlog.processors.JSONRenderer())
    shared = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,  # tracebacks become text, then get masked
        _mask(log_bodies),
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # The standard library's loggers (rq, aiohttp, urllib3, ...) go through the same chain.
    handler = _Handler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[_logger_name, *shared],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
