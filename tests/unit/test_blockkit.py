"""The console's Block Kit rendering: Slack's mrkdwn, escaping, interactive elements."""

from __future__ import annotations

from channels.slack import modals, render
from gateway.sandbox import blockkit


def test_mrkdwn_formats_links_mentions_and_dates() -> None:
    out = blockkit.mrkdwn("*Ana* wrote _now_ in <#C0SUPPORTWA> to <@U0ANA>: "
                          "<https://x.example/a?b=1&c=2|the link> "
                          "<!date^1700000000^{date_short}|2023-11-14> `code`",
                          {"U0ANA": "Ana Ruiz", "C0SUPPORTWA": "support-wa"}.get)
    assert "<b>Ana</b>" in out and "<i>now</i>" in out and "<code>code</code>" in out
    assert '<span class="mention">@Ana Ruiz</span>' in out
    assert '<span class="mention">#support-wa</span>' in out
    assert '<a href="https://x.example/a?b=1&amp;c=2"' in out and ">the link</a>" in out
    assert "2023-11-14" in out and "!date" not in out


def test_customer_text_cannot_inject_html() -> None:
    escaped = render.customer_reply('<script>alert(1)</script> & "hi"', ())["text"]
    out = blockkit.mrkdwn(escaped)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert blockkit.text_obj({"type": "plain_text", "text": "<img src=x onerror=1>"}) == \
        "&lt;img src=x onerror=1&gt;"


def test_card_buttons_and_modal_inputs_carry_what_the_payload_needs() -> None:
    buttons = blockkit.blocks([modals.action_buttons("v7")])
    assert 'data-action="rd_assign"' in buttons and 'data-value="v7"' in buttons
    assert 'data-block="rd_actions"' in buttons and "bk-danger" in buttons
    view = modals.assign_modal("v7", [("ana", "Ana Ruiz"), ("bruno", "Bruno Díaz")], "bruno",
                               "Reassigned to Bruno Díaz") | {"id": "V1", "hash": "h1"}
    html = blockkit.modal(view, {"agent": "bruno is offline"})
    assert 'data-view="V1"' in html and 'data-hash="h1"' in html
    assert '<option value="bruno" selected>' in html and "data-dispatch" in html
    assert ">Reassigned to Bruno Díaz</textarea>" in html
    assert "bruno is offline" in html and "has-error" in html
    assert 'data-modal="submit"' in html and ">Assign</button>" in html
