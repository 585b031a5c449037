"""Logs carry no phone numbers anywhere, and mask nothing that is not one."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog
from rq.logutils import setup_loghandlers

from gateway.logs import configure, mask_phone

PHONES = ("525512345678", "14155238886")


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict]]]:
    """Call it once to configure logging (inside the test: capsys's stream is the test's), then
    again for the lines logged since, as JSON."""
    configured = False

    def lines() -> list[dict]:
        nonlocal configured
        if not configured:
            configured = True
            configure("json", "info", log_bodies=False)
            return []
        captured = capsys.readouterr()
        assert not any(p in captured.out for p in PHONES)
        return [json.loads(line) for line in captured.err.splitlines() if line.strip()]

    yield lines
    structlog.reset_defaults()


def no_phones(line: dict) -> None:
    text = json.dumps(line)
    assert not any(p in text for p in PHONES), text


def test_inside_lists_and_dicts(logs) -> None:
    logs()
    structlog.get_logger("t").info(
        "bulk", contacts=["+525512345678", "c12"],
        owners={"whatsapp:+14155238886": {"ids": ("525512345678",), "n": 3}})
    [line] = logs()
    no_phones(line)
    assert line["contacts"] == ["+52******5678", "c12"]
    assert line["owners"] == {"whatsapp:+14*****8886": {"ids": ["52******5678"], "n": 3}}


def test_in_exception_text_and_tracebacks(logs) -> None:
    logs()
    def fail(phone: str) -> None:
        raise ValueError(f"{phone!r} is not a phone number in +E.164 form")

    try:
        fail("+525512345678")
    except ValueError:
        structlog.get_logger("t").exception("failed", error=ValueError("to +14155238886"))
    [line] = logs()
    no_phones(line)
    assert "Traceback" in line["exception"] and "'+52******5678' is not" in line["exception"]


def test_in_the_standard_library_loggers_of_rq_and_aiohttp(logs) -> None:
    logs()
    setup_loghandlers("WARNING", name="rq.worker")  # what an rq worker does when it starts
    logging.getLogger("rq.worker").warning("job twilio:v1 for %s failed", "whatsapp:+525512345678")
    try:
        raise RuntimeError("send to +14155238886 failed")
    except RuntimeError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    rq, aiohttp = logs()
    for line in (rq, aiohttp):
        no_phones(line)
    assert rq["event"] == "job twilio:v1 for whatsapp:+52******5678 failed"
    assert rq["logger"] == "rq.worker" and rq["level"] == "warning"
    assert aiohttp["logger"] == "aiohttp.server" and "+14*****8886" in aiohttp["exception"]


def test_no_over_masking(logs) -> None:
    logs()
    values = {"thread_ts": "1700000000.123456", "event_id": "1700000000123-0",
              "sid": "SM" + "1" * 32, "time": "1700000000", "ms": "1700000000123",
              "conversation": "v123456789", "text_ref": "ts 1700000000.123456 in C0123456789"}
    structlog.get_logger("t").info("slack", **values)
    [line] = logs()
    assert {k: line[k] for k in values} == values


@pytest.mark.parametrize(("raw", "masked"), [
    ("whatsapp:+525512345678", "whatsapp:+52******5678"),
    ("+52 55 1234 5678", "+52 ** **** 5678"),
    ("/api/contacts/%2B525512345678/owner", "/api/contacts/%2B52******5678/owner"),
    ("WaId=525512345678", "WaId=52******5678"),
    ("14155238886", "14*****8886"),
])
def test_mask_phone_forms(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked
