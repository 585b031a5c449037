"""The Twilio client a worker builds at start-up is ready to send: the SDK's lazily imported
Messages modules are loaded then, not during the first customer's reply (65 ms here)."""

from __future__ import annotations

import subprocess
import sys

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
