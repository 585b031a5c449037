"""What a campaign's bot does through the API: answer the customer, hand off to people.

An ``Idempotency-Key`` is scoped to (caller, conversation, operation): the same key sent again
for the same call answers as the first time did and causes nothing; the same key on another
conversation or another operation is another call (see ``_idem``).
"""

from __future__ import annotations

from routing.actions.active import content, template_named, template_values
from routing.actions.context import Ctx, allow, campaign_of, conversation
from routing.config import serves
from routing.errors import Conflict, NotFound, Unprocessable
from routing.permissions import Principal, may_act_as_bot
from routing.results import Moved, Sent
from routing.types import ESCALATIONS


def _idem(who: Principal, vid: str, operation: str, key: str) -> str:
    """The stored key of an idempotent call ('' when the caller sent none)."""
    return f"{who.actor}:{vid}:{operation}:{key}" if key else ""


async def bot_message(ctx: Ctx, who: Principal, vid: str, text: str, idem: str = "",
                      template: str = "", variables: dict[str, str] | list[str] | None = None
                      ) -> Sent:
    """The bot answers the customer while it holds the conversation: text, or one of the
    campaign's templates (A8: interactive content, inside the window)."""
    conv = await conversation(ctx, vid)
    allow(may_act_as_bot(who, conv["campaign"]))
    sid = cvars = ""
    if template:
        campaign = campaign_of(ctx, conv)
        tpl = template_named(campaign, template)
        text, sid, cvars = content(campaign, tpl, template_values(tpl, variables or {}))
    result = await ctx.store.outbound(vid, "bot", text, _idem(who, vid, "msg", idem),
                                      "bot", template, sid, cvars)
    if result.outcome == "wrong_status":
        raise Conflict(f"the bot no longer holds this conversation (status {result.status})")
    if result.outcome == "opted_out":
        raise Unprocessable("the customer opted out (STOP) of messages from this number")
    if result.outcome == "window_closed":
        raise Unprocessable("more than 24 hours since the customer's last WhatsApp message: "
                            "only an approved template may be sent")
    return result


async def handoff(ctx: Ctx, who: Principal, vid: str, target_type: str, target_id: str = "",
                  escalation: str = "", note: str = "", idem: str = "") -> Moved:
    """The bot hands the conversation to an agent, a department (``billing`` or
    ``campaign/billing``), or to the routing policy (``route``)."""
    conv = await conversation(ctx, vid)
    allow(may_act_as_bot(who, conv["campaign"]))
    campaign = campaign_of(ctx, conv)
    if target_type == "agent":
        agent = ctx.workspace.agent(target_id)
        if agent is None:
            raise NotFound(f"no agent {target_id!r}")
        if not serves(agent, campaign.id):
            raise Unprocessable(f"agent {target_id} does not serve campaign {campaign.id}")
    elif target_type == "department":
        dept = campaign.department(target_id)
        if dept is None:
            raise NotFound(f"no department {target_id!r} in campaign {campaign.id}")
        target_id = dept.id
    if escalation and escalation not in ESCALATIONS:
        raise Unprocessable(f"escalation must be one of {list(ESCALATIONS)}")
    result = await ctx.store.handoff(vid, _idem(who, vid, "handoff", idem),
                                     target_type, target_id, campaign.default_department or "",
                                     escalation, note, who.actor)
    if result.outcome == "not_bot":
        raise Conflict(f"the bot does not hold this conversation (status {result.status})")
    return result
