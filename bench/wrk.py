"""The load generator: ``wrk`` (C, one thread) pinned to its own core, posting pre-signed
Twilio webhooks from a file through ``bench/webhooks.lua``.

Every request is a distinct, correctly signed WhatsApp message (its own MessageSid), so the
gateway stores and routes each one; the script counts it if it ever runs out and starts over
(``wraps``: those requests would take the cheaper duplicate path). Bodies are signed once,
before any clock starts, with the same HMAC-SHA1 Twilio uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.load import CUSTOMERS, PATH, WHATSAPP_SENDER, customer_phones
from tests.signing import twilio_signature, whatsapp_form

SCRIPT = Path(__file__).resolve().parent / "webhooks.lua"


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("wrk not found: `apt-get install wrk` (make bench does it as root)")
    return found


def _sign(token: bytes, url: str, form: dict[str, str]) -> str:
    """Twilio's signature: HMAC-SHA1 over the URL then every sorted key and value, base64."""
    payload = url + "".join(k + form[k] for k in sorted(form))
    return base64.b64encode(hmac.new(token, payload.encode(), hashlib.sha1).digest()).decode()


def write_webhooks(path: Path, count: int, public_url: str, auth_token: str,
                   customers: int = CUSTOMERS) -> Path:
    """``count`` signed inbound WhatsApp webhooks, round-robin over ``customers`` phones, one
    ``signature<TAB>body`` line each. The first is checked against the Twilio SDK's signer."""
    phones = customer_phones(customers)
    url = public_url.rstrip("/") + PATH
    token = auth_token.encode()
    with path.open("w") as out:
        for i in range(count):
            phone = phones[i % len(phones)]
            form = whatsapp_form(f"SM{i:032x}", f"Hola, necesito ayuda con el pedido {i}",
                                 phone=phone, to=WHATSAPP_SENDER,
                                 name=f"Cliente {i % len(phones)}")
            signature = _sign(token, url, form)
            if i == 0 and signature != twilio_signature(auth_token, url, form):
                raise AssertionError("bench signer disagrees with the Twilio SDK")
            out.write(f"{signature}\t{urlencode(form)}\n")
    return path


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wraps: int
    loadgen_cpu: float  # seconds of wrk's CPU

    @property
    def rps(self) -> float:
        ok = self.requests - self.errors.get("status", 0)
        return ok / self.seconds if self.seconds else 0.0


def run_wrk(url: str, webhooks: Path, first: int, count: int, seconds: float,
            connections: int, core: int | None) -> WrkResult:
    """One wrk run (one thread, ``connections`` keep-alive connections) for ``seconds``."""
    cmd = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
           "-s", str(SCRIPT), url, "--", str(webhooks), str(first), str(count)]
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    before = os.times()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    after = os.times()
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRK-JSON "))
    errors = {name: r[f"{name}_errors"] for name in ("connect", "read", "write", "status")}
    errors["timeout"] = r["timeouts"]
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return WrkResult(
        requests=r["requests"], seconds=r["duration_us"] / 1e6,
        errors={k: v for k, v in errors.items() if v}, p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000, p99_ms=r["p99_us"] / 1000, max_ms=r["max_us"] / 1000,
        wraps=r["wraps"], loadgen_cpu=cpu,
    )


def cores() -> tuple[int | None, int | None]:
    """(server core, load core): the first two CPUs this process may use, or no pinning on a
    single-CPU machine."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


def pin(pid: int, core: int | None) -> None:
    """Pin a process and every thread it has so far (threads started later inherit)."""
    if core is None:
        return
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), {core})
