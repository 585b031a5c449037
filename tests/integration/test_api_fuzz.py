"""Property-based run of the API against its own OpenAPI document (schemathesis, every check,
bounded examples): 0 server errors, every response conforms to the document (status codes
including 401/403/415/503, content types, bodies, headers, `Allow` on 405), schema-valid input
is accepted and schema-invalid input refused.

Authentication comes first (`api.authenticate`, from the gateway's middleware), so
schemathesis's `ignored_auth` check holds; what the schema cannot express (which E.164-shaped
numbers are possible phones) is excluded per operation in schemathesis.toml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.redis_launcher import EmbeddedRedis, free_port
from routing.permissions import Principal, token_hash
from routing.store import Store
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.e2e.conftest import clean_env, stop

HERE = Path(__file__).parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# An agent is refused most operations (403): fewer examples find what there is to find.
SHARE = {"admin": 1.0, "agent": 0.4}
SEED = os.environ.get("FUZZ_SEED", "20261123")
TOKENS = {"admin": Principal("admin", "fuzz"), "agent": Principal("agent", "ana", agent="ana")}


@pytest.fixture(scope="module")
def api(redis_server: EmbeddedRedis) -> Iterator[tuple[str, dict[str, str]]]:
    import asyncio

    from tests.e2e.conftest import wait_healthy

    port, namespace = free_port(), "fuzz"
    closed = f"http://127.0.0.1:{free_port()}"  # no Twilio or Slack behind: jobs never run
    env = clean_env(
        WEB_PORT=str(port), HOST="127.0.0.1", REDIS_URL=redis_server.url,
        REDIS_NAMESPACE=namespace, RQ_QUEUE="fuzz", GATEWAY_CONFIG=str(EXAMPLE_CONFIG),
        TWILIO_ACCOUNT_SID="AC" + "4" * 32, TWILIO_AUTH_TOKEN="fuzz", TWILIO_API_BASE=closed,
        SLACK_BOT_TOKEN="xoxb-fuzz", SLACK_SIGNING_SECRET="fuzz", SLACK_API_BASE=closed + "/")
    web = subprocess.Popen([sys.executable, "-m", "gateway", "web"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(redis_server.url)
    store = Store(client, namespace)
    tokens = {}
    for who, principal in TOKENS.items():
        tokens[who] = f"fuzz-{who}-token"
        store.add_token(token_hash(tokens[who]), json.dumps(principal.to_json()))
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(base, web))
        yield base, tokens
    finally:
        stop(web)
        client.close()


@pytest.mark.parametrize("who", list(TOKENS))
def test_api_conforms_to_its_openapi_document(api: tuple[str, dict[str, str]], who: str,
                                              tmp_path: Path) -> None:
    base, tokens = api
    run = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "--config-file",
         str(HERE / "schemathesis.toml"), "run", f"{base}/api/openapi.json",
         "-H", f"Authorization: Bearer {tokens[who]}",  # every check runs by default
         "--max-examples", str(max(1, round(EXAMPLES * SHARE[who]))), "--seed", SEED, "--no-color",
         "--request-timeout", "10", "--generation-database", "none",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    summary = run.stdout[run.stdout.find("SUMMARY"):] if "SUMMARY" in run.stdout else ""
    print(f"\nschemathesis as {who}:\n{summary}")
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
