"""Process settings from environment variables.

Secrets and URLs live in the environment, never in the YAML config, so the same config file
can be committed and shared. With no Twilio and no Slack credentials the service runs in
*sandbox mode*: it serves local stand-ins for both APIs and points the official SDKs at them.
The sandbox has well-known tokens and secrets, so it only starts on a loopback host, or when
asked for explicitly with ``SANDBOX=1``: a deployment that forgot its credentials refuses to
start instead of becoming a sandbox anyone can reach.
"""

from __future__ import annotations

import ipaddress
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    import redis


SANDBOX_TWILIO_SID = "AC" + "0" * 32
SANDBOX_TWILIO_TOKEN = "sandbox-twilio-auth-token"
SANDBOX_SLACK_TOKEN = "xoxb-sandbox-token"
SANDBOX_SLACK_SECRET = "sandbox-slack-signing-secret"
EMBEDDED_REDIS_PORT = 6390


def embedded_redis_url(port: int) -> str:
    """The address of the embedded Redis that `up` starts (and every command defaults to)."""
    return f"redis://127.0.0.1:{port}/0"


def redacted(url: str) -> str:
    """A Redis URL fit to print: the password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


CREDENTIALS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SLACK_BOT_TOKEN",
               "SLACK_SIGNING_SECRET")


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: reachable from this machine only."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything a process needs besides the YAML config."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    gateway_config: str = Field("examples/relaydesk.yaml", description="path of the YAML config")
    host: str = "127.0.0.1"
    port: int = Field(8080, validation_alias=AliasChoices("WEB_PORT", "PORT", "port"),
                      description="WEB_PORT wins over PORT, which honcho sets per process")
    public_url: str = Field(
        "", description="public base URL Twilio and Slack call; signatures are checked against it"
    )

    redis_url: str = Field("", description="the routing store; default: the embedded server "
                           "on EMBEDDED_REDIS_PORT (see redis_address)")
    embedded_redis_port: int = EMBEDDED_REDIS_PORT
    relaydesk_var: str = Field("var", description="where `up` keeps the embedded Redis data")
    rq_redis_url: str = Field("", description="RQ's own Redis (RQ does not support Cluster)")
    redis_namespace: str = "rd"
    rq_queue: str = "relaydesk"

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    twilio_connection_overrides: str = Field(
        "", description="Twilio webhook connection overrides (the URL fragment without '#', "
                        "e.g. rc=5&rp=all&ct=2000&rt=10000); added to our StatusCallback URLs")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_api_base: str = "https://slack.com/api/"

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    log_bodies: bool = False
    sandbox_requested: bool = Field(
        False, validation_alias=AliasChoices("SANDBOX", "sandbox_requested"),
        description="SANDBOX=1: run the sandbox on a non-loopback HOST (it has public tokens)")
    sweeper_grace: float = Field(30.0, gt=0, description="seconds before the worker's sweeper "
                                 "re-enqueues work whose job was lost")

    _embedded_redis: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _credentials_complete(self) -> Settings:
        twilio = [self.twilio_account_sid, self.twilio_auth_token]
        slack = [self.slack_bot_token, self.slack_signing_secret]
        if any(twilio + slack) and not all(twilio + slack):
            missing = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                    ("SLACK_BOT_TOKEN", self.slack_bot_token),
                    ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
                )
                if not value
            ]
            raise ValueError(
                "set all of the Twilio and Slack credentials, or none for sandbox mode; missing: "
                + ", ".join(missing)
            )
        if self.sandbox and not (self.sandbox_requested or is_loopback(self.host)):
            raise ValueError(
                f"no credentials and HOST={self.host} is not a loopback address: set "
                + ", ".join(CREDENTIALS) + " to run live, or SANDBOX=1 to serve the sandbox "
                "(with its well-known tokens) on this host anyway"
            )
        if self.sandbox_requested and not self.sandbox:
            raise ValueError("SANDBOX=1 but Twilio and Slack credentials are set: unset SANDBOX "
                             "to run live, or the credentials to run the sandbox")
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        self._embedded_redis = not self.redis_url
        self.redis_url = self.redis_address()
        if not self.rq_redis_url:
            self.rq_redis_url = self.redis_url
        if self.sandbox:
            self.twilio_account_sid = SANDBOX_TWILIO_SID
            self.twilio_auth_token = SANDBOX_TWILIO_TOKEN
            self.slack_bot_token = SANDBOX_SLACK_TOKEN
            self.slack_signing_secret = SANDBOX_SLACK_SECRET
            self.twilio_api_base = f"{self.local_url}/sandbox/twilio"
            self.slack_api_base = f"{self.local_url}/sandbox/slack/api/"
        return self

    def redis_address(self) -> str:
        """The one place the routing Redis address is decided, for every command (``up``,
        ``web``, ``worker``, ``token``, ``route``, ``simulate``): ``REDIS_URL`` if set, else
        the embedded server on ``EMBEDDED_REDIS_PORT``. Keys live under ``REDIS_NAMESPACE``."""
        return self.redis_url or embedded_redis_url(self.embedded_redis_port)

    @property
    def embedded_redis(self) -> bool:
        """No ``REDIS_URL``: `up` starts the embedded server at :meth:`redis_address`."""
        return self._embedded_redis

    @cached_property
    def sandbox(self) -> bool:
        """No credentials at all: run against the local stand-ins."""
        return not (self.twilio_account_sid or self.slack_bot_token)

    @property
    def local_url(self) -> str:
        """Where this machine reaches the web process (the sandbox lives there)."""
        return f"http://{self.host}:{self.port}"

    def callback_url(self, path: str) -> str:
        """A URL Twilio will call back, as Twilio sees it (behind any TLS proxy)."""
        return f"{self.public_url}{path}"

    def signed_urls(self, path: str) -> list[str]:
        """The URLs a Twilio signature may cover for a request to ``path``: the URL as called
        (the fragment never reaches us), and the same URL with our connection-override
        fragment, in case Twilio signs the URL as configured."""
        url = self.callback_url(path)
        overrides = self.twilio_connection_overrides.lstrip("#")
        return [url, f"{url}#{overrides}"] if overrides else [url]


def load_settings() -> Settings:
    """Settings from the environment, or exit with what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        sys.exit(f"settings: {problems}")


def has_desk_data(client: redis.Redis, namespace: str) -> bool:
    """Whether a Relay Desk seeded this Redis under this namespace: the web and worker
    processes seed the config at start (``Store.seed``), which marks the namespace."""
    from routing.keys import Keys

    return bool(client.exists(Keys(namespace).seeded))


def desk_redis(settings: Settings) -> redis.Redis:
    """The routing Redis every command derives from the same settings; exits, writing
    nothing, if no Relay Desk data is there (a wrong port, URL or namespace)."""
    import redis

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    if not has_desk_data(client, settings.redis_namespace):
        client.close()
        sys.exit(
            f"no Relay Desk data at {redacted(settings.redis_url)} in namespace "
            f"{settings.redis_namespace!r} (the config was never seeded there), so nothing "
            "was written. Is `make run` up? Give this command the same REDIS_URL (or "
            "EMBEDDED_REDIS_PORT) and REDIS_NAMESPACE as the web process.")
    return client
