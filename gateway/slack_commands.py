"""``/relaydesk`` for agents: presence (online, away, offline), status, their conversations and
the gallery. Translates to the use cases and reads; the words are in channels.slack.render."""

from __future__ import annotations

from channels.slack import render
from gateway.services import Services
from routing import actions
from routing.actions import active
from routing.config import Agent, serves
from routing.errors import ActionError
from routing.permissions import Principal


async def handle(services: Services, slack_user: str, text: str) -> str:
    agent = services.workspace.agent_by_slack(slack_user)
    if agent is None:
        return render.NOT_AN_AGENT
    me = actions.principal_of_slack(services.ctx, slack_user)
    word = (text.split() or ["status"])[0].lower()
    store = services.store
    if word in ("online", "away", "offline"):
        changed = services.done(await actions.set_presence(services.ctx, me, agent.id, word))
        return render.presence_set(word, len(changed.assigned))
    if word == "status":
        state = await store.agent_hash(agent.id)
        return render.agent_status(state.get("presence", "offline"), state.get("load", "0"),
                                   state.get("capacity", "0"), await store.inbox_size(agent.id))
    if word == "mine":  # A1
        rows = []
        for vid in sorted(await store.open_conversations(agent.id)):
            conv = await store.conversation_hash(vid)
            contact = await store.contact_hash(conv["contact"])
            campaign = services.workspace.campaign(conv["campaign"])
            rows.append((vid, contact.get("name") or contact.get("phone", ""),
                         f"<#{campaign.slack_channel}>" if campaign else conv["campaign"],
                         conv.get("priority") == "escalated"))
        return render.mine(rows)
    if word == "send":  # section 6: /relaydesk send +E164 [campaign:]template [v1 | v2 ...]
        return await send(services, me, agent, text.split(None, 3)[1:])
    if word == "gallery":  # A6
        return render.gallery([
            (c.label, dict(c.canned), [(r.key, r.kind, r.title) for r in c.resources])
            for c in services.workspace.campaigns if serves(agent, c.id)])
    return render.USAGE


async def send(services: Services, me: Principal, agent: Agent, args: list[str]) -> str:
    """An active message from the slash command; the variables are separated by ``|``, and
    those left out are filled from the contact where the template says so."""
    if len(args) < 2:
        return render.SEND_USAGE
    phone, name = args[0], args[1]
    given = [v.strip() for v in args[2].split("|")] if len(args) > 2 else []
    campaign_id, _, name = name.rpartition(":")
    choices = [c for c in services.workspace.campaigns if c.template(name) is not None
               and (c.id == campaign_id if campaign_id else serves(agent, c.id))]
    if len(choices) != 1:
        return render.send_which(name, [f"{c.id}:{name}" for c in choices])
    campaign = choices[0]
    template = campaign.template(name)
    assert template is not None
    try:
        cid = await services.store.contact_id(active.contact_ref(phone)) if not \
            phone.startswith("c") else phone
        contact = await services.store.contact_hash(cid) if cid else {}
        filled = active.prefilled(template, contact)
        values = [given[i - 1] if i <= len(given) and given[i - 1] else filled.get(str(i), "")
                  for i in range(1, len(template.variables) + 1)]
        sent = services.done(await active.send_active(services.ctx, me, campaign.id, phone,
                                                      name, values))
    except ActionError as exc:
        return render.refused(exc)
    return render.active_sent(name, sent.conversation, campaign.slack_channel, sent.opened)
