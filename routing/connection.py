"""Redis clients that ride out an outage.

Every socket has a bound (a hung or unreachable server never hangs a request: connecting gives
up after ``CONNECT_TIMEOUT``, a reply after ``SOCKET_TIMEOUT``), an idle pooled connection is
checked before reuse (``health_check_interval``) and a command that meets a dropped connection
is retried on a fresh one, so the first request after Redis comes back succeeds instead of
failing on a connection the restart killed. Only connection errors are retried, never a
timeout: a script that may have run is not run twice by the client (scripts are idempotent
anyway, keyed on the provider's ids).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 5.0
HEALTH_CHECK_INTERVAL = 5
RETRIES = 2  # on ConnectionError: a stale pooled connection, a server that just came back
#: Connections a client's pool may open. redis-py 8 caps a pool at 100 unless told otherwise;
#: a worker runs ``WORKER_THREADS`` jobs at once and a bulk chunk job 32 sends at once, each
#: on its own connection (4 x 32 alone is 128), so the cap is set well above that.
MAX_CONNECTIONS = 4096


def _options() -> dict[str, Any]:
    return {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT,
            "socket_keepalive": True, "health_check_interval": HEALTH_CHECK_INTERVAL,
            "max_connections": MAX_CONNECTIONS}


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.25, base=0.05)


def sync_client(url: str, **overrides: Any) -> redis.Redis:
    """A blocking client (workers, CLI, RQ)."""
    options = _options() | {"retry": Retry(_backoff(), RETRIES, (redis.ConnectionError,)),
                            "retry_on_error": [redis.ConnectionError]} | overrides
    return redis.Redis.from_url(url, **options)


def async_client(url: str, **overrides: Any) -> aioredis.Redis:
    """An asyncio client (the web process)."""
    options = _options() | {"retry": AsyncRetry(_backoff(), RETRIES, (redis.ConnectionError,)),
                            "retry_on_error": [redis.ConnectionError]} | overrides
    return aioredis.Redis.from_url(url, **options)


UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)  # BusyLoadingError is a ConnectionError
