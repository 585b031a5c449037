"""The pipelined client's command packer (hiredis's, in C) writes exactly the bytes redis-py
would, and refuses what redis-py refuses."""

from __future__ import annotations

import pytest
import redis

from gateway.redis_fast import pack

COMMANDS = [
    ("EVALSHA", "a" * 40, 1, "rd:{ns}:seq", "rd:{ns}:", 1700000000.123456, "Hola, ¿qué tal? 👋",
     b"\x00\xffraw", 0, -7, 2592000, "", 0.1 + 0.2, 1e20),
    ("PING",),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_packs_as_redis_py_does(command: tuple) -> None:
    assert pack(*command) == b"".join(redis.Connection().pack_command(*command))


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}])
def test_refuses_what_redis_py_refuses(value: object) -> None:
    with pytest.raises(redis.DataError, match=type(value).__name__):
        pack("SET", "k", value)
    with pytest.raises(redis.DataError):
        redis.Connection().pack_command("SET", "k", value)
