"""Config validation names the field and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from routing.config import ConfigError, load_config, parse_config
from tests.conftest import EXAMPLE_CONFIG, ROOT

BASE = {
    "campaigns": [{"id": "wa", "channel": "whatsapp", "number": "+14155238886",
                   "slack_channel": "C0WA", "departments": [{"id": "general"}],
                   "default_department": "general"}],
    "agents": [{"id": "ana", "slack_user": "U0ANA", "departments": ["wa/general"]}],
}


def problems(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, "test.yaml")
    return str(exc.value)


def with_campaign(**change: object) -> dict:
    return {**BASE, "campaigns": [BASE["campaigns"][0] | change]}


def test_example_config_is_valid() -> None:
    ws = load_config(EXAMPLE_CONFIG)
    assert ws.entry_campaign("whatsapp:+14155238886").id == "support-wa"
    assert [a.id for a in ws.members("support-wa", "general")] == ["ana", "bruno"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"number": "12345"}, "campaigns[0].number: '12345' is not a phone number"),
    ({"channel": "fax"}, "campaigns[0].channel: Input should be 'whatsapp' or 'sms'"),
    ({"slack_channel": "general"}, "campaigns[0].slack_channel: 'general' is not a Slack channel"),
    ({"default_department": "sales"}, "default_department 'sales' is not one of ['general']"),
    ({"id": "Not A Slug"}, "campaigns[0].id: String should match pattern"),
    ({"colour": "red"}, "campaigns[0].colour: Extra inputs are not permitted"),
])
def test_campaign_problems_name_the_field(change: dict, expected: str) -> None:
    assert expected in problems(with_campaign(**change))


def test_agent_department_must_exist() -> None:
    data = {**BASE, "agents": [BASE["agents"][0] | {"departments": ["wa/sales"]}]}
    assert "agents[0].departments: 'wa/sales' is not an existing campaign/department" in problems(
        data)


def test_campaigns_sharing_a_number_need_one_entry() -> None:
    twin = BASE["campaigns"][0] | {"id": "wa2"}
    assert "mark exactly one of them `entry: true`" in problems(
        {**BASE, "campaigns": [BASE["campaigns"][0], twin]})
    ws = parse_config({**BASE, "campaigns": [BASE["campaigns"][0], twin | {"entry": True}]})
    assert ws.entry_campaign("whatsapp:+14155238886").id == "wa2"


def test_numbers_are_normalized_to_e164() -> None:
    ws = parse_config(with_campaign(number="+1 (415) 523-8886"))
    assert ws.campaigns[0].address == "whatsapp:+14155238886"


def test_config_check_command(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "gateway", "config", "check", str(EXAMPLE_CONFIG)],
                        cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "ok (3 campaigns, 2 agents)" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaigns:\n  - id: x\n    channel: sms\n    number: '99'\n"
                   "    slack_channel: C0X\n")
    out = subprocess.run([sys.executable, "-m", "gateway", "config", "check", str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "campaigns[0].number" in out.stderr
    missing = subprocess.run([sys.executable, "-m", "gateway", "config", "check", "nope.yaml"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "nope.yaml: cannot read" in missing.stderr


TEMPLATE = {"name": "follow_up", "content_sid": "HX" + "a" * 32, "body": "Hola {{1}}",
            "variables": [{"name": "customer", "example": "Lucía"}]}


@pytest.mark.parametrize(("template", "expected"), [
    ({"content_sid": None}, "campaigns[0]: templates[0].content_sid: WhatsApp template "
                            "follow_up needs the Twilio Content API ContentSid"),
    ({"body": "Hola {{1}}, {{2}}"}, "body: placeholder {{2}} has no variable (missing "
                                    "variables[1]"),
    ({"body": "Hola {{name}}"}, "body: unknown placeholder {{name}}"),
    ({"body": "Hola"}, "variables[0] (customer) is not used in the body"),
    ({"variables": [{"name": "customer"}]}, "templates[0].variables[0].example: Field required"),
    ({"content_sid": "123"}, "templates[0].content_sid: String should match pattern"),
])
def test_template_problems_name_the_field(template: dict, expected: str) -> None:
    assert expected in problems(with_campaign(templates=[TEMPLATE | template]))


def test_sms_template_needs_a_body_and_templates_render() -> None:
    sms = {**BASE["campaigns"][0], "channel": "sms", "number": "+15005550006",
           "templates": [{"name": "t", "variables": [{"name": "x", "example": "1"}]}]}
    assert "templates[0].body: SMS template t needs a body" in problems(
        {**BASE, "campaigns": [sms]})
    ws = parse_config(with_campaign(templates=[TEMPLATE]))
    tpl = ws.campaigns[0].template("follow_up")
    assert tpl.render(tpl.values({"customer": "Ana"})) == "Hola Ana"
    assert tpl.values(["Ana"]) == {"1": "Ana"}
    with pytest.raises(ValueError, match="missing variable"):
        tpl.values({})
    assert ws.campaigns[0].rate == 80.0
