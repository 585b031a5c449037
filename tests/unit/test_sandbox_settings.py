"""Settings: a deployment that forgot its credentials does not become a public sandbox."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from gateway.settings import Settings, is_loopback

CREDS = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t",
         "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "SLACK_", "PUBLIC_")) or name in (
                "HOST", "SANDBOX", "PORT", "WEB_PORT"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_sandbox_on_a_loopback_host(host: str) -> None:
    assert Settings(_env_file=None, host=host).sandbox


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "desk.example.com"])
def test_no_credentials_on_a_reachable_host_refuses_to_start(host: str,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("HOST", host)
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None)
    message = str(error.value)
    assert f"HOST={host} is not a loopback address" in message
    assert all(name in message for name in CREDS) and "SANDBOX=1" in message
    monkeypatch.setenv("SANDBOX", "1")
    assert Settings(_env_file=None).sandbox


def test_sandbox_with_credentials_is_a_contradiction(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOST", "0.0.0.0")
    assert not Settings(_env_file=None).sandbox
    monkeypatch.setenv("SANDBOX", "1")
    with pytest.raises(ValidationError, match="SANDBOX=1 but Twilio and Slack credentials"):
        Settings(_env_file=None)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("LOCALHOST") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("localhost.example.com")
