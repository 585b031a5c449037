"""``/relaydesk`` presence from Slack, signed as Slack signs slash commands."""

from __future__ import annotations

import pytest

from routing.config import Workspace
from tests.integration.conftest import SLACK_SECRET, System
from tests.routing_world import HELP, WORLD, where
from tests.signing import sms_form


@pytest.fixture
def workspace() -> Workspace:
    return WORLD


async def command(system: System, user: str, text: str, secret: str = SLACK_SECRET
                  ) -> tuple[int, str]:
    return await system.slash(user, text, secret)


async def test_coming_online_from_slack_takes_waiting_work(system: System) -> None:
    await system.post_twilio("/twilio/messages", sms_form("SM" + "5" * 32, "hola", to=HELP))
    [vid] = list(system.store.redis.hvals(system.store.keys.open))
    assert where(system.store, vid) == "dept:help/desk"
    status, text = await command(system, "U0DORA", "online")
    assert status == 200
    assert text == "You are now *online*. 1 waiting conversation(s) are now yours."
    assert where(system.store, vid) == "agent:dora"
    status, text = await command(system, "U0DORA", "status")
    assert "You are *online* with 1/3 open conversations and 0 waiting" in text
    assert (await command(system, "U0DORA", "away"))[1] == "You are now *away*."
    assert system.store.redis.hget(system.store.keys.agent("dora"), "presence") == "away"


async def test_unknown_user_and_bad_words_get_help(system: System) -> None:
    assert "not a Relay Desk agent" in (await command(system, "U0NOBODY", "online"))[1]
    assert "Usage" in (await command(system, "U0DORA", "dance"))[1]


async def test_unsigned_command_is_refused(system: System) -> None:
    assert (await command(system, "U0DORA", "online", secret="wrong"))[0] == 403
    assert system.store.redis.hget(system.store.keys.agent("dora"), "presence") == "offline"
