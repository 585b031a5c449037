"""Media links: signed with a key of their own, and short-lived."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.media import LINK_TTL, check, media_key, media_url, signature
from routing.config import Workspace
from tests.integration.conftest import TWILIO_TOKEN, System
from tests.integration.test_desk import DESK, conversation, upload


@pytest.fixture
def workspace() -> Workspace:
    return DESK


async def agent_file_link(system: System) -> str:
    """An agent uploads a file; the link Twilio was given, as this test reaches it."""
    _, card = await conversation(system)
    await system.post_slack(upload(system, "EvF", "C0CARE", card["ts"], "U0ANA", "tu factura"))
    await system.drain()
    [sent] = system.twilio.messages
    return sent["media_urls"][0].replace(system.settings.public_url, system.base)


async def status_of(system: System, url: str) -> tuple[int, str]:
    async with system.http.get(url) as resp:
        return resp.status, (await resp.json())["error"] if resp.status != 200 else ""


async def test_links_carry_an_expiry_and_expired_links_are_refused(system: System) -> None:
    url = await agent_file_link(system)
    query = parse_qs(urlsplit(url).query)
    expires = int(query["exp"][0])
    assert time.time() + LINK_TTL - 60 < expires <= time.time() + LINK_TTL
    assert (await status_of(system, url))[0] == 200
    mid, index = urlsplit(url).path.split("/")[2:4]
    key = media_key(TWILIO_TOKEN)
    past = int(time.time()) - 1
    expired = url.split("?")[0] + f"?exp={past}&sig={signature(key, mid, int(index), past)}"
    assert await status_of(system, expired) == (403, "media link expired")
    # moving the expiry forward breaks the signature
    later = url.replace(f"exp={expires}", f"exp={expires + 86400}")
    assert await status_of(system, later) == (403, "invalid media signature")


async def test_links_are_not_signed_with_the_twilio_auth_token(system: System) -> None:
    url = await agent_file_link(system)
    mid, index = urlsplit(url).path.split("/")[2:4]
    exp, sig = (parse_qs(urlsplit(url).query)[k][0] for k in ("exp", "sig"))
    for message in (f"{mid}/{index}", f"{mid}/{index}/{exp}"):
        raw = hmac.new(TWILIO_TOKEN.encode(), message.encode(), hashlib.sha256).hexdigest()
        assert raw[:32] != sig
        forged = url.split("?")[0] + f"?exp={exp}&sig={raw[:32]}"
        assert await status_of(system, forged) == (403, "invalid media signature")


def test_the_media_key_is_derived_for_its_purpose() -> None:
    key = media_key("token")
    assert key != b"token" and len(key) == 32 and key == media_key("token")
    assert media_key("other") != key
    url = media_url("https://desk.example.com", key, "m1", 0, now=1000)
    query = parse_qs(urlsplit(url).query)
    assert query["exp"] == [str(1000 + LINK_TTL)]
    assert check(key, "m1", 0, query["exp"][0], query["sig"][0], now=1000 + LINK_TTL) is None
    assert check(key, "m1", 0, query["exp"][0], query["sig"][0],
                 now=1001 + LINK_TTL) == "media link expired"
    assert check(key, "m1", 1, query["exp"][0], query["sig"][0], now=1000) == \
        "invalid media signature"
