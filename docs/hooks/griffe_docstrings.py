"""Griffe extension: show madstream's reST-flavoured docstrings as Markdown in the API reference.

The docstrings are written for ``help()`` and doctest readers: ``>>>`` examples, ``:class:`X```
roles and ``::`` literal blocks. Markdown would render ``>>>`` as nested quotes and the roles
as literal text, so this rewrites them when mkdocstrings loads the package (the source stays as
it is): example runs become fenced Python blocks, roles become code spans, and ``::`` ends a
paragraph with one colon.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj):`~?([^`]+)`")
_PROMPT = re.compile(r"^(\s*)(>>>|\.\.\.)( |$)")


def markdown(text: str) -> str:
    """``text`` with doctest runs fenced, roles as code spans and ``::`` as ``:``."""
    out: list[str] = []
    lines = _ROLE.sub(r"`\1`", text).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        prompt = _PROMPT.match(line)
        if prompt and prompt[2] == ">>>":
            indent = prompt[1]
            out += [f"{indent}```pycon"]
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                out.append(lines[i])
                i += 1
            out += [f"{indent}```"]
            continue
        if line.strip() == "::":
            i += 1
            continue
        out.append(line[:-1] if line.endswith("::") else line)
        i += 1
    return "\n".join(out)


class ReSTToMarkdown(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
