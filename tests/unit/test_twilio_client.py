"""The Twilio client a worker builds at start-up is ready to send: the SDK's lazily imported
Messages modules are loaded then, not during the first customer's reply (65 ms here); and its
session reads the proxy settings from the environment once per host, with requests' result."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import requests

import channels.twilio.client as client_module
from channels.twilio.client import EnvironmentOnce, make_client
from tests.conftest import ROOT

PROBE = """
import sys
from channels.twilio.client import make_client
before = "twilio.rest.api.v2010.account.message" in sys.modules
make_client("AC" + "0" * 32, "token", "http://127.0.0.1:9")
print(before, "twilio.rest.api.v2010.account.message" in sys.modules)
"""


def test_the_messages_resource_is_loaded_when_the_client_is_made() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    assert out == ["False", "True"]


URLS = ["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        "https://content.twilio.com/v1/ContentAndApprovals", "http://127.0.0.1:8080/x"]
ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:3128"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "api.twilio.com,127.0.0.1"},
    {"https_proxy": "http://other.example:8080", "REQUESTS_CA_BUNDLE": "/etc/ssl/ca.pem"},
    {"ALL_PROXY": "socks5://proxy.example:1080", "CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_session_merges_the_environment_as_requests_does(
        monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.endswith("_CA_BUNDLE"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    ours, theirs = EnvironmentOnce(), requests.Session()
    for _ in range(2):  # the second time from what the first read
        for url in URLS:
            for proxies in (None, {}, {"no_proxy": "127.0.0.1"}):
                mine = ours.merge_environment_settings(url, copy.copy(proxies), None, None, None)
                real = theirs.merge_environment_settings(url, copy.copy(proxies), None, None,
                                                         None)
                assert mine == real, (url, proxies)


def test_the_environment_is_read_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    real = client_module.get_environ_proxies
    monkeypatch.setattr(client_module, "get_environ_proxies",
                        lambda url, no_proxy=None: reads.append(url) or real(url, no_proxy))
    session = EnvironmentOnce()
    for _ in range(5):
        for url in URLS[:2]:
            session.merge_environment_settings(url, {}, None, None, None)
    assert len(reads) == 2  # one per host
    assert isinstance(make_client("AC" + "0" * 32, "token", "http://127.0.0.1:9")
                      .http_client.session, EnvironmentOnce)
