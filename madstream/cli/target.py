"""Find the asset a command names (``module:attr`` or ``file.py:attr``) and bind its ``--arg`` values.

``--arg`` values arrive as text; pydantic converts each to the type its parameter is annotated with
(int, float, bool, Decimal, date, datetime, time, UUID, Path, enums, Literal, Optional/unions and
``list[...]`` as comma-separated items), so ``--arg day=2026-01-31`` reaches a ``day: date`` as a date.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import importlib
import importlib.util
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

from ..api.asset import DataAsset

__all__ = ["CliError", "bind_arguments", "convert", "load_asset", "require_all"]

_NONE = {"none", "null"}  # the words for None, when the type is optional
_SEQUENCES = (list, tuple, set, frozenset)  # given as comma-separated items


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
    texts: dict[str, str] = {}
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
        if key in texts:
            if not _is_list(hints.get(key, param.annotation)):
                raise CliError(f"--arg {key} is given twice — give it once (only a list parameter takes several)")
            text = f"{texts[key]},{text}"  # a list parameter: the items of every --arg, in order
        texts[key] = text
    kwargs: dict[str, Any] = {}
    for key, text in texts.items():
        annotation = hints.get(key, signature.parameters[key].annotation)
        try:
            kwargs[key] = convert(text, annotation)
        except (ValueError, TypeError) as exc:
            raise CliError(f"--arg {key}={text!r}: expected {_type_name(annotation)} ({exc})") from exc
    return asset.with_arguments(**kwargs)


def _is_list(annotation: Any) -> bool:
    """Whether ``annotation`` is a list-like type (also inside ``Optional[...]``)."""
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType))


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
    """``text`` as a value of ``annotation``, validated by pydantic (text stays text without a usable annotation).

    Beyond pydantic's own string parsing: ``none``/``null`` is None for optional types, list-like types take
    comma-separated items, and an enum member's name (or a Literal choice as written) is accepted as a fallback.
    Errors are a ``ValueError`` whose message is pydantic's first error, on one line.
    """
    if annotation in (inspect.Parameter.empty, Any, str) or isinstance(annotation, str):
        return text
    options = _options(annotation)
    if type(None) in options and text.strip().lower() in _NONE:
        return None
    try:
        adapter = _adapter(annotation)
    except pydantic.PydanticSchemaGenerationError:
        if isinstance(annotation, type):
            return annotation(text)  # a class pydantic knows nothing of: its constructor takes the text
        raise TypeError(f"cannot convert text to {_type_name(annotation)}") from None
    sequences = [o for o in options if (typing.get_origin(o) or o) in _SEQUENCES]
    value: Any = text
    fallback = _named(text, options)
    validate: Callable[[Any], Any] = adapter.validate_strings
    if sequences:  # validate_strings takes one string: the items are validated as a list of Python strings
        value = [part.strip() for part in text.split(",") if part.strip()]
        item_types = [a for sequence in sequences for a in typing.get_args(sequence)]
        fallback = [_named(item, item_types) for item in value]
        validate = adapter.validate_python
    try:
        return validate(value)
    except pydantic.ValidationError as exc:
        if fallback != value:  # an enum member by its name, a Literal choice as written
            with contextlib.suppress(pydantic.ValidationError):
                return adapter.validate_python(fallback)
        raise ValueError(exc.errors()[0]["msg"]) from exc  # pydantic's first problem, without its dump and URL


def _options(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (``Optional[X]`` is ``X | None``), else just ``annotation``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _named(text: str, annotations: list[Any] | tuple[Any, ...]) -> Any:
    """The enum member named ``text`` or the Literal choice spelled ``text`` among ``annotations``, else ``text``."""
    for annotation in (o for a in annotations for o in _options(a)):
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and text in annotation.__members__:
            return annotation[text]
        if typing.get_origin(annotation) is typing.Literal:
            for choice in typing.get_args(annotation):
                if str(choice) == text:
                    return choice
    return text


@functools.lru_cache(maxsize=256)
def _cached_adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    """pydantic's validator for ``annotation``, built once per (hashable) annotation."""
    try:
        hash(annotation)
    except TypeError:  # e.g. Annotated[...] with a dict in its metadata: build it each time
        return pydantic.TypeAdapter(annotation)
    return _cached_adapter(annotation)


def _type_name(annotation: Any) -> str:
    """``date`` for a class, ``list[int]`` or ``Literal['a', 'b']`` for the rest."""
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
