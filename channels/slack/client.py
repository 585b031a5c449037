"""slack_sdk's Web API client, keeping its connections open between calls.

The SDK sends every call through ``urllib``, which opens a new connection per call and closes
it after the answer: against slack.com that is a TCP and TLS handshake before each post, and
on a busy worker about half the CPU a call costs. This client sends the same requests (same
method, path, headers and body, built by the SDK) over one kept-alive connection per thread
and host, and hands the SDK the answer exactly as urllib would: a 2xx as a response dict,
anything else as ``urllib.error.HTTPError``, a failure to send as ``URLError``, so the SDK's
429, error and retry handling is unchanged. (Slack's Web API does not redirect: a 3xx is an
error here, where urllib would follow it.)

When a proxy applies (the client's ``proxy`` or the environment's ``*_proxy`` settings), the
call goes through the SDK's urllib path, which knows proxies.
"""

from __future__ import annotations

import http.client
import io
import select
import threading
import urllib.request
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import SplitResult, urlsplit

from slack_sdk import WebClient

Connection = http.client.HTTPConnection


def _readable(sock: Any) -> bool:
    """Whether an idle connection has something to read: the server closed it (or broke the
    protocol), so it cannot carry another call."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class KeepAliveWebClient(WebClient):
    """The SDK's client; each thread keeps one open connection per host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._environ_proxies = urllib.request.getproxies()  # read once: env is fixed

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request,
                                              ) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or self._proxied(parts):
            return super()._perform_urllib_http_request_internal(url, req)
        connection = self._connection(parts)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            try:
                connection.request(req.get_method(), path, body=req.data,
                                   headers=dict(req.header_items()))
            except OSError as exc:  # as urllib does: the SDK's retry handler knows URLError
                raise URLError(exc) from exc
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            self._drop(parts, connection)
            raise
        if response.will_close:
            self._drop(parts, connection)
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason, response.headers,
                            io.BytesIO(body))
        if response.headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": response.headers, "body": body}
        charset = response.headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.headers,
                "body": body.decode(charset)}

    def _proxied(self, parts: SplitResult) -> bool:
        return (parts.scheme not in ("http", "https")
                or (parts.scheme in self._environ_proxies
                    and not urllib.request.proxy_bypass(parts.hostname or "")))

    def _connection(self, parts: SplitResult) -> Connection:
        """This thread's open connection to the host, or a new one. A connection the server
        has closed while idle reads as ready (end of file): it is replaced, not reused."""
        connections: dict[str, Connection] = self._local.__dict__.setdefault("connections", {})
        key = f"{parts.scheme}://{parts.netloc}"
        connection = connections.get(key)
        if connection is not None and (connection.sock is None or _readable(connection.sock)):
            connection.close()
            connection = None
        if connection is None:
            if parts.scheme == "https":  # no context: http.client's default, as urllib's
                connection = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=self.timeout, context=self.ssl)
            else:
                connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                        timeout=self.timeout)
            connections[key] = connection
        return connection

    def _drop(self, parts: SplitResult, connection: Connection) -> None:
        connection.close()
        connections: dict[str, Connection] = self._local.__dict__.get("connections", {})
        if connections.get(f"{parts.scheme}://{parts.netloc}") is connection:
            del connections[f"{parts.scheme}://{parts.netloc}"]
