"""The official Twilio SDK client, with its API host taken from settings.

Tests and the sandbox point ``TWILIO_API_BASE`` at a local stand-in; in production it stays
``https://api.twilio.com``. Only the scheme and host are swapped: paths, auth and parameters
are exactly what the SDK sends.
"""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
CONTENT_API = "https://content.twilio.com"  # the Content API (templates): same stand-in


class RedirectingHttpClient(TwilioHttpClient):
    def __init__(self, api_base: str, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        for real in (TWILIO_API, CONTENT_API):
            if url.startswith(real):
                url = self.api_base + url[len(real):]
        return super().request(method, url, *args, **kwargs)


#: Connections kept per host: bulk sends run many requests in flight per worker, and a
#: connection discarded from a full pool costs a new TLS handshake.
POOL_SIZE = 64


def make_client(account_sid: str, auth_token: str, api_base: str = TWILIO_API) -> Client:
    http = (TwilioHttpClient() if api_base.rstrip("/") == TWILIO_API
            else RedirectingHttpClient(api_base))
    if http.session is not None:
        for scheme in ("https://", "http://"):
            http.session.mount(scheme, HTTPAdapter(pool_maxsize=POOL_SIZE))
    client = Client(account_sid, auth_token, http_client=http)
    # The SDK imports the Messages resource's modules on first use (about 65 ms here): do it
    # now, at start-up, rather than in the first customer's reply a worker sends.
    _ = client.messages
    return client
