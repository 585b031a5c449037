"""Every command derives the routing Redis address from the same settings."""

from __future__ import annotations

import pytest

from gateway.settings import Settings, redacted


@pytest.fixture(autouse=True)
def no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "RQ_REDIS_URL", "EMBEDDED_REDIS_PORT", "REDIS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_port_decides_the_address_of_every_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings(_env_file=None)
    assert (default.redis_url, default.rq_redis_url) == ("redis://127.0.0.1:6390/0",) * 2
    assert default.embedded_redis and default.redis_namespace == "rd"
    monkeypatch.setenv("EMBEDDED_REDIS_PORT", "7000")
    moved = Settings(_env_file=None)
    assert (moved.redis_url, moved.rq_redis_url) == ("redis://127.0.0.1:7000/0",) * 2
    assert moved.embedded_redis and moved.redis_address() == moved.redis_url


def test_redis_url_wins_and_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDED_REDIS_PORT", "7000")
    monkeypatch.setenv("REDIS_URL", "redis://:secret@cache.internal:6379/2")
    s = Settings(_env_file=None)
    assert s.redis_url == s.rq_redis_url == "redis://:secret@cache.internal:6379/2"
    assert not s.embedded_redis
    assert redacted(s.redis_url) == "redis://:***@cache.internal:6379/2"
    assert redacted("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/0"
