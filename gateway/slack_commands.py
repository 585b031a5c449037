"""``/relaydesk`` for agents: presence (online, away, offline) and status."""

from __future__ import annotations

from channels.slack.escape import escape
from gateway.services import Services
from routing.config import serves

USAGE = ("Usage: `/relaydesk online`, `/relaydesk away`, `/relaydesk offline`, "
         "`/relaydesk status`, `/relaydesk mine` (your conversations) or `/relaydesk gallery` "
         "(the resources you can send with `;key`).")


async def handle(services: Services, slack_user: str, text: str) -> str:
    agent = next((a for a in services.workspace.agents if a.slack_user == slack_user), None)
    if agent is None:
        return "You are not a Relay Desk agent; ask an admin to add your Slack user to the config."
    word = (text.split() or ["status"])[0].lower()
    store = services.store
    if word in ("online", "away", "offline"):
        _, assigned = await store.set_presence(agent.id, word, agent.id)
        vids = [v.decode() for v in assigned]
        services.dispatch(*(f"{kind}:{v}" for v in vids for kind in ("card", "alert")))
        taken = f" {len(vids)} waiting conversation(s) are now yours." if vids else ""
        return f"You are now *{word}*.{taken}"
    if word == "status":
        state = {k.decode(): v.decode() for k, v in (await store.agent_hash(agent.id)).items()}
        inbox = await store.redis.zcard(store.keys.inbox(agent.id))
        return (f"You are *{state.get('presence', 'offline')}* with "
                f"{state.get('load', '0')}/{state.get('capacity', '0')} open conversations"
                f" and {inbox} waiting in your inbox.")
    if word == "mine":  # A1
        vids = sorted(v.decode() for v in await store.redis.smembers(store.keys.agent_open(
            agent.id)))
        if not vids:
            return "You have no open conversations."
        lines = []
        for vid in vids:
            conv = {k.decode(): v.decode() for k, v in (await store.conversation_hash(vid)).items()}
            contact = {k.decode(): v.decode()
                       for k, v in (await store.contact_hash(conv["contact"])).items()}
            campaign = services.workspace.campaign(conv["campaign"])
            where = f"<#{campaign.slack_channel}>" if campaign else conv["campaign"]
            lines.append(f"• {vid} · {escape(contact.get('name') or contact.get('phone', ''))}"
                         f" · {where}" + (" · :rotating_light:" if conv.get("priority") ==
                                          "escalated" else ""))
        return f"Your {len(vids)} open conversation(s):\n" + "\n".join(lines)
    if word == "gallery":  # A6
        lines = []
        for campaign in services.workspace.campaigns:
            if not serves(agent, campaign.id):
                continue
            items = [f"`;{k}` {escape(v[:60])}" for k, v in sorted(campaign.canned.items())]
            items += [f"`;{r.key}` {r.kind}: {escape(r.title)}" for r in campaign.resources]
            if items:
                lines.append(f"*{escape(campaign.name or campaign.id)}*\n" + "\n".join(items))
        return "\n".join(lines) or "Your campaigns have no resources yet."
    return USAGE
