"""Local stand-in for Twilio's Messages REST API.

Sandbox mode and the tests send WhatsApp and SMS through the official ``twilio`` SDK.
Pointing the SDK at this fake keeps them offline while still exercising the real
client: every message is recorded, Twilio-shaped errors can be injected, and delivery
status callbacks arrive signed exactly like Twilio's, so webhook validation is tested
for real.
"""

import asyncio
import base64
import logging
import secrets
import time
from collections import deque
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
_ACCOUNT = f"/{API_VERSION}/Accounts/{{account_sid}}"


def _error(status: int, code: int, message: str) -> web.Response:
    """Twilio's JSON error body (what the SDK turns into a TwilioRestException)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


class FakeTwilio:
    """Twilio Messages API emulator; mount ``app()`` or serve it standalone."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        auto_status: bool = False,
        status_delay: float = 0.05,
        delay: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.delay = delay  # seconds before answering a send (a slow provider; benchmarks)
        self.auth_token = auth_token
        self.auto_status = auto_status
        self.status_delay = status_delay
        self.latency = 0.0  # seconds each create call takes to answer (a slow provider)
        self.messages: list[dict[str, Any]] = []  # accepted messages, oldest first
        self.contents: list[dict[str, Any]] = []  # Content API templates (add_content)
        self.requests: list[dict[str, Any]] = []  # every create attempt, failed ones too
        self.callbacks: list[dict[str, Any]] = []  # status callbacks sent: url, params, status
        self._by_sid: dict[str, dict[str, Any]] = {}
        self._failures: deque[tuple[int, int, str]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._validator = RequestValidator(auth_token)
        # The header itself is compared: aiohttp's BasicAuth is deprecated (gone in 4.0).
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._basic_auth = f"Basic {credentials}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"{_ACCOUNT}/Messages.json", self._create)
        app.router.add_get(f"{_ACCOUNT}/Messages/{{sid}}.json", self._fetch)
        app.router.add_get("/v1/ContentAndApprovals", self._contents)
        app.router.add_get("/log", self._log)
        app.on_cleanup.append(self._on_cleanup)
        return app

    def fail_next(self, status: int, code: int, message: str, times: int = 1) -> None:
        """Make the next ``times`` create calls fail with this Twilio error (21610: the
        recipient opted out; 63016: outside the WhatsApp window; 429: too many requests)."""
        self._failures.extend([(status, code, message)] * times)

    async def send_status(self, sid: str, status: str, error_code: str | None = None) -> int:
        """Set a message's status and POST Twilio's signed status callback for it.

        Returns the HTTP status the callback URL answered with.
        """
        msg = self._by_sid.get(sid)
        if msg is None:
            raise KeyError(f"no message with sid {sid!r}")
        msg["status"] = status
        if error_code is not None:
            msg["error_code"] = error_code
        url = msg["status_callback"]
        if not url:
            raise ValueError(f"message {sid} was sent without a StatusCallback")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "To": msg["to"],
            "ApiVersion": API_VERSION,
        }
        if msg["from"]:
            params["From"] = msg["from"]
        if msg["messaging_service_sid"]:
            params["MessagingServiceSid"] = msg["messaging_service_sid"]
        if msg["to"].startswith("whatsapp:"):
            params["ChannelPrefix"] = "whatsapp"
        if error_code is not None:
            params["ErrorCode"] = error_code
        headers = {"X-Twilio-Signature": self._validator.compute_signature(url, params)}
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        async with self._session.post(url, data=params, headers=headers) as resp:
            await resp.read()
        self.callbacks.append({"url": url, "params": params, "status": resp.status})
        return resp.status

    async def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``n`` messages were accepted and return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.messages) < n:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"expected at least {n} Twilio message(s) within {timeout}s, "
                    f"got {len(self.messages)}: {self.messages!r}"
                )
            await asyncio.sleep(0.01)
        return list(self.messages)

    async def close(self) -> None:
        """Cancel pending automatic status callbacks and close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self.close()

    def _authorized(self, request: web.Request) -> bool:
        return (
            request.headers.get("Authorization") == self._basic_auth
            and request.match_info["account_sid"] == self.account_sid
        )

    async def _create(self, request: web.Request) -> web.Response:
        arrived = time.time()
        if self.delay:
            await asyncio.sleep(self.delay)
        form = await request.post()
        params = {k: form.getall(k) if k == "MediaUrl" else form[k] for k in form}
        attempt: dict[str, Any] = {"method": request.method, "path": request.path, "params": params,
                                   "at": arrived}
        self.requests.append(attempt)
        if self.latency:
            await asyncio.sleep(self.latency)
        response = self._accept(request, params)
        attempt["status"] = response.status
        return response

    def _accept(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        if self._failures:
            return _error(*self._failures.popleft())
        if not params.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not params.get("From") and not params.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not (params.get("Body") or params.get("MediaUrl") or params.get("ContentSid")):
            return _error(400, 21602, "Message body is required.")
        msg: dict[str, Any] = {
            "sid": "SM" + secrets.token_hex(16),
            "to": params["To"],
            "from": params.get("From"),
            "body": params.get("Body", ""),
            "media_urls": list(params.get("MediaUrl", [])),
            "status_callback": params.get("StatusCallback"),
            "content_sid": params.get("ContentSid"),
            "content_variables": params.get("ContentVariables"),
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "status": "queued",
            "error_code": None,
            "created_at": datetime.now(UTC).isoformat(),
        }
        self.messages.append(msg)
        self._by_sid[msg["sid"]] = msg
        if self.auto_status:
            task = asyncio.create_task(self._advance(msg["sid"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(self._resource(msg), status=201)

    async def _advance(self, sid: str) -> None:
        """Play Twilio's delivery lifecycle for one message (auto_status mode)."""
        msg = self._by_sid[sid]
        statuses = ["sent", "delivered"]
        if msg["to"].startswith("whatsapp:"):
            statuses.append("read")
        for status in statuses:
            await asyncio.sleep(self.status_delay)
            if not msg["status_callback"]:
                msg["status"] = status
                continue
            try:
                await self.send_status(sid, status)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("status callback %s for %s failed: %r", status, sid, exc)

    async def _fetch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        msg = self._by_sid.get(request.match_info["sid"])
        if msg is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(self._resource(msg))

    def add_content(self, sid: str, name: str, body: str, variables: dict[str, str],
                    kind: str = "twilio/text", whatsapp: str = "approved") -> None:
        """A Content API template of the account, with its WhatsApp approval status."""
        self.contents.append({
            "sid": sid, "account_sid": self.account_sid, "friendly_name": name,
            "language": "es", "variables": variables, "types": {kind: {"body": body}},
            "approval_requests": {"name": name, "category": "UTILITY", "status": whatsapp},
            "date_created": None, "date_updated": None})

    async def _contents(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self._basic_auth:
            return _error(401, 20003, "Authenticate")
        url = str(request.url)
        return web.json_response({"contents": self.contents, "meta": {
            "page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": None,
            "url": url, "next_page_url": None, "key": "contents"}})

    async def _log(self, _request: web.Request) -> web.Response:
        return web.json_response({"messages": self.messages})

    def _resource(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The message as Twilio's API represents it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{msg['sid']}"
        created = format_datetime(datetime.fromisoformat(msg["created_at"]))
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": msg["body"],
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": msg["error_code"],
            "error_message": None,
            "from": msg["from"],
            "messaging_service_sid": msg["messaging_service_sid"],
            "num_media": str(len(msg["media_urls"])),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": msg["sid"],
            "status": msg["status"],
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": msg["to"],
            "uri": f"{uri}.json",
        }
