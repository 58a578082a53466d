"""Find the asset a command names (``module:attr`` or ``file.py:attr``) and bind its ``--arg`` values.

``--arg`` values arrive as text; each is converted to the type its parameter is annotated with
(int, float, bool, Decimal, date, datetime, time, UUID, Path, enums, Literal, Optional/unions and
``list[...]`` as comma-separated items), so ``--arg day=2026-01-31`` reaches a ``day: date`` as a date.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import importlib
import importlib.util
import inspect
import os
import sys
import types
import typing
import uuid
from pathlib import Path
from typing import Any

from ..api.asset import DataAsset

__all__ = ["CliError", "bind_arguments", "convert", "load_asset", "require_all"]

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
_NONE = {"none", "null"}


class CliError(Exception):
    """A mistake on the command line; the message is the one line the user sees."""


def load_asset(target: str) -> DataAsset:
    """The :class:`DataAsset` named ``module:attr`` (dotted attrs allowed) or ``path/file.py:attr``."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise CliError(f"`{target}` is not module:asset — name it like `pipelines.sales:orders`")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: the project's modules import
    try:
        if module_name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if spec is None or spec.loader is None or not Path(module_name).is_file():
                raise CliError(f"cannot load `{module_name}`: no such file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CliError(
            f"cannot import `{module_name}`: {exc} — run from the folder that holds it or add it to PYTHONPATH"
        ) from exc
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise CliError(f"`{module_name}` has no attribute `{attr}` — check the asset's name")
        found = getattr(found, part)
    if not isinstance(found, DataAsset):
        raise CliError(f"`{target}` is a {type(found).__name__}, not an asset — decorate the function with @asset")
    return found


def bind_arguments(asset: DataAsset, pairs: list[str]) -> DataAsset:
    """``asset`` with ``key=value`` pairs bound, each converted to its parameter's annotated type."""
    if not pairs:
        return asset
    signature = inspect.signature(asset.fn)
    try:
        hints = typing.get_type_hints(asset.fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to what the signature holds
        hints = {}
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise CliError(f"--arg `{pair}` is not key=value")
        param = signature.parameters.get(key)
        if param is None:
            raise CliError(
                f"asset `{asset.name}` has no parameter `{key}` — its parameters are {', '.join(signature.parameters) or 'none'}"
            )
        annotation = hints.get(key, param.annotation)
        try:
            kwargs[key] = convert(text, annotation)
        except (ValueError, TypeError, decimal.InvalidOperation) as exc:
            raise CliError(f"--arg {key}={text!r}: expected {_type_name(annotation)} ({exc})") from exc
    return asset.with_arguments(**kwargs)


def require_all(asset: DataAsset) -> DataAsset:
    """``asset`` if every required parameter is bound; else say which ``--arg`` is missing."""
    signature = inspect.signature(asset.fn)
    bound = signature.bind_partial(*asset.args, **asset.kwargs).arguments
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    missing = [
        name for name, p in signature.parameters.items()
        if name not in bound and p.default is inspect.Parameter.empty and p.kind not in variadic
    ]
    if missing:
        needed = " ".join(f"--arg {name}=..." for name in missing)
        raise CliError(f"asset `{asset.name}` needs {needed} (its parameters: {str(signature)[1:-1]})")
    return asset


def convert(text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation`` (text stays text when there is no usable annotation)."""
    if annotation in (inspect.Parameter.empty, Any, str) or isinstance(annotation, str):
        return text
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and text.strip().lower() in _NONE:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return convert(text, option)
            except (ValueError, TypeError, decimal.InvalidOperation) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if str(choice) == text:
                return choice
        raise ValueError(f"choose one of {', '.join(map(str, typing.get_args(annotation)))}")
    if origin in (list, tuple, set, frozenset):
        (item,) = typing.get_args(annotation)[:1] or (str,)
        items = [convert(part.strip(), item) for part in text.split(",") if part.strip()]
        return origin(items)
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError("use true/false, yes/no or 1/0")
    if annotation is dt.datetime:
        return dt.datetime.fromisoformat(text)
    if annotation is dt.date:
        return dt.date.fromisoformat(text)
    if annotation is dt.time:
        return dt.time.fromisoformat(text)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(text)
        except ValueError:
            if text in annotation.__members__:
                return annotation[text]
            raise ValueError(f"choose one of {', '.join(annotation.__members__)}") from None
    if annotation in (int, float, decimal.Decimal, uuid.UUID, Path) or isinstance(annotation, type):
        return annotation(text)
    return text


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)
