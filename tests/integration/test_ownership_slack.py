"""Owners and exclusive agents from Slack (issue 14): the Contact modal and ``/relaydesk owner``
/ ``/relaydesk exclusive``, through the same use cases as the API, with a confirmation when the
contact has an open conversation, refusals that say what is missing, and the change shown on
the card and in the thread. Driven by signed Slack payloads against the fake Slack."""

from __future__ import annotations

import pytest

from routing.config import Workspace
from tests.integration.conftest import System
from tests.integration.test_desk import DESK, NUMBER, card_of, click, conv, conversation, thread
from tests.signing import submit_view, whatsapp_form

PHONE = "+525512345678"


@pytest.fixture
def workspace() -> Workspace:
    return DESK


def contact(system: System) -> dict[str, str]:
    return dict(system.store.contact_hash(system.store.contact_id(PHONE)))


def audit(system: System) -> list[tuple[str, str, str, str]]:
    cid = system.store.contact_id(PHONE)
    return [(f["actor"], f["field"], f["old"], f["new"])
            for _, f in system.store.contact_audit(cid)]


async def writes_again(system: System, sid: str) -> dict[str, str]:
    """The contact writes (after closing what was open): the new conversation, as routed."""
    for vid in system.store.redis.hvals(system.store.keys.open):
        system.store.close(vid, "test")
    await system.post_twilio("/twilio/messages", whatsapp_form(sid, "otra vez", to=NUMBER))
    [vid] = system.store.redis.hvals(system.store.keys.open)
    return conv(system, vid)


async def test_owner_by_command_routes_the_contacts_next_conversation(system: System) -> None:
    status, answer = await system.slash("U0BRUNO", "owner +525512345678 bruno")
    assert status == 200
    assert answer == ("Not allowed: assigning owners needs one of the roles ['admin', "
                      "'supervisor'] or the \"assign owners\" permission in care.")
    _, answer = await system.slash("U0SOFIA", "owner +525512345678 <@U0BRUNO|bruno>")
    assert answer.startswith("Owner of +525512345678 is now Bruno.")
    assert audit(system) == [("sofia", "owner", ":", "agent:bruno")]
    routed = await writes_again(system, "SM" + "7" * 32)
    assert (routed["rule"], routed["status"], routed["waiting_for"]) == (
        "owner_agent", "waiting", "bruno")  # Bruno is offline: it waits in his inbox
    _, answer = await system.slash("U0SOFIA", "owner +525512345678 none confirm")
    assert answer.startswith("Owner of +525512345678 is now unassigned.")
    assert contact(system)["owner_type"] == ""


@pytest.mark.parametrize(("text", "answer"), [
    ("owner +525512345678 zoe", "Not done: no agent 'zoe'."),
    ("owner +525512345678 care/nope",
     "Not done: no department 'care/nope' (write it as campaign/department)."),
    ("owner nonsense bruno", "Not done: contact 'nonsense' is neither a contact id (c12) nor a "
                             "phone"),
    ("owner +525512345678", "Usage: `/relaydesk owner <phone|contact>"),
    ("exclusive +525512345678 care carla",
     "Not done: agent carla does not serve campaign care."),
    ("exclusive +525512345678 nowhere bruno", "Not done: no campaign 'nowhere'."),
    ("exclusive +525512345678 bruno", "Usage:"),
])
async def test_command_mistakes_say_what_is_wrong(system: System, text: str, answer: str
                                                  ) -> None:
    assert (await system.slash("U0SOFIA", text))[1].startswith(answer)
    assert system.store.contact_id(PHONE) is None  # nothing written, not even the contact


async def test_a_change_for_a_contact_with_an_open_conversation_is_confirmed_first(
        system: System) -> None:
    vid, card = await conversation(system)  # Ana has it
    _, answer = await system.slash("U0SOFIA", "owner +525512345678 bruno")
    assert answer == (
        f"Set the owner of +525512345678 to Bruno? The contact has 1 open conversation(s): "
        f"{vid} (assigned to Ana). They stay where they are; the change routes the contact's "
        "next conversations. To go ahead: `/relaydesk owner +525512345678 bruno confirm`")
    assert contact(system).get("owner_type", "") == "" and audit(system) == []
    _, answer = await system.slash("U0SOFIA", "owner +525512345678 bruno confirm")
    assert answer.startswith("Owner of +525512345678 is now Bruno.")
    await system.drain()
    assert thread(system, card)[-1] == (
        ":bust_in_silhouette: Sofía set the contact's owner to Bruno (was unassigned). This "
        "conversation stays where it is; the owner takes the next ones.")
    assert "*Owner*\nBruno" in [f["text"] for f in card_of(system, "C0CARE")["blocks"][1]["fields"]]
    assert conv(system, vid)["assignee"] == "ana"  # it stayed
    _, answer = await system.slash("U0SOFIA", "exclusive +525512345678 care ana")
    assert "Make Ana the exclusive agent of +525512345678 in care?" in answer
    assert answer.endswith("`/relaydesk exclusive +525512345678 care ana confirm`")
    _, answer = await system.slash("U0SOFIA", "exclusive +525512345678 care ana confirm")
    assert answer == "Ana is now the exclusive agent of +525512345678 in care."
    await system.drain()
    assert thread(system, card)[-1] == (
        ":lock: Sofía made Ana the contact's exclusive agent in Care. This conversation stays "
        "where it is.")
    routed = await writes_again(system, "SM" + "8" * 32)
    assert (routed["rule"], routed["assignee"]) == ("exclusive", "ana")  # exclusive first
    _, answer = await system.slash("U0SOFIA", "exclusive +525512345678 care none confirm")
    assert answer == "+525512345678 has no exclusive agent in care now."
    assert [a[1:] for a in audit(system)] == [
        ("owner", ":", "agent:bruno"), ("exclusive:care", "", "ana"),
        ("exclusive:care", "ana", "")]


