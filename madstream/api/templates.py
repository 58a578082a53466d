"""Rendering ``path`` / ``name`` / ``artifacts_dir`` templates with an asset's arguments.

Templates use ``str.format`` syntax, attribute access included (``{listing.name}``). Values
substituted into a path may not climb out of the storage root.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from ..base.errors import PathEscapeError, TemplateError

__all__ = ["render_name", "render_path", "sanitize_name"]

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-{}]")


def sanitize_name(name: str) -> str:
    """Keep ``[A-Za-z0-9_.-{}]``; anything else becomes ``_``."""
    return _NAME_UNSAFE.sub("_", name)


class _Formatter(string.Formatter):
    """A formatter that remembers the raw values it substituted, for the escape check."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def format_field(self, value: Any, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        self.values.append(text)
        return text


class _Partial(dict[str, Any]):
    """Values with a stand-in for every argument not bound yet (to check the bound ones early)."""

    def __missing__(self, key: str) -> str:
        return "unbound"


def _render(
    template: str, values: Mapping[str, Any], *, asset: str, what: str, partial: bool = False,
) -> tuple[str, list[str]]:
    formatter = _Formatter()
    try:
        return formatter.vformat(template, (), _Partial(values) if partial else dict(values)), formatter.values
    except KeyError as exc:
        key = exc.args[0] if exc.args else "?"
        available = ", ".join(sorted(values)) or "none"
        raise TemplateError(
            f"{what} template `{template}` names `{{{key}}}`, which no argument provides "
            f"(available: {available})",
            asset=asset,
            hint="pass it with with_arguments(...) or fix the template",
        ) from None
    except (AttributeError, IndexError, ValueError) as exc:
        raise TemplateError(
            f"{what} template `{template}` cannot be rendered: {exc}",
            asset=asset,
            hint="check the placeholders against the function's arguments",
        ) from exc


def _escapes(text: str) -> bool:
    text = text.replace("\\", "/")
    return text.startswith("/") or bool(re.match(r"^[A-Za-z]:", text)) or ".." in text.split("/")


#: Longest file or folder name (bytes) that local disks, SFTP servers and object stores all hold.
_MAX_NAME_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _unholdable(value: str) -> str | None:
    """Why a value substituted into a path cannot be a name on every backend, or ``None``."""
    if value == "":
        return "is empty"
    if _CONTROL.search(value):
        return "holds a control character (NUL, newline, tab, ...)"
    long = next((part for part in value.replace("\\", "/").split("/") if len(part.encode()) > _MAX_NAME_BYTES), None)
    if long is not None:
        return f"has a name longer than {_MAX_NAME_BYTES} bytes"
    return None


def render_path(template: str, values: Mapping[str, Any], *, asset: str, what: str = "path", partial: bool = False) -> str:
    """Render a path template; reject values that would leave the storage root or that no backend can name.

    With ``partial``, arguments not bound yet stand in as a plain name (to check the bound ones).

    Values are literal names: glob characters (``*``, ``?``, ``[``) in them match only
    themselves, because madstream never globs a user's path (its own files have names of its own).
    """
    rendered, substituted = _render(template, values, asset=asset, what=what, partial=partial)
    for value in substituted:
        why = _unholdable(value)
        if why is not None:
            raise TemplateError(
                f"{what} template `{template}`: an argument value {why}", asset=asset,
                hint="pass a value that can be a file or folder name (it is checked when the asset is bound)",
            )
    bad = next((v for v in substituted if _escapes(v)), None)
    if bad is not None or ".." in rendered.replace("\\", "/").split("/"):
        raise PathEscapeError(
            f"{what} template `{template}` rendered `{rendered}`, which leaves the storage root"
            + (f" (argument value `{bad}`)" if bad is not None else ""),
            asset=asset,
            path=rendered,
            hint="arguments used in paths must be relative names without `..` or a leading `/`",
        )
    return rendered


def render_name(template: str, values: Mapping[str, Any], *, asset: str) -> str:
    """Render a name template and sanitize the result."""
    rendered, _ = _render(template, values, asset=asset, what="name")
    return sanitize_name(rendered)
