"""The sandbox fakes must satisfy the real SDKs, or tests built on them prove nothing.

Each fake is served on 127.0.0.1 (standalone and as a sub-app) and driven with the
official ``twilio`` and ``slack_sdk`` clients.
"""

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from gateway.sandbox.fake_slack import FakeSlack
from gateway.sandbox.fake_twilio import FakeTwilio

SID = "AC" + "0" * 32
TOKEN = "twilio-token"
SLACK_TOKEN = "xoxb-sandbox"


class RedirectingHttpClient(TwilioHttpClient):
    """Sends the SDK's https://api.twilio.com requests to the fake instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        url = url.replace("https://api.twilio.com", self.base_url, 1)
        return super().request(method, url, *args, **kwargs)


def twilio_client(base_url: str, token: str = TOKEN) -> Client:
    return Client(SID, token, http_client=RedirectingHttpClient(base_url))


async def get_json(url: Any) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.json()


@pytest.fixture
async def twilio(aiohttp_server: Any) -> tuple[FakeTwilio, Client]:
    fake = FakeTwilio(SID, TOKEN)
    server = await aiohttp_server(fake.app())
    return fake, twilio_client(str(server.make_url("")).rstrip("/"))


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[str, list[tuple[dict[str, str], bool]]]:
    """A status-callback endpoint recording (params, signature valid) per request."""
    received: list[tuple[dict[str, str], bool]] = []

    async def handle(request: web.Request) -> web.Response:
        params = dict(await request.post())
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = RequestValidator(TOKEN).validate(str(request.url), params, signature)
        received.append((params, valid))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/status", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("/status")), received


async def test_twilio_create_and_fetch(twilio: tuple[FakeTwilio, Client]) -> None:
    fake, client = twilio
    msg = await asyncio.to_thread(
        client.messages.create,
        to="whatsapp:+15550001111",
        from_="whatsapp:+15559990000",
        body="hello",
        media_url=["https://example.com/a.png", "https://example.com/b.png"],
    )
    assert msg.sid.startswith("SM") and len(msg.sid) == 34
    assert msg.status == "queued"
    assert msg.num_media == "2"
    assert msg.date_created is not None
    [record] = await fake.wait_for_messages(1)
    assert record["sid"] == msg.sid
    assert record["media_urls"] == ["https://example.com/a.png", "https://example.com/b.png"]
    fetched = await asyncio.to_thread(client.messages(msg.sid).fetch)
    assert (fetched.body, fetched.to) == ("hello", "whatsapp:+15550001111")


async def test_twilio_errors(twilio: tuple[FakeTwilio, Client], aiohttp_server: Any) -> None:
    fake, client = twilio
    base_url = client.http_client.base_url
    with pytest.raises(TwilioRestException) as auth_error:
        await asyncio.to_thread(
            twilio_client(base_url, "wrong").messages.create, to="+1", from_="+2", body="x"
        )
    assert (auth_error.value.status, auth_error.value.code) == (401, 20003)

    fake.fail_next(429, 20429, "Too Many Requests")
    with pytest.raises(TwilioRestException) as limited:
        await asyncio.to_thread(client.messages.create, to="+1", from_="+2", body="x")
    assert (limited.value.status, limited.value.code) == (429, 20429)

    with pytest.raises(TwilioRestException) as no_body:
        await asyncio.to_thread(client.messages.create, to="+1", from_="+2")
    assert (no_body.value.status, no_body.value.code) == (400, 21602)

    await asyncio.to_thread(client.messages.create, to="+1", from_="+2", body="x")
    assert [r["status"] for r in fake.requests] == [401, 429, 400, 201]
    assert len(fake.messages) == 1


async def test_twilio_signed_status_callback(
    twilio: tuple[FakeTwilio, Client], receiver: tuple[str, list[Any]]
) -> None:
    fake, client = twilio
    url, received = receiver
    msg = await asyncio.to_thread(
        client.messages.create,
        to="+15550001111",
        from_="+15559990000",
        body="hi",
        status_callback=url,
    )
    assert await fake.send_status(msg.sid, "undelivered", error_code="30003") == 204
    [(params, valid)] = received
    assert valid
    assert params["MessageSid"] == params["SmsSid"] == msg.sid
    assert params["MessageStatus"] == "undelivered"
    assert params["ErrorCode"] == "30003"
    assert params["AccountSid"] == SID and params["ApiVersion"] == "2010-04-01"
    assert "ChannelPrefix" not in params
    fetched = await asyncio.to_thread(client.messages(msg.sid).fetch)
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    await fake.close()


async def test_twilio_auto_status_as_subapp(
    aiohttp_server: Any, receiver: tuple[str, list[Any]]
) -> None:
    url, received = receiver
    fake = FakeTwilio(SID, TOKEN, auto_status=True, status_delay=0.01)
    parent = web.Application()
    parent.add_subapp("/sandbox/twilio", fake.app())
    server = await aiohttp_server(parent)
    client = twilio_client(str(server.make_url("/sandbox/twilio")))
    await asyncio.to_thread(
        client.messages.create,
        to="whatsapp:+15550001111",
        from_="whatsapp:+15559990000",
        body="hi",
        status_callback=url,
    )
    for _ in range(200):
        if len(received) == 3:
            break
        await asyncio.sleep(0.01)
    assert [p["MessageStatus"] for p, _ in received] == ["sent", "delivered", "read"]
    assert all(valid and p["ChannelPrefix"] == "whatsapp" for p, valid in received)
    log = await get_json(server.make_url("/sandbox/twilio/log"))
    assert log["messages"][0]["status"] == "read"


@pytest.fixture
async def slack(aiohttp_server: Any) -> tuple[FakeSlack, AsyncWebClient]:
    fake = FakeSlack(SLACK_TOKEN)
    server = await aiohttp_server(fake.app())
    return fake, AsyncWebClient(token=SLACK_TOKEN, base_url=str(server.make_url("/")))


async def test_slack_messages_threads_and_reactions(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T0001")

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*new chat*"}}]
    parent = await client.chat_postMessage(channel="C1", text="new chat", blocks=blocks)
    reply = await client.chat_postMessage(channel="C1", text="hi", thread_ts=parent["ts"])
    assert float(reply["ts"]) > float(parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["message"]["user"] == "UBOT"
    assert [m["text"] for m in fake.thread("C1", parent["ts"])] == ["hi"]

    await client.chat_update(channel="C1", ts=parent["ts"], text="closed")
    updated = fake.messages[("C1", parent["ts"])]
    assert (updated["text"], updated["blocks"]) == ("closed", blocks)
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"

    await client.reactions_add(channel="C1", timestamp="1699999999.000001", name="eyes")
    with pytest.raises(SlackApiError) as again:
        await client.reactions_add(channel="C1", timestamp="1699999999.000001", name="eyes")
    assert again.value.response["error"] == "already_reacted"
    assert fake.reactions("C1", "1699999999.000001") == ["eyes"]
    await client.reactions_remove(channel="C1", timestamp="1699999999.000001", name="eyes")
    assert fake.reactions("C1", "1699999999.000001") == []
    with pytest.raises(SlackApiError) as absent:
        await client.reactions_remove(channel="C1", timestamp="1699999999.000001", name="eyes")
    assert absent.value.response["error"] == "no_reaction"

    await fake.wait_for(lambda f: len(f.calls_to("reactions.remove")) == 2)
    assert len(fake.calls_to("chat.postMessage")) == 2


async def test_slack_other_methods(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack
    dm = await client.conversations_open(users="U123")
    assert dm["channel"]["id"] == "DU123"
    eph = await client.chat_postEphemeral(channel="C1", user="U123", text="only you")
    assert fake.ephemerals[0]["message_ts"] == eph["message_ts"]
    user = await client.users_info(user="U123")  # a GET request
    assert user["user"]["id"] == "U123"
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    opened = await client.views_open(trigger_id="t1", view=view)
    await client.views_update(
        view_id=opened["view"]["id"], view={**view, "blocks": [{"type": "divider"}]}
    )
    assert fake.views[opened["view"]["id"]]["blocks"] == [{"type": "divider"}]
    home = await client.views_publish(user_id="U123", view={"type": "home", "blocks": []})
    assert home["view"]["id"]
    # Form-encoded bodies carry blocks as a JSON string; the fake decodes them.
    await client.api_call(
        "chat.postMessage", data={"channel": "C2", "blocks": '[{"type": "divider"}]'}
    )
    assert fake.calls_to("chat.postMessage")[-1]["blocks"] == [{"type": "divider"}]


async def test_slack_errors(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack
    bad = AsyncWebClient(token="xoxb-wrong", base_url=client.base_url)
    with pytest.raises(SlackApiError) as invalid:
        await bad.auth_test()
    assert invalid.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("nope.nothing")
    assert unknown.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as no_text:
        await client.api_call("chat.postMessage", json={"channel": "C1"})
    assert no_text.value.response["error"] == "no_text"

    fake.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="C1", text="x")
    with pytest.raises(AssertionError, match="not met"):
        await fake.wait_for(lambda f: f.ephemerals, timeout=0.05)


async def test_slack_sync_client_as_subapp(aiohttp_server: Any) -> None:
    fake = FakeSlack(SLACK_TOKEN)
    parent = web.Application()
    parent.add_subapp("/sandbox/slack/api", fake.app())
    server = await aiohttp_server(parent)
    client = WebClient(token=SLACK_TOKEN, base_url=str(server.make_url("/sandbox/slack/api/")))
    posted = await asyncio.to_thread(client.chat_postMessage, channel="C1", text="hello")
    assert fake.messages[("C1", posted["ts"])]["text"] == "hello"
    await asyncio.to_thread(client.reactions_add, channel="C1", timestamp=posted["ts"], name="eyes")
    assert fake.messages[("C1", posted["ts"])]["reactions"] == ["eyes"]

    log = await get_json(server.make_url("/sandbox/slack/api/log?since=1"))
    assert [(c["index"], c["method"]) for c in log["calls"]] == [(2, "reactions.add")]
    assert log["last"] == 2
