"""Redis key names.

Every key of a namespace carries the same hash tag (``rd:{ns}:...``) so that one Lua script
may touch any of them and still run on Redis Cluster (all keys in one slot). A deployment
that outgrows one slot runs one namespace per workspace. Scripts receive the prefix and build
entity keys from it, exactly as the helpers below do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under one namespace."""

    namespace: str = "rd"

    @property
    def prefix(self) -> str:
        return f"rd:{{{self.namespace}}}:"

    # singletons
    @property
    def seq(self) -> str:
        return self.prefix + "seq"

    @property
    def ident(self) -> str:
        return self.prefix + "ident"

    @property
    def open(self) -> str:
        return self.prefix + "open"

    @property
    def threads(self) -> str:
        return self.prefix + "threads"

    @property
    def seeded(self) -> str:
        """When and from which config the namespace was last seeded: a Relay Desk lives here."""
        return self.prefix + "seeded"

    @property
    def awaiting(self) -> str:
        """Open conversations whose customer waits for an answer, by when they started."""
        return self.prefix + "awaiting"

    @property
    def pending(self) -> str:
        return self.prefix + "pending"

    # entities
    def contact(self, cid: str) -> str:
        return f"{self.prefix}contact:{cid}"

    def conv(self, vid: str) -> str:
        return f"{self.prefix}conv:{vid}"

    def events(self, vid: str) -> str:
        return f"{self.prefix}conv:{vid}:events"

    def outbox(self, vid: str, kind: str) -> str:
        """A conversation's outbox for ``kind`` (``slack``, ``twilio``, ``bot``): lib.lua's
        ``K.outbox``."""
        return f"{self.prefix}conv:{vid}:to_{kind}"

    def to_slack(self, vid: str) -> str:
        return self.outbox(vid, "slack")

    def to_twilio(self, vid: str) -> str:
        return self.outbox(vid, "twilio")

    def msg(self, mid: str) -> str:
        return f"{self.prefix}msg:{mid}"

    def sid(self, sid: str) -> str:
        return f"{self.prefix}sid:{sid}"

    def early(self, sid: str) -> str:
        return f"{self.prefix}early:{sid}"

    def slack_event(self, event_id: str) -> str:
        return f"{self.prefix}slack_event:{event_id}"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def agent_depts(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:depts"

    def inbox(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:inbox"

    def agent_grants(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:grants"

    def agent_open(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:open"

    def contact_convs(self, cid: str) -> str:
        return f"{self.prefix}contact:{cid}:convs"

    def contact_notes(self, cid: str) -> str:
        return f"{self.prefix}contact:{cid}:notes"

    def contact_audit(self, cid: str) -> str:
        return f"{self.prefix}contact:{cid}:audit"

    def agent_audit(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}:audit"

    def idem(self, key: str) -> str:
        return f"{self.prefix}idem:{key}"

    def unassigned(self, campaign: str) -> str:
        return f"{self.prefix}unassigned:{campaign}"

    def to_bot(self, vid: str) -> str:
        return self.outbox(vid, "bot")

    def tokens(self) -> str:
        return f"{self.prefix}tokens"

    def dept_members(self, campaign: str, dept: str) -> str:
        return f"{self.prefix}dept:{campaign}/{dept}:members"

    def dept_queue(self, campaign: str, dept: str) -> str:
        return f"{self.prefix}dept:{campaign}/{dept}:queue"

    # bulk active messages: the request, and each recipient's input, state, reason, message
    def bulk(self, bid: str) -> str:
        return f"{self.prefix}bulk:{bid}"

    def bulk_input(self, bid: str) -> str:
        return f"{self.prefix}bulk:{bid}:input"

    def bulk_state(self, bid: str) -> str:
        return f"{self.prefix}bulk:{bid}:state"

    def bulk_why(self, bid: str) -> str:
        return f"{self.prefix}bulk:{bid}:why"

    def bulk_msg(self, bid: str) -> str:
        return f"{self.prefix}bulk:{bid}:msg"

    def bulks(self) -> str:
        """Every bulk by creation time."""
        return f"{self.prefix}bulks"

    def people(self, vid: str) -> str:
        """Agents who interacted with a conversation (assignee, replied, note, transfer)."""
        return f"{self.prefix}conv:{vid}:people"

    def history(self, agent_id: str) -> str:
        """The agent's closed tickets (``cid|vid`` by closing time), for 90 days."""
        return f"{self.prefix}agent:{agent_id}:history"

    def lock(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    def pace(self, resource: str) -> str:
        """A token bucket (routing.pacing), shared by every worker: a sending number
        (``+1415...``), ``slack:<channel>``, ``slack:workspace``."""
        return f"{self.prefix}pace:{resource}"
