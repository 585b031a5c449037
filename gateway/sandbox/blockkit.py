"""Block Kit to HTML for the sandbox console: what the service posted, shown as Slack would.

Covers what Relay Desk sends (header, section with text, fields and an accessory, context,
divider, actions with buttons and selects, input with text inputs and selects, image) and
Slack's mrkdwn (bold, italic, strike, code, links, user and channel mentions, dates). Every
interactive element carries ``data-*`` attributes the console's JavaScript turns into the
interactivity payload Slack would send.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

Names = Callable[[str], str]  # a Slack user or channel id -> how it is shown

_TOKEN = re.compile(r"<([^<>]*)>")
_STYLES = [(re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])"), r"<b>\1</b>"),
           (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])"), r"<i>\1</i>"),
           (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])"), r"<s>\1</s>"),
           (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>")]
EMOJI = {"hourglass_flowing_sand": "⏳", "heavy_check_mark": "✔️", "ballot_box_with_check": "☑️",
         "eyes": "👀", "x": "❌", "robot_face": "🤖", "lock": "🔒", "warning": "⚠️",
         "rotating_light": "🚨", "bust_in_silhouette": "👤", "busts_in_silhouette": "👥",
         "hourglass": "⌛", "white_check_mark": "✅", "large_green_circle": "🟢",
         "large_yellow_circle": "🟡", "white_circle": "⚪", "red_circle": "🔴",
         "inbox_tray": "📥", "speech_balloon": "💬", "link": "🔗", "mag": "🔍",
         "alarm_clock": "⏰", "arrow_right": "➡️", "arrows_counterclockwise": "🔄", "bell": "🔔",
         "house": "🏠", "clipboard": "📋"}
_EMOJI = re.compile(r":([a-z0-9_+-]+):")


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _plain(text: str) -> str:
    """Slack-escaped text (``&amp; &lt; &gt;``) to escaped HTML, with emoji."""
    raw = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), e(raw))


def mrkdwn(text: str, names: Names = str) -> str:
    out = []
    for i, part in enumerate(_TOKEN.split(text or "")):
        if i % 2 == 0:
            styled = _plain(part)
            for pattern, repl in _STYLES:
                styled = pattern.sub(repl, styled)
            out.append(styled.replace("\n", "<br>"))
        else:
            out.append(_token(part, names))
    return "".join(out)


def _token(token: str, names: Names) -> str:
    target, _, label = token.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{e(names(target[1:]))}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{e(label or names(target[1:]))}</span>'
    if target.startswith("!date"):
        return e(label)
    if target.startswith("!"):
        return f'<span class="mention">@{e(target[1:])}</span>'
    return f'<a href="{e(target)}" target="_blank" rel="noopener">{_plain(label or target)}</a>'


def text_obj(obj: dict[str, Any] | None, names: Names = str) -> str:
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text", ""), names)
    return _plain(obj.get("text", "")).replace("\n", "<br>")


def blocks(items: list[dict[str, Any]] | None, names: Names = str,
           errors: dict[str, str] | None = None) -> str:
    return "".join(block(b, names, errors or {}) for b in items or [])


def block(b: dict[str, Any], names: Names, errors: dict[str, str]) -> str:
    kind, block_id = b.get("type"), e(b.get("block_id", ""))
    if kind == "header":
        return f'<div class="bk-header">{text_obj(b.get("text"), names)}</div>'
    if kind == "divider":
        return '<hr class="bk-divider">'
    if kind == "context":
        parts = [text_obj(el, names) if el.get("type") != "image" else
                 f'<img src="{e(el.get("image_url", ""))}" alt="{e(el.get("alt_text", ""))}">'
                 for el in b.get("elements", [])]
        return f'<div class="bk-context">{" ".join(parts)}</div>'
    if kind == "section":
        body = f'<div class="bk-text">{text_obj(b.get("text"), names)}</div>' \
            if b.get("text") else ""
        if b.get("fields"):
            body += '<div class="bk-fields">' + "".join(
                f'<div class="bk-field">{text_obj(f, names)}</div>' for f in b["fields"]) + \
                "</div>"
        accessory = element(b["accessory"], block_id) if b.get("accessory") else ""
        return f'<div class="bk-section" data-block="{block_id}"><div class="bk-main">{body}' \
               f'</div>{accessory}</div>'
    if kind == "actions":
        return f'<div class="bk-actions" data-block="{block_id}">' + "".join(
            element(el, block_id) for el in b.get("elements", [])) + "</div>"
    if kind == "input":
        label = text_obj(b.get("label"))
        optional = ' <span class="bk-optional">(optional)</span>' if b.get("optional") else ""
        error = errors.get(b.get("block_id", ""))
        hint = f'<div class="bk-hint">{text_obj(b["hint"])}</div>' if b.get("hint") else ""
        return (f'<label class="bk-input{" has-error" if error else ""}" data-block="{block_id}">'
                f'<span class="bk-label">{label}{optional}</span>'
                f'{element(b.get("element", {}), block_id, True, b.get("dispatch_action"))}'
                f'{hint}{f"<span class=bk-error>{e(error)}</span>" if error else ""}</label>')
    if kind == "image":
        return f'<img class="bk-image" src="{e(b.get("image_url", ""))}" ' \
               f'alt="{e(b.get("alt_text", ""))}">'
    return f'<div class="bk-unknown">[{e(kind)} block]</div>'


def _options(el: dict[str, Any]) -> str:
    chosen = (el.get("initial_option") or {}).get("value")

    def option(o: dict[str, Any]) -> str:
        selected = " selected" if o.get("value") == chosen else ""
        return f'<option value="{e(o.get("value", ""))}"{selected}>' \
               f'{_plain((o.get("text") or {}).get("text", ""))}</option>'

    out = "" if chosen else '<option value="" selected disabled>' \
        f'{_plain((el.get("placeholder") or {}).get("text", "Choose…"))}</option>'
    if el.get("option_groups"):
        for group in el["option_groups"]:
            out += f'<optgroup label="{e((group.get("label") or {}).get("text", ""))}">' + \
                "".join(option(o) for o in group.get("options", [])) + "</optgroup>"
    return out + "".join(option(o) for o in el.get("options", []))


def element(el: dict[str, Any], block_id: str, in_input: bool = False,
            dispatch: bool | None = None) -> str:
    kind, action = el.get("type"), e(el.get("action_id", ""))
    common = f'data-action="{action}" data-block="{block_id}" data-type="{e(kind)}"'
    if kind == "button":
        style = f' bk-{e(el["style"])}' if el.get("style") else ""
        url = f' data-url="{e(el["url"])}"' if el.get("url") else ""
        return f'<button type="button" class="bk-button{style}" {common} ' \
               f'data-value="{e(el.get("value", ""))}"{url}>{text_obj(el.get("text"))}</button>'
    if kind == "static_select":
        live = " data-dispatch" if (dispatch or not in_input) else ""
        return f'<select class="bk-select" {common}{live}>{_options(el)}</select>'
    if kind == "plain_text_input":
        value = e(el.get("initial_value", ""))
        placeholder = e((el.get("placeholder") or {}).get("text", ""))
        if el.get("multiline"):
            return f'<textarea class="bk-textarea" {common} placeholder="{placeholder}" ' \
                   f'rows="3">{value}</textarea>'
        return f'<input class="bk-text-input" {common} value="{value}" ' \
               f'placeholder="{placeholder}">'
    if kind == "image":
        return f'<img class="bk-accessory-image" src="{e(el.get("image_url", ""))}" ' \
               f'alt="{e(el.get("alt_text", ""))}">'
    return f'<span class="bk-unknown">[{e(kind)}]</span>'


def modal(view: dict[str, Any], errors: dict[str, str] | None = None, names: Names = str
          ) -> str:
    """A modal view as a dialog: title, blocks, Cancel and Submit."""
    submit = f'<button type="button" class="bk-button bk-primary" data-modal="submit">' \
             f'{text_obj(view["submit"])}</button>' if view.get("submit") else ""
    close = text_obj(view.get("close")) or "Cancel"
    return (f'<div class="modal" role="dialog" aria-modal="true" data-view="{e(view.get("id"))}" '
            f'data-hash="{e(view.get("hash", ""))}">'
            f'<div class="modal-title">{text_obj(view.get("title"))}</div>'
            f'<div class="modal-body">{blocks(view.get("blocks"), names, errors)}</div>'
            f'<div class="modal-foot"><button type="button" class="bk-button" '
            f'data-modal="close">{close}</button>{submit}</div></div>')
