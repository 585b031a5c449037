"""The workspace declaration: campaigns, departments and agents, validated at start.

One YAML file describes who serves whom. It is checked completely before the service
starts, and every problem names the field (``campaigns[0].number``) and what is wrong.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class ConfigError(ValueError):
    """The config file is unreadable or invalid; the message lists every problem."""


@lru_cache(maxsize=65536)
def e164(number: str) -> str:
    """Normalize a phone number to E.164, or raise ValueError saying why. Cached: it is pure
    and on every inbound webhook's path (parsing is the costly part of phonenumbers)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{number!r} is not a phone number in +E.164 form ({exc})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{number!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    id: Slug
    name: str = ""
    slack_channel: str | None = Field(
        None, description="Slack channel for this department's conversation threads (default: "
        "the campaign's), to spread a busy campaign over several channels")

    @field_validator("slack_channel")
    @classmethod
    def _slack_channel(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_CHANNEL.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
        return value


class Typification(_Strict):
    name: str = Field(min_length=1)
    subtypes: tuple[str, ...] = ()


class Bot(_Strict):
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field("BOT_SECRET", description="env var holding the HMAC secret")


class CampaignOptions(_Strict):
    attachments: bool = True
    rate_per_second: float | None = Field(
        None, gt=0, le=1000, description="messages per second this number may send (bulk and "
        "replies share it); default: WhatsApp 80, SMS 1 (a long code)")
    help_text: str = Field("", description="answer to an SMS/WhatsApp HELP (opt-out keywords)")
    history_hours: int = Field(24, ge=0, le=24 * 90)
    history_conversations: int = Field(5, ge=1, le=50, description="A10: last N shown")
    reminder_minutes: int = Field(10, ge=1)


class Resource(_Strict):
    """An item of the campaign's resource gallery (A6): a text, or a file by public URL."""

    key: str = Field(pattern=r"^[a-z0-9_-]{1,30}$")
    title: str
    kind: Literal["text", "image", "document", "video"]
    text: str = ""
    url: str = Field("", pattern=r"^(https?://.*)?$")
    content_type: str = ""

    @model_validator(mode="after")
    def _content(self) -> Resource:
        if self.kind == "text" and not self.text:
            raise ValueError(f"resource {self.key}: a text resource needs text")
        if self.kind != "text" and not self.url:
            raise ValueError(f"resource {self.key}: a {self.kind} needs a url")
        return self


PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
CONTACT_FIELDS = ("name", "phone", "email", "document")


class TemplateVariable(_Strict):
    """A template variable; ``{{1}}`` is the first one. ``contact`` pre-fills it from the
    contact's data when an agent sends the template from Slack."""

    name: str = Field(min_length=1, max_length=40)
    example: str = Field(min_length=1)
    contact: Literal["name", "phone", "email", "document"] | None = None


class Template(_Strict):
    """An approved message to start or resume a conversation (an *active message*).

    WhatsApp: the Twilio Content API ``content_sid`` (HX...), sent with ``ContentVariables``;
    ``body`` is what agents see of it in Slack. SMS: ``body`` is sent with its ``{{n}}`` filled.
    ``kind`` other than ``text`` is Content API interactive content (A8): quick replies, a list
    picker or call-to-action buttons; ``session_only`` ones may only be sent inside the
    WhatsApp 24-hour window (not approved for business-initiated use)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    content_sid: str | None = Field(None, pattern=r"^HX[0-9a-fA-F]{32}$")
    body: str = ""
    variables: tuple[TemplateVariable, ...] = ()
    kind: Literal["text", "quick_reply", "list_picker", "call_to_action"] = "text"
    session_only: bool = False

    @model_validator(mode="after")
    def _placeholders(self) -> Template:
        problems = []
        used = set()
        for raw in PLACEHOLDER.findall(self.body):
            key = raw.strip()
            if not key.isdigit() or int(key) < 1:
                problems.append(f"body: unknown placeholder {{{{{raw}}}}} (use {{{{1}}}}, "
                                "{{2}}, ... for the variables in order)")
            elif int(key) > len(self.variables):
                problems.append(f"body: placeholder {{{{{key}}}}} has no variable (missing "
                                f"variables[{int(key) - 1}]; {len(self.variables)} declared)")
            else:
                used.add(int(key))
        if self.body:
            for i, var in enumerate(self.variables, 1):
                if i not in used:
                    problems.append(f"variables[{i - 1}] ({var.name}) is not used in the "
                                    f"body: add {{{{{i}}}}}")
        if problems:
            raise ValueError(f"template {self.name}: " + "; ".join(problems))
        return self

    def values(self, given: dict[str, str] | list[str] | tuple[str, ...]) -> dict[str, str]:
        """The variables as ``{"1": ..., "2": ...}`` from a list, or a mapping by position or
        name; raises ValueError naming what is missing or unknown."""
        if isinstance(given, list | tuple):
            if len(given) != len(self.variables):
                raise ValueError(f"template {self.name} takes {len(self.variables)} "
                                 f"variable(s), got {len(given)}")
            return {str(i): str(v) for i, v in enumerate(given, 1)}
        out: dict[str, str] = {}
        names = {v.name: str(i) for i, v in enumerate(self.variables, 1)}
        for key, value in given.items():
            pos = names.get(key, key)
            if not pos.isdigit() or not 1 <= int(pos) <= len(self.variables):
                raise ValueError(f"template {self.name} has no variable {key!r} (it has "
                                 f"{list(names) or 'none'})")
            out[pos] = str(value)
        missing = [v.name for i, v in enumerate(self.variables, 1) if not out.get(str(i))]
        if missing:
            raise ValueError(f"template {self.name}: missing variable(s) {missing}")
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

    def render(self, values: dict[str, str]) -> str:
        """What the customer reads (the SMS body; WhatsApp: the preview agents see)."""
        if not self.body:
            shown = ", ".join(f"{v.name}={values.get(str(i), '')}"
                              for i, v in enumerate(self.variables, 1))
            return f"[template {self.name}]" + (f" {shown}" if shown else "")
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), self.body)


class Campaign(_Strict):
    id: Slug
    name: str = ""
    channel: Literal["whatsapp", "sms"]
    number: str
    entry: bool = Field(False, description="receives new inbound when campaigns share a number")
    slack_channel: str
    departments: tuple[Department, ...] = ()
    default_department: str | None = None
    typifications: tuple[Typification, ...] = ()
    bot: Bot | None = None
    options: CampaignOptions = CampaignOptions()
    canned: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,30}$")], str] = Field(
        default_factory=dict, description="`;key` in a thread sends this text (A6)")
    resources: tuple[Resource, ...] = ()
    templates: tuple[Template, ...] = Field((), description="active messages (section 6)")

    def template(self, name: str) -> Template | None:
        return next((t for t in self.templates if t.name == name), None)

    @property
    def rate(self) -> float:
        """Messages per second this number may send."""
        return self.options.rate_per_second or (80.0 if self.channel == "whatsapp" else 1.0)

    def resource(self, key: str) -> Resource | None:
        return next((r for r in self.resources if r.key == key), None)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return e164(value)

    @field_validator("slack_channel")
    @classmethod
    def _slack_channel(cls, value: str) -> str:
        if not SLACK_CHANNEL.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
        return value

    @model_validator(mode="after")
    def _departments(self) -> Campaign:
        ids = [d.id for d in self.departments]
        if len(ids) != len(set(ids)):
            raise ValueError(f"department ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
        if self.default_department and self.default_department not in ids:
            raise ValueError(
                f"default_department {self.default_department!r} is not one of {ids}"
            )
        names = [t.name for t in self.templates]
        if len(names) != len(set(names)):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"templates: names repeat: {twice}")
        for i, t in enumerate(self.templates):
            if self.channel == "whatsapp" and not t.content_sid:
                raise ValueError(f"templates[{i}].content_sid: WhatsApp template {t.name} needs "
                                 "the Twilio Content API ContentSid (HX...)")
            if self.channel == "sms" and not t.body:
                raise ValueError(f"templates[{i}].body: SMS template {t.name} needs a body")
            if self.channel == "sms" and t.kind != "text":
                raise ValueError(f"templates[{i}].kind: {t.kind} is WhatsApp-only")
        return self

    @property
    def label(self) -> str:
        """How people see the campaign: its name, or its id."""
        return self.name or self.id

    def channel_for(self, department: str | None) -> str:
        """Where a conversation's thread goes: its department's channel, if it has one."""
        dept = self.department(department) if department else None
        return (dept.slack_channel if dept else None) or self.slack_channel

    def department(self, ref: str) -> Department | None:
        """A department by id, bare (``billing``) or qualified (``support-wa/billing``)."""
        campaign, _, dept = ref.rpartition("/")
        if campaign and campaign != self.id:
            return None
        return next((d for d in self.departments if d.id == dept), None)

    @property
    def address(self) -> str:
        """The Twilio address of this campaign's number (``whatsapp:+1...`` or ``+1...``)."""
        return f"whatsapp:{self.number}" if self.channel == "whatsapp" else self.number


Grant = Literal["history", "edit_contact", "active_messages", "assign_owners", "attachments"]


class Agent(_Strict):
    id: Slug
    name: str = ""
    slack_user: str
    roles: tuple[Literal["admin", "supervisor", "agent", "auditor", "marketing"], ...] = ("agent",)
    departments: tuple[str, ...] = Field((), description="campaign/department pairs")
    capacity: int = Field(5, ge=0, le=1000)
    presence: Literal["online", "away", "offline"] = Field(
        "offline", description="presence at first start; later changes live in Redis"
    )
    grants: dict[str, tuple[Grant, ...]] = Field(
        default_factory=dict, description="per-campaign grants: campaign id -> grants")

    @field_validator("slack_user")
    @classmethod
    def _slack_user(cls, value: str) -> str:
        if not SLACK_USER.match(value):
            raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
        return value

    @property
    def label(self) -> str:
        """How people see the agent: their name, or their id."""
        return self.name or self.id


Role = Literal["admin", "supervisor", "agent", "auditor", "marketing"]


class History(_Strict):
    enabled: bool = Field(False, description="agents with the history grant may browse the "
                          "attendance history (seed 000, H1; off by default)")


class Workspace(_Strict):
    name: str = "Relay Desk"
    history: History = History()
    owner_assigners: tuple[Role, ...] = Field(
        ("admin", "supervisor"), description="roles that may set owners and exclusive agents "
        "(admin always may; seed 003)")
    supervisors_channel: str | None = Field(
        None, description="Slack channel where escalations are announced")
    campaigns: tuple[Campaign, ...] = Field(min_length=1)
    agents: tuple[Agent, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Workspace:
        problems: list[str] = []
        campaigns = {c.id: c for c in self.campaigns}
        if len(campaigns) != len(self.campaigns):
            problems.append("campaigns: ids repeat")
        agents = [a.id for a in self.agents]
        if len(agents) != len(set(agents)):
            problems.append("agents: ids repeat")
        users = [a.slack_user for a in self.agents]
        if len(users) != len(set(users)):
            problems.append("agents: two agents share one slack_user")
        for i, agent in enumerate(self.agents):
            for campaign_id in agent.grants:
                if campaign_id not in campaigns:
                    problems.append(f"agents[{i}].grants: no campaign {campaign_id!r}")
            for ref in agent.departments:
                campaign_id, _, dept = ref.partition("/")
                campaign = campaigns.get(campaign_id)
                if campaign is None or dept not in {d.id for d in campaign.departments}:
                    problems.append(
                        f"agents[{i}].departments: {ref!r} is not an existing campaign/department"
                    )
        by_address: dict[str, list[Campaign]] = {}
        for campaign in self.campaigns:
            by_address.setdefault(campaign.address, []).append(campaign)
        for address, sharing in by_address.items():
            if len(sharing) > 1 and sum(c.entry for c in sharing) != 1:
                problems.append(
                    f"campaigns {[c.id for c in sharing]} share {address}: "
                    "mark exactly one of them `entry: true`"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def campaign(self, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    def entry_campaign(self, address: str) -> Campaign | None:
        """The campaign that receives new conversations on a Twilio address."""
        return self._entries.get(address)

    @cached_property
    def _entries(self) -> dict[str, Campaign]:
        """Each Twilio address's entry campaign (looked up on every inbound webhook)."""
        entries: dict[str, Campaign] = {}
        for c in self.campaigns:  # the first with entry set, else the first on the address
            current = entries.get(c.address)
            if current is None or (c.entry and not current.entry):
                entries[c.address] = c
        return entries

    def agent(self, agent_id: str) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def agent_by_slack(self, slack_user: str) -> Agent | None:
        """The agent behind a Slack user id: the one lookup every Slack entry point uses."""
        return next((a for a in self.agents if a.slack_user == slack_user), None)

    def name_of(self, actor: str) -> str:
        """An agent id (or any actor in events: ``admin:ops``, ``bot:care``) as people see it."""
        agent = self.agent(actor) if actor else None
        return agent.label if agent else actor

    def members(self, campaign_id: str, department_id: str) -> list[Agent]:
        ref = f"{campaign_id}/{department_id}"
        return [a for a in self.agents if ref in a.departments]


def serves(agent: Agent, campaign_id: str) -> bool:
    """Whether an agent is in any department of a campaign."""
    return any(ref.startswith(campaign_id + "/") for ref in agent.departments)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(data: object, source: str = "config") -> Workspace:
    """Validate already-parsed YAML; raise ConfigError naming each bad field."""
    try:
        return Workspace.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {exc.error_count()} problem(s)"]
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {_where(err['loc'])}: {message}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path) -> Workspace:
    """Read and validate the YAML config file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return parse_config(data, str(path))
