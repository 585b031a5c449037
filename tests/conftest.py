"""Test harness: one real Redis server per test session, a fresh namespace per test."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from gateway.redis_launcher import EmbeddedRedis
from routing.config import Workspace, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "relaydesk.yaml"
_ns = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    return f"t{next(_ns)}"


@pytest.fixture
def sync_redis(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def async_redis(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def workspace() -> Workspace:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(autouse=True)
def _logging_handlers_do_not_outlive_a_test() -> Iterator[None]:
    """``gateway.logs.configure`` puts a handler on the root logger writing to the test's
    captured stderr; later tests must not write to it once it is closed."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h).__module__ == "gateway.logs"]:
        root.removeHandler(handler)
