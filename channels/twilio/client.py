"""The official Twilio SDK client, with its API host taken from settings.

Tests and the sandbox point ``TWILIO_API_BASE`` at a local stand-in; in production it stays
``https://api.twilio.com``. Only the scheme and host are swapped: paths, auth and parameters
are exactly what the SDK sends.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from requests import Session
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
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


class EnvironmentOnce(Session):
    """A requests session that reads the proxy settings from the environment once per host.

    requests reads them on every request, scanning every environment variable twice: about
    0.6 ms of the 1.3 ms of CPU a Twilio send costs on a small machine. A process's
    environment does not change while it runs, so the answer for a scheme, host and
    ``no_proxy`` is kept; the rest is what ``Session.merge_environment_settings`` does (a test
    compares the two)."""

    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            scheme, host = urlsplit(url)[:2]
            found = self._environ_proxies.get((scheme, host, no_proxy))
            if found is None:
                found = get_environ_proxies(url, no_proxy=no_proxy)
                self._environ_proxies[(scheme, host, no_proxy)] = found
            if proxies is not None:
                for key, value in found.items():
                    proxies.setdefault(key, value)
            if verify is True or verify is None:
                verify = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                          or verify)
        return {"proxies": merge_setting(proxies, self.proxies),
                "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify),
                "cert": merge_setting(cert, self.cert)}


#: Connections kept per host: bulk sends run many requests in flight per worker, and a
#: connection discarded from a full pool costs a new TLS handshake.
POOL_SIZE = 64


def make_client(account_sid: str, auth_token: str, api_base: str = TWILIO_API) -> Client:
    http = (TwilioHttpClient() if api_base.rstrip("/") == TWILIO_API
            else RedirectingHttpClient(api_base))
    if http.session is not None:
        http.session = EnvironmentOnce()
        for scheme in ("https://", "http://"):
            http.session.mount(scheme, HTTPAdapter(pool_maxsize=POOL_SIZE))
    client = Client(account_sid, auth_token, http_client=http)
    # The SDK imports the Messages resource's modules on first use (about 65 ms here): do it
    # now, at start-up, rather than in the first customer's reply a worker sends.
    _ = client.messages
    return client
