"""What an agent's App Home shows: for supervisors and admins the supervisors' view, above the
attendance history everyone has (``home.history_home``).

Used by the desk when Slack says the Home tab was opened, and by the worker that republishes
supervisors' Homes when the board changed (``workers.homes``).
"""

from __future__ import annotations

from typing import Any

from channels.slack import home, render
from routing import actions
from routing.actions import supervision
from routing.actions.context import Ctx
from routing.errors import ActionError


async def board_blocks(ctx: Ctx, slack_user: str) -> list[dict[str, Any]]:
    """The supervisors' view for this Slack user, or nothing if they do not supervise."""
    try:
        me = actions.principal_of_slack(ctx, slack_user)
    except ActionError:
        return []
    if not supervision.supervises(ctx, me):
        return []
    return home.supervisor_board(await supervision.board(ctx, me), ctx.workspace.name_of)


async def compose(ctx: Ctx, slack_user: str) -> dict[str, Any]:
    """The Home as first opened: the board (if any) above the history's first page."""
    try:
        me = actions.principal_of_slack(ctx, slack_user)
        data = await actions.history_contacts(ctx, me, "", "recent", 1)
        view = home.history_home(data)
    except ActionError as exc:
        view = home.history_home(None, refusal=render.field_error(exc))
    return home.with_board(await board_blocks(ctx, slack_user), view)
