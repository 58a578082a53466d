"""The default name of an asset: ``{module}.{function}``, the same however its module was started.

A script run as ``python shop.py`` has the module name ``__main__``; the CLI (``madstream
materialize shop:products``) and every ``import shop`` load the same file as ``shop``. Named after
``__module__`` alone, one asset would be two (``__main__.products`` and ``shop.products``), each
with its own history and fragment folder, both writing the same result file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["default_name", "module_name"]


def module_name(module: str) -> str:
    """``module``, or for ``__main__`` the name the script has when imported.

    ``python -m pkg.shop`` records ``pkg.shop`` in ``__main__.__spec__``; ``python shop.py`` has no
    spec, and its file stem is what ``import shop`` (and the CLI's ``shop.py:products``) call it.
    An interactive session or ``python -c`` has neither and stays ``__main__``.
    """
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name)
    file = getattr(main, "__file__", None)
    return Path(file).stem if file else module


def default_name(fn: Callable[..., Any]) -> str:
    """``{module}.{function}`` for ``fn``, with a script's module named as when imported."""
    return f"{module_name(fn.__module__)}.{fn.__name__}"
