"""structlog set-up: JSON lines off a terminal, pretty on one; no full phone numbers, no bodies.

Masking is a processor, so it applies to every log call, including ones written later.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

PHONE = re.compile(r"(?<![\w])(\+?)(\d{2})(\d{3,})(\d{4})(?!\d)")
BODY_KEYS = {"body", "text", "message_body"}


def mask_phone(value: str) -> str:
    """``whatsapp:+5215512345678`` -> ``whatsapp:+52*******5678``."""
    return PHONE.sub(lambda m: f"{m[1]}{m[2]}{'*' * len(m[3])}{m[4]}", value)


def _mask(log_bodies: bool) -> structlog.types.Processor:
    def processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        for key, value in list(event.items()):
            if key in BODY_KEYS and not log_bodies:
                event[key] = f"<{len(str(value))} chars>"
            elif isinstance(value, str):
                event[key] = mask_phone(value)
        return event

    return processor


def configure(fmt: str = "auto", level: str = "info", log_bodies: bool = False) -> None:
    pretty = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer = structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask(log_bodies),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
