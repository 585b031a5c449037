"""``/relaydesk`` for agents: presence (online, away, offline), status, their conversations and
the gallery. Translates to the use cases and reads; the words are in channels.slack.render."""

from __future__ import annotations

from channels.slack import render
from gateway.services import Services
from routing import actions
from routing.config import serves


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
    if word == "gallery":  # A6
        return render.gallery([
            (c.label, dict(c.canned), [(r.key, r.kind, r.title) for r in c.resources])
            for c in services.workspace.campaigns if serves(agent, c.id)])
    return render.USAGE
