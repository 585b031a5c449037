"""The workers' Slack client keeps its connections open: one per thread and host, not one per
call, and the SDK sees the same answers it would through urllib (errors, 429s, closed
connections, proxies)."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from typing import Any
from urllib.error import URLError

import pytest
from aiohttp import web
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from channels.slack.client import KeepAliveWebClient
from gateway.redis_launcher import free_port
from gateway.sandbox.fake_slack import FakeSlack
from workers.metrics import MeteredWebClient

TOKEN = "xoxb-sandbox"


async def serve(aiohttp_server: Any, **kwargs: Any) -> tuple[FakeSlack, str]:
    """The Slack fake under ``/api/``, as the workers' configuration names it."""
    fake, parent = FakeSlack(TOKEN), web.Application()
    parent.add_subapp("/api", fake.app())
    server = await aiohttp_server(parent, **kwargs)
    return fake, str(server.make_url("/api/"))


async def post(client: WebClient, n: int) -> list[str]:
    return [(await asyncio.to_thread(client.chat_postMessage, channel="C1", text=f"m{i}"))["ts"]
            for i in range(n)]


async def test_calls_share_one_connection_per_thread(aiohttp_server: Any) -> None:
    fake, url = await serve(aiohttp_server)
    client = KeepAliveWebClient(token=TOKEN, base_url=url)
    calls: list[Any] = []

    def several() -> None:
        for i in range(5):
            calls.append(client.chat_postMessage(channel="C1", text=f"{i}"))

    await asyncio.to_thread(several)
    assert len(calls) == 5 and len(fake.connections) == 1
    assert [m["text"] for m in fake.calls_to("chat.postMessage")] == ["0", "1", "2", "3", "4"]

    threads = [threading.Thread(target=several) for _ in range(2)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join(10) for thread in threads])
    assert len(calls) == 15 and len(fake.connections) == 3  # one more per thread

    fake.connections.clear()
    await post(WebClient(token=TOKEN, base_url=url), 3)  # the SDK alone: one per call
    assert len(fake.connections) == 3


async def test_errors_and_rate_limits_reach_the_sdk_as_through_urllib(
        aiohttp_server: Any) -> None:
    fake, url = await serve(aiohttp_server)
    client = MeteredWebClient(token=TOKEN, base_url=url)
    fake.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as limited:
        await post(client, 1)
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    with pytest.raises(SlackApiError) as refused:
        await asyncio.to_thread(client.chat_update, channel="C1", ts="1.000001", text="x")
    assert refused.value.response["error"] == "message_not_found"
    assert len(await post(client, 2)) == 2
    assert len(fake.connections) == 1  # the refusals kept the connection open
    with pytest.raises(SlackApiError) as invalid:
        await asyncio.to_thread(KeepAliveWebClient(token="xoxb-wrong", base_url=url).auth_test)
    assert invalid.value.response["error"] == "invalid_auth"


@pytest.mark.parametrize("client_class", [WebClient, KeepAliveWebClient])
async def test_a_slack_that_cannot_be_reached_is_a_url_error(client_class: type) -> None:
    """As through urllib: the SDK's connection-error retry handler knows it, and jobs count it
    as a transient failure."""
    client = client_class(token=TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/",
                          timeout=2)
    with pytest.raises(URLError):
        await asyncio.to_thread(client.chat_postMessage, channel="C1", text="x")


async def test_a_connection_the_server_closed_is_replaced(aiohttp_server: Any) -> None:
    fake, url = await serve(aiohttp_server, keepalive_timeout=0.05)
    client = KeepAliveWebClient(token=TOKEN, base_url=url)

    def two_apart() -> None:
        client.chat_postMessage(channel="C1", text="before")
        threading.Event().wait(0.3)  # the server drops the idle connection meanwhile
        client.chat_postMessage(channel="C1", text="after")

    await asyncio.to_thread(two_apart)
    assert [m["text"] for m in fake.calls_to("chat.postMessage")] == ["before", "after"]
    assert len(fake.connections) == 2


async def test_proxies_go_through_urllib(aiohttp_server: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = await serve(aiohttp_server)
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"ok": True, "channel": "C1", "ts": "1.000001"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    proxy_url = str((await aiohttp_server(app)).make_url("")).rstrip("/")

    await post(KeepAliveWebClient(token=TOKEN, base_url=url, proxy=proxy_url), 1)
    assert seen == [url + "chat.postMessage"]

    for name in ("no_proxy", "NO_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setattr(urllib.request, "_opener", None)  # urllib's, built from the env once
    await post(KeepAliveWebClient(token=TOKEN, base_url=url), 1)
    assert seen == [url + "chat.postMessage"] * 2
    assert fake.calls_to("chat.postMessage") == []
