"""The auto-pipelining client the Twilio webhooks use: same results as redis-py's, in order,
several requests per write, and the failures redis-py would raise."""

from __future__ import annotations

import asyncio
import math

import pytest
import redis

from gateway.redis_fast import BATCH, PipelinedRedis
from gateway.redis_launcher import EmbeddedRedis, free_port
from routing.store import Store
from routing.types import InboundMessage


def message(i: int) -> InboundMessage:
    phone = f"+5255{30_000_000 + i:08d}"
    return InboundMessage(f"SM{i:032x}", "whatsapp", phone, f"whatsapp:{phone}",
                          "whatsapp:+14155238886", f"hola {i}")


async def test_concurrent_scripts_share_writes_and_keep_their_own_replies(
        redis_server: EmbeddedRedis, namespace: str, sync_redis: redis.Redis) -> None:
    client = PipelinedRedis.from_url(redis_server.url, decode_responses=True)
    store = Store(client, namespace)
    try:
        first = await store.inbound(message(50), "support-wa", "general")  # loads the script
        assert first.outcome == "stored"
        writes = client.writes
        results = await asyncio.gather(*(store.inbound(message(i), "support-wa", "general")
                                         for i in range(50)))
        assert [r.outcome for r in results] == ["stored"] * 50
        assert len({r.message for r in results}) == 50
        # 50 scripts in one loop turn: a write every BATCH of them, the rest at the turn's end
        assert client.writes - writes == math.ceil(50 / BATCH)
        for i, r in enumerate(results):  # each caller got the reply to its own message
            stored = sync_redis.hgetall(store.keys.msg(r.message))
            assert stored["body"] == f"hola {i}"
        again = await store.inbound(message(7), "support-wa", "general")
        assert (again.outcome, again.message) == ("duplicate", results[7].message)
    finally:
        await client.aclose()


async def test_errors_and_a_flushed_script_cache(redis_server: EmbeddedRedis,
                                                 sync_redis: redis.Redis) -> None:
    client = PipelinedRedis.from_url(redis_server.url)
    try:
        script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        sync_redis.delete("fast:n")
        assert await script(keys=["fast:n"], args=[2]) == 2
        sync_redis.script_flush()
        assert await script(keys=["fast:n"], args=[3]) == 5  # NOSCRIPT: loaded, run again
        with pytest.raises(redis.ResponseError):
            await script(keys=["fast:n"], args=["not a number"])
        assert await client.execute("GET", "fast:n") == b"5"  # the connection is still usable
        text = PipelinedRedis.from_url(redis_server.url, decode_responses=True)
        assert await text.execute("GET", "fast:n") == "5"  # decoded, like redis-py's option
        await text.aclose()
    finally:
        await client.aclose()


async def test_a_lost_connection_fails_in_flight_commands_then_reconnects(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    port = free_port()
    server = EmbeddedRedis(tmp_path_factory.mktemp("fast"), port=port, appendonly=False).start()
    client = PipelinedRedis.from_url(server.url)
    try:
        assert await client.execute("PING") == b"PONG"
        blocked = asyncio.ensure_future(client.execute("BLPOP", "fast:never", 0))
        await asyncio.sleep(0.05)
        server.stop()
        with pytest.raises(redis.ConnectionError):
            await blocked
        with pytest.raises(redis.ConnectionError):
            await client.execute("PING")
        server = EmbeddedRedis(tmp_path_factory.mktemp("fast2"), port=port,
                               appendonly=False).start()
        assert await client.execute("PING") == b"PONG"
    finally:
        await client.aclose()
        server.stop()


async def test_a_silent_server_times_out_and_an_absent_one_is_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.redis_fast.SOCKET_TIMEOUT", 0.2)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = server.sockets[0].getsockname()[1]
    client = PipelinedRedis(port=port)
    try:
        with pytest.raises(redis.TimeoutError):
            await client.execute("PING")
    finally:
        await client.aclose()
        server.close()
    with pytest.raises(redis.ConnectionError):
        await PipelinedRedis(port=free_port()).execute("PING")
