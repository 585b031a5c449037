"""The load generator: pre-built, distinctly signed WhatsApp webhooks posted by a fixed number
of workers over a bounded connection pool, one latency sample per request.

Every body is built and signed before the clock starts, so the bench measures the servers
and not its own form encoding or HMACs. Each message has its own MessageSid, so the gateway
stores every one (a repeated SID would take the cheaper duplicate path).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
import phonenumbers

from routing.config import e164
from tests.signing import twilio_signature, whatsapp_form

PATH = "/twilio/messages"
WHATSAPP_SENDER = "whatsapp:+14155238886"  # support-wa in examples/relaydesk.yaml
REQUEST_TIMEOUT = 10.0
CUSTOMERS = 200


@dataclass(frozen=True)
class Webhook:
    body: bytes
    headers: dict[str, str]


@dataclass
class Phase:
    """What one timed run against one target produced."""

    sent: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, 200 responses only
    errors: Counter[str] = field(default_factory=Counter)
    truncated: bool = False  # stopped by the time budget before sending everything
    loadgen_cpu: float = 0.0  # seconds of this process's CPU

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        """Successful (200) responses per second."""
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentiles_ms(self) -> dict[str, float | None]:
        if len(self.latencies) < 2:
            value = self.latencies[0] * 1000 if self.latencies else None
            return {"p50": value, "p95": value, "p99": value}
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def customer_phones(count: int) -> list[str]:
    """Distinct Mexico City mobile numbers (+52 55 ...) that the gateway's E.164 check keeps
    as they are, so conversations are keyed exactly by what the bench sends."""
    phones = [f"+5255{20_000_000 + i * 37_813:08d}" for i in range(count)]
    for phone in phones:
        if e164(phone) != phone or not phonenumbers.is_valid_number(phonenumbers.parse(phone)):
            raise ValueError(f"bench phone {phone} is not a valid E.164 number")
    return phones


def build_webhooks(count: int, public_url: str, auth_token: str,
                   customers: int = CUSTOMERS) -> list[Webhook]:
    """``count`` signed inbound WhatsApp webhooks, round-robin over ``customers`` phones."""
    phones = customer_phones(customers)
    url = public_url.rstrip("/") + PATH
    hooks = []
    for i in range(count):
        phone = phones[i % len(phones)]
        form = whatsapp_form(f"SM{uuid.uuid4().hex}", f"Hola, necesito ayuda con el pedido {i}",
                             phone=phone, to=WHATSAPP_SENDER, name=f"Cliente {i % len(phones)}")
        headers = {"X-Twilio-Signature": twilio_signature(auth_token, url, form),
                   "Content-Type": "application/x-www-form-urlencoded"}
        hooks.append(Webhook(urlencode(form).encode(), headers))
    return hooks


def session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
    )


async def run_phase(http: aiohttp.ClientSession, url: str, hooks: list[Webhook],
                    concurrency: int, budget: float) -> Phase:
    """POST every webhook with ``concurrency`` requests in flight; stop sending after
    ``budget`` seconds (each request in flight still has its own timeout)."""
    phase = Phase()
    pending = iter(hooks)  # shared by the workers; next() never yields to the loop
    started = time.perf_counter()
    stop_at = started + budget

    async def worker() -> None:
        for hook in pending:
            if time.perf_counter() > stop_at:
                phase.truncated = True
                return
            await _post(http, url, hook, phase)

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed = time.perf_counter() - started
    phase.loadgen_cpu = time.process_time() - cpu
    return phase


async def _post(http: aiohttp.ClientSession, url: str, hook: Webhook, phase: Phase) -> None:
    phase.sent += 1
    t0 = time.perf_counter()
    try:
        async with http.post(url, data=hook.body, headers=hook.headers) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        phase.errors[type(exc).__name__] += 1
        return
    if status == 200:
        phase.latencies.append(time.perf_counter() - t0)
    else:
        phase.errors[f"HTTP {status}"] += 1
