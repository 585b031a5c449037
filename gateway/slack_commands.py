"""``/relaydesk`` for agents: presence (online, away, offline) and status."""

from __future__ import annotations

from gateway.services import Services

USAGE = ("Usage: `/relaydesk online`, `/relaydesk away`, `/relaydesk offline` or "
         "`/relaydesk status`.")


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
    return USAGE
