"""Small text drawings for ``show``: sparklines of a series, and a schema as a tree of columns.

Plain unicode (block elements and box-drawing lines), so they read the same on a terminal, in a
pipe and in a log. A schema arrives as DuckDB type names (what a version records), e.g.
``STRUCT(a BIGINT, "b c" VARCHAR[])[]``; nested types become branches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["SPARKS", "schema_tree", "sparkline", "tree_lines"]

#: From lowest to highest.
SPARKS = "▁▂▃▄▅▆▇█"
_ARRAY = re.compile(r"\[\d*\]$")


def sparkline(values: Sequence[float]) -> str:
    """One block per value, scaled between the series' lowest and highest (a flat series sits mid-height)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARKS[len(SPARKS) // 2 - 1] * len(values)
    top = len(SPARKS) - 1
    return "".join(SPARKS[round((v - low) / (high - low) * top)] for v in values)


def _split_top(text: str) -> list[str]:
    """``a INT, b STRUCT(c INT, d INT)`` → ``["a INT", "b STRUCT(c INT, d INT)"]`` (commas at depth 0 only)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted  # a doubled quote toggles twice: still inside the name
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _field(text: str) -> tuple[str, str]:
    """``"b c" VARCHAR`` → ``("b c", "VARCHAR")``."""
    if text.startswith('"'):
        i = 1
        while i < len(text):
            if text[i] == '"' and text[i + 1 : i + 2] != '"':
                break
            i += 2 if text[i] == '"' else 1
        return text[1:i].replace('""', '"'), text[i + 1 :].strip()
    name, _, kind = text.partition(" ")
    return name, kind.strip()


def schema_tree(name: str, kind: str) -> dict[str, Any]:
    """A column as ``{"name", "type", "children"}``; a struct's fields, a map's key and value become children."""
    core, arrays = kind.strip(), ""
    while match := _ARRAY.search(core):
        arrays = match.group(0) + arrays
        core = core[: match.start()].rstrip()
    head, paren, rest = core.partition("(")
    head = head.strip().upper()
    if paren and rest.endswith(")") and head in ("STRUCT", "MAP", "UNION"):
        inner = _split_top(rest[:-1])
        if head == "MAP" and len(inner) == 2:
            children = [schema_tree("key", inner[0]), schema_tree("value", inner[1])]
        else:
            children = [schema_tree(*_field(part)) for part in inner]
        return {"name": name, "type": head + arrays, "children": children}
    return {"name": name, "type": kind.strip(), "children": []}


def tree_lines(nodes: Sequence[dict[str, Any]], prefix: str = "") -> list[str]:
    """``├── id BIGINT`` / ``└── address STRUCT`` lines, children indented under their parent."""
    lines = []
    for i, node in enumerate(nodes):
        last = i == len(nodes) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{node['name']}  {node['type']}")
        lines.extend(tree_lines(node["children"], prefix + ("    " if last else "│   ")))
    return lines
