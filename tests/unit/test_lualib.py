"""Scripts carry only the library units they use (routing/lualib.py)."""

from __future__ import annotations

import re

import pytest

from routing.lualib import LayoutError, prune, units
from routing.store import SCRIPTS, _lua, library_source, script_source

LIBRARY = """\
local P = ARGV[1]
local K = {
  seq = P .. 'seq', open = P .. 'open',
}
function K.conv(vid) return P .. 'conv:' .. vid end
function K.msg(mid) return P .. 'msg:' .. mid end

-- A table only ``rank`` uses.
local RANK = {sent = 1,
              read = 2}

local function rank(status)
  return RANK[status] or 0
end

local function unused()
  return 1
end

local function newer(mid, status)
  return rank(status) > rank(redis.call('HGET', K.msg(mid), 'status'))
end
"""


def test_a_script_gets_what_it_uses_directly_and_through_other_units() -> None:
    source = prune(LIBRARY, "return newer(ARGV[3], ARGV[4])")
    for needed in ("local P =", "local K =", "function K.msg", "local RANK", "read = 2",
                   "local function rank", "local function newer", "-- A table only"):
        assert needed in source
    for dropped in ("function K.conv", "local function unused"):
        assert dropped not in source
    assert source.endswith("return newer(ARGV[3], ARGV[4])")
    # the library's order is kept: definitions still come before their uses
    assert source.index("local RANK") < source.index("local function rank") < \
        source.index("local function newer")


def test_an_inline_key_needs_the_key_table() -> None:
    source = prune(LIBRARY, "return redis.call('GET', K.seq)")
    assert "local K =" in source and "local P =" in source and "function K.msg" not in source


@pytest.mark.parametrize("line", ["if x then", "redis.call('DEL', 'x')", "x = 1"])
def test_a_top_level_statement_it_cannot_place_is_refused(line: str) -> None:
    with pytest.raises(LayoutError, match="line 2"):
        units("local P = ARGV[1]\n" + line + "\n")


def test_the_library_has_the_layout_pruning_needs_and_unique_names() -> None:
    defined = [name for unit in units(library_source()) for name in unit.defines]
    assert len(defined) == len(set(defined))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_library_name_a_pruned_script_mentions_is_defined_in_it(name: str) -> None:
    library = {n for unit in units(library_source()) for n in unit.defines}
    source = script_source(name)
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
    mentioned = set(re.findall(r"\bK\.\w+|\b[A-Za-z_]\w*", code)) & library
    kept = {n for unit in units(source.removesuffix(_lua(name))) for n in unit.defines}
    assert mentioned <= kept
    assert len(source) < len(library_source()) + len(_lua(name))
