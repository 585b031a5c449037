"""Make customer text inert before it reaches Slack.

Slack turns ``<!channel>``, ``<@U123>`` and ``<https://x|click me>`` into mentions and links,
and, with name linking, bare ``@channel`` / ``@here`` / ``@everyone`` too. Escaping ``& < >``
(Slack's own rule) neutralizes the first kind; a word joiner after the ``@`` neutralizes the
second while the text still reads the same.
"""

from __future__ import annotations

import re

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)
