"""The README documents what the code accepts: every config field, the agent API's answers."""

from __future__ import annotations

import re
import types
import typing

from pydantic import BaseModel

from routing.config import Workspace
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def table_after(heading: str) -> list[tuple[str, ...]]:
    """The first Markdown table after a heading, as rows of cells (``\\|`` kept in a cell)."""
    section = README.split(heading, 1)[1]
    lines = [line for line in section.splitlines()[1:] if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(tuple(c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))))
    return rows


def config_rows() -> dict[str, str]:
    """Field path -> meaning; "`agents[].id`, `name`" documents ``agents[].name`` too."""
    rows = {}
    for field, meaning in table_after("## Configuration"):
        first, *siblings = re.findall(r"`([^`]+)`", field)
        rows[first] = meaning
        parent = first.rpartition(".")[0]
        for sibling in siblings:
            rows[f"{parent}.{sibling}" if parent else sibling] = meaning
    return rows


def model_of(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """The config model a field holds (if any), and whether it holds a sequence of them."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin in (tuple, list):
            annotation, many = typing.get_args(annotation)[0], True
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, many
    return None, many


def fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf field path of the config schema (``campaigns[].resources[].content_type``);
    a nested model's fields are listed under it, so the example config, which the schema
    validates with extra fields forbidden, uses a subset of these."""
    out = []
    for name, info in model.model_fields.items():
        sub, many = model_of(info.annotation)
        path = f"{prefix}{name}"
        if sub is None:
            out.append(path)
        else:
            out += fields(sub, f"{path}{'[]' if many else ''}.")
    return out


def test_config_table_documents_every_field() -> None:
    rows = config_rows()

    def documented(path: str) -> bool:
        if path in rows:
            return True
        parent, _, leaf = path.rpartition(".")
        return parent in rows and re.search(rf"\b{re.escape(leaf)}\b", rows[parent]) is not None

    paths = fields(Workspace)
    assert {"name", "campaigns[].name", "campaigns[].resources[].content_type",
            "campaigns[].bot.secret_env", "agents[].grants"} <= set(paths)
    assert [p for p in paths if not documented(p)] == []


def test_api_table_says_what_the_agent_endpoints_return() -> None:
    rows = {(method, path.strip("`")): what for method, path, _, what in table_after("## API")}
    read = rows[("GET", "/api/agents/{agent}")]
    assert '`{"id", "presence", "capacity", "open", "inbox"}`' in read
    assert "`open` is a **count**" in read and "`inbox` a **list**" in read
    presence = rows[("PUT", "/api/agents/{agent}/presence")]
    assert "same object as the GET" in presence and '`"assigned"`' in presence
    assert "**list**" in presence