def selects(view: dict) -> dict[str, tuple[list[str], str]]:
    """The modal's selects: block id -> (option values, initial value)."""
    out = {}
    for block in view["blocks"]:
        element = block.get("element", {})
        if element.get("type") == "static_select":
            out[block["block_id"]] = ([o["value"] for o in element["options"]],
                                      element.get("initial_option", {}).get("value", ""))
    return out


async def test_contact_modal_sets_owner_and_exclusive_agent_after_confirming(
        system: System) -> None:
    vid, card = await conversation(system)
    assert selects(await click(system, "U0ANA", "rd_contact", vid, card)) == {}  # read-only
    view = await click(system, "U0SOFIA", "rd_contact", vid, card)
    assert view["submit"]["text"] == "Review changes"
    choices = selects(view)
    assert choices["owner"] == (["unassigned", "agent:ana", "agent:bruno", "agent:sofia",
                                 "agent:carla", "department:care/front",
                                 "department:sales/team"], "unassigned")
    assert choices["exclusive"] == (["none", "ana", "bruno", "sofia"], "none")
    fields = {"owner": "agent:bruno", "exclusive": "bruno"}
    _, answer = await system.interact(submit_view("U0SOFIA", "rd_contact", vid, fields,
                                                  selects=("owner", "exclusive")))
    assert answer["response_action"] == "push"
    confirm = answer["view"]
    assert confirm["blocks"][0]["text"]["text"] == (
        "*owner:* unassigned → Bruno\n*exclusive agent in Care:* — → Bruno")
    assert confirm["blocks"][1]["elements"][0]["text"] == (
        "This conversation stays where it is (assigned to Ana); the change routes the "
        "contact's next conversations.")
    assert audit(system) == []  # not before confirming
    _, answer = await system.interact(submit_view("U0SOFIA", "rd_contact_confirm",
                                                  confirm["private_metadata"], {}))
    assert answer == {"response_action": "clear"}
    assert (contact(system)["owner_id"], contact(system)["exclusive:care"]) == ("bruno", "bruno")
    assert audit(system) == [("sofia", "owner", ":", "agent:bruno"),
                             ("sofia", "exclusive:care", "", "bruno")]
    await system.drain()
    assert thread(system, card)[-2:] == [
        ":bust_in_silhouette: Sofía set the contact's owner to Bruno (was unassigned). This "
        "conversation stays where it is; the owner takes the next ones.",
        ":lock: Sofía made Bruno the contact's exclusive agent in Care. This conversation "
        "stays where it is."]
    assert conv(system, vid)["assignee"] == "ana"
    # unchanged: nothing to confirm
    _, answer = await system.interact(submit_view("U0SOFIA", "rd_contact", vid, fields,
                                                  selects=("owner", "exclusive")))
    assert answer == {"response_action": "errors", "errors": {"owner": "Nothing changed."}}
    # a contact who writes right after is routed by the new rule
    system.store.redis.hset(system.store.keys.agent("bruno"), "presence", "online")
    routed = await writes_again(system, "SM" + "6" * 32)
    assert (routed["rule"], routed["assignee"]) == ("exclusive", "bruno")


async def test_contact_modal_refuses_owner_changes_to_those_who_may_not(system: System) -> None:
    vid, _ = await conversation(system)
    forged = submit_view("U0ANA", "rd_contact", vid,
                         {"name": "Lucía", "phone": PHONE, "owner": "agent:ana"},
                         selects=("owner",))
    _, answer = await system.interact(forged)
    assert answer["response_action"] == "update"
    assert ('assigning owners needs one of the roles [\'admin\', \'supervisor\'] or the '
            '"assign owners" permission in care') in answer["view"]["blocks"][0]["text"]["text"]
    _, answer = await system.interact(submit_view("U0SOFIA", "rd_contact", vid,
                                                  {"exclusive": "carla"}, ("exclusive",)))
    assert answer["errors"] == {"owner": "Agent carla does not serve campaign care."}
    assert audit(system) == []


async def test_a_grant_holder_chooses_only_within_their_campaign(system: System) -> None:
    vid, card = await conversation(system)
    system.store.set_grants(["bruno"], "care", ["assign_owners"], "test")
    choices = selects(await click(system, "U0BRUNO", "rd_contact", vid, card))
    assert choices["owner"][0] == ["unassigned", "agent:ana", "agent:bruno", "agent:sofia",
                                   "department:care/front"]  # not Carla, not sales/team
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_contact", vid,
                                                  {"owner": "department:sales/team"},
                                                  ("owner",)))
    assert '"assign owners" permission in sales' in answer["view"]["blocks"][0]["text"]["text"]
    _, answer = await system.interact(submit_view("U0BRUNO", "rd_contact", vid,
                                                  {"owner": "department:care/front"},
                                                  ("owner",)))
    _, answer = await system.interact(submit_view(
        "U0BRUNO", "rd_contact_confirm", answer["view"]["private_metadata"], {}))
    assert answer == {"response_action": "clear"}
    assert audit(system) == [("bruno", "owner", ":", "department:care/front")]
    _, answer = await system.slash("U0BRUNO", "owner +525512345678 carla confirm")
    assert answer.startswith("Not allowed:") and "permission in sales" in answer
