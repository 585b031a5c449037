"""Replies fit Slack's limits whatever the customer sends; department channels in the config."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.slack import render
from channels.slack.escape import escape
from routing.config import ConfigError, parse_config
from tests.routing_world import _world


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab &<>\n*é"), max_size=12_000))
def test_chunks_rejoin_exactly_and_never_cut_an_escape(body: str) -> None:
    text = escape(body)
    parts = render.chunks(text)
    assert "".join(parts) == text
    assert all(0 < len(p) <= render.MAX_SECTION for p in parts) or text == ""
    for part in parts:
        assert part.count("&") == part.count(";")  # &amp; &lt; &gt; whole in one part


def test_a_huge_message_still_fits_one_reply() -> None:
    shown = render.customer_reply("x" * 200_000, ())
    assert len(shown["blocks"]) == render.MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= render.MAX_SECTION for b in shown["blocks"])
    assert len(shown["text"]) <= render.MAX_TEXT
    assert "more characters not shown" in shown["blocks"][-1]["text"]["text"]


def test_a_backlog_is_one_block_per_message_in_order() -> None:
    shown = render.customer_replies([("uno", ()), ("dos", ()), ("tres", ())])
    assert [b["text"]["text"] for b in shown["blocks"]] == ["uno", "dos", "tres"]
    assert shown["text"] == "uno\ndos\ntres"


def test_department_channels() -> None:
    raw = _world("http://127.0.0.1:9/bot")
    raw["campaigns"][0]["departments"][1]["slack_channel"] = "C0CARE"
    shop = parse_config(raw).campaign("shop")
    assert shop.channel_for("care") == "C0CARE" and shop.channel_for("sales") == "C0SHOP"
    assert shop.channel_for(None) == "C0SHOP" and shop.channel_for("gone") == "C0SHOP"
    raw["campaigns"][0]["departments"][1]["slack_channel"] = "#care"
    with pytest.raises(ConfigError, match="slack_channel"):
        parse_config(raw)
