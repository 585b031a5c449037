"""The sandbox console's guard rails: sandbox mode only, loopback only. (What it does is shown
by driving it in Chromium: tests/e2e/test_console_browser.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.redis_launcher import EmbeddedRedis, free_port
from gateway.settings import Settings
from routing.config import Workspace
from tests.integration.conftest import System


@pytest.fixture
async def sandbox(redis_server: EmbeddedRedis, namespace: str,
                  workspace: Workspace) -> AsyncIterator[str]:
    port = free_port()
    settings = Settings(_env_file=None, host="127.0.0.1", port=port,
                        redis_url=redis_server.url, redis_namespace=namespace,
                        rq_queue=f"q-{namespace}")
    assert settings.sandbox
    server = TestServer(create_app(settings, workspace), host="127.0.0.1", port=port)
    await server.start_server()
    yield f"http://127.0.0.1:{port}"
    await server.close()


async def test_the_console_renders_every_phone_channel_and_agent(sandbox: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(sandbox + "/sandbox") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert 'class="phone whatsapp"' in page and 'class="phone sms"' in page
    assert 'value="U0ANA" selected' in page and 'value="U0BRUNO"' in page
    for channel in ("support-wa", "support-sms", "sales-wa", "supervisors"):
        assert f"# {channel}" in page
    async with aiohttp.ClientSession() as http, http.get(
            sandbox + "/sandbox/console/slack?as=U0BRUNO&place=home") as resp:
        assert "Bruno Díaz" in await resp.text()


async def test_a_forwarded_request_is_refused(sandbox: str) -> None:
    """Behind a tunnel or proxy every request comes from 127.0.0.1: the headers tell."""
    async with aiohttp.ClientSession() as http:
        for path in ("/sandbox", "/sandbox/console/stream", "/sandbox/console/static/console.js"):
            async with http.get(sandbox + path,
                                headers={"X-Forwarded-For": "203.0.113.9"}) as resp:
                assert resp.status == 403, path
        async with http.post(sandbox + "/sandbox/console/customer", json={"text": "hi"},
                             headers={"Forwarded": "for=203.0.113.9"}) as resp:
            assert resp.status == 403


async def test_changes_come_only_from_the_console_page(sandbox: str) -> None:
    """Another site open in the same browser cannot drive the console, nor can a name that
    resolves to 127.0.0.1 (DNS rebinding)."""
    async with aiohttp.ClientSession() as http:
        async with http.post(sandbox + "/sandbox/console/customer",
                             data='{"text": "hi", "campaign": "support-wa"}',
                             headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 403
        async with http.post(sandbox + "/sandbox/console/act", json={"kind": "home"},
                             headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403
        async with http.get(sandbox + "/sandbox",
                            headers={"Host": "rebound.example:8080"}) as resp:
            assert resp.status == 403
        async with http.post(sandbox + "/sandbox/console/act", json={"kind": "nothing"},
                             headers={"Origin": sandbox}) as resp:
            assert resp.status == 400  # past the guard: an unknown kind


async def test_no_console_with_real_credentials(system: System) -> None:
    async with system.http.get(system.base + "/sandbox") as resp:
        assert resp.status == 404
