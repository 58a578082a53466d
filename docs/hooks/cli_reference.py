"""MkDocs hook: render the command-line reference from madstream's own argparse parser.

The page ``reference/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is
replaced by one section per command (its help, a table of its arguments and its ``--help``
text), read from the parser the ``madstream`` command runs, so the reference cannot drift
from the code.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- cli-reference -->"
WIDTH = "100"  # argparse wraps to $COLUMNS: a fixed width keeps the page the same on every machine


def _parser() -> argparse.ArgumentParser:
    from madstream.cli import _parser as build  # the parser `madstream` itself parses with

    return build()


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the order `madstream --help` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest
        return f"`{name}`" + (" (optional)" if action.nargs == "?" else "")
    shown = ", ".join(action.option_strings)
    if action.nargs != 0:
        shown += f" {action.metavar or action.dest.upper()}"
    return f"`{shown}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _arguments_table(parser: argparse.ArgumentParser) -> str:
    rows = ["| argument | meaning |", "| --- | --- |"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        meaning = action.help or ""
        if action.choices and not isinstance(action.choices, dict):
            meaning += f" (one of: {', '.join(f'`{c}`' for c in action.choices)})"
        rows.append(f"| {_flags(action)} | {_cell(meaning)} |")
    return "\n".join(rows)


def _help_text(parser: argparse.ArgumentParser) -> str:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help().rstrip()
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def render() -> str:
    """The generated reference, as Markdown."""
    parser = _parser()
    parts = ["```text", _help_text(parser), "```"]
    for name, summary, sub in _commands(parser):
        parts += [
            f"## `madstream {name}`", "", f"{summary[:1].upper()}{summary[1:]}.", "",
            _arguments_table(sub), "",
            '??? note "`--help`"', "", "    ```text",
            *(f"    {line}".rstrip() for line in _help_text(sub).splitlines()),
            "    ```", "",
        ]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
