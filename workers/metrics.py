"""The worker's metrics: sends by provider and outcome (see ``gateway.metrics``).

``sent`` the provider accepted it; ``retried`` a transient failure (429, 5xx, network) left
the work for RQ's retry; ``failed`` a permanent refusal. Slack calls are counted by the worker's
Web API client itself (``MeteredWebClient``), Twilio sends by ``send_to_twilio``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, start_http_server
from slack_sdk.errors import SlackApiError

from channels.slack.client import KeepAliveWebClient

SENDS = Counter("relaydesk_sends_total", "Calls to the providers that send or show something, "
                "by provider and outcome", ["provider", "outcome"])

#: Slack methods that only read: not sends.
SLACK_READS = {"conversations.open", "users.info", "auth.test"}
#: Errors the jobs treat as done (the reaction is already there, or already gone).
SLACK_DONE = {"already_reacted", "no_reaction"}


def sent(provider: str, outcome: str) -> None:
    SENDS.labels(provider, outcome).inc()


class MeteredWebClient(KeepAliveWebClient):
    """slack_sdk's client (connections kept open), counting each write call's outcome."""

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        if api_method in SLACK_READS:
            return super().api_call(api_method, *args, **kwargs)
        try:
            response = super().api_call(api_method, *args, **kwargs)
        except SlackApiError as exc:
            error, status = exc.response.get("error"), exc.response.status_code
            sent("slack", "sent" if error in SLACK_DONE else
                 "retried" if status == 429 or status >= 500 else "failed")
            raise
        except Exception:
            sent("slack", "retried")
            raise
        sent("slack", "sent")
        return response


def serve(port: int, host: str = "127.0.0.1") -> None:
    """A worker's own ``/metrics`` (when processes do not share ``PROMETHEUS_MULTIPROC_DIR``)."""
    if port:
        start_http_server(port, addr=host)
