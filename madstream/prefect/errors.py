"""The error of a fan-out in which some configurations failed: it carries the others' artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api.artifact import DataArtifact
from ..base.errors import MadstreamError

__all__ = ["MaterializeError", "summarize"]


class MaterializeError(MadstreamError, ExceptionGroup):  # type: ignore[misc]  # both are Exceptions
    """Some of the configurations given to ``materialize`` failed; the others completed.

    An :class:`ExceptionGroup` (``except* ExtractError`` picks out one kind of failure) and a
    :class:`~madstream.MadstreamError`. ``artifacts`` holds, in the order the assets were given,
    each configuration's artifact, or ``None`` where it failed; ``exceptions`` holds the failures.

    >>> try:
    ...     await materialize(*variants)
    ... except MaterializeError as exc:
    ...     done = exc.succeeded
    """

    def __new__(cls, outcomes: Sequence[DataArtifact | BaseException], names: Sequence[str]) -> MaterializeError:
        failures = [o for o in outcomes if isinstance(o, Exception)]
        return super().__new__(cls, summarize(outcomes, names), failures)

    def __init__(self, outcomes: Sequence[DataArtifact | BaseException], names: Sequence[str]) -> None:
        MadstreamError.__init__(
            self, summarize(outcomes, names),
            hint="each error is in `.exceptions`, the completed artifacts in `.artifacts` (pass "
            "return_exceptions=True to get errors in the returned list instead)",
        )
        self._outcomes = list(outcomes)
        self._names = list(names)
        #: Each configuration's artifact in the order given, ``None`` where it failed.
        self.artifacts: list[DataArtifact | None] = [o if isinstance(o, DataArtifact) else None for o in outcomes]

    @property
    def succeeded(self) -> list[DataArtifact]:
        """The artifacts of the configurations that completed, in the order given."""
        return [a for a in self.artifacts if a is not None]

    def at(self, **fields: Any) -> MadstreamError:
        """Itself: the group names its assets already (one ``asset=`` would not describe it)."""
        return self

    def __str__(self) -> str:
        return str(self.args[0])

    def derive(self, excs: Sequence[Exception]) -> ExceptionGroup[Exception]:  # type: ignore[override]
        # ``except*`` splits the group into plain groups: the artifacts stay with the original.
        return ExceptionGroup(self.message, excs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._outcomes, self._names))

    def __setstate__(self, fields: dict[str, Any] | None) -> None:
        pass  # __reduce__ rebuilt everything from the outcomes


def summarize(outcomes: Sequence[DataArtifact | BaseException], names: Sequence[str]) -> str:
    """One line on what failed: ``"1 of 3 assets failed: `b` (ExtractError); 2 completed"``."""
    failed = [f"`{name}` ({type(o).__name__})" for o, name in zip(outcomes, names, strict=True) if isinstance(o, BaseException)]
    if len(outcomes) == 1:
        return f"asset {failed[0]} failed" if failed else f"asset `{names[0]}` completed"
    shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    return f"{len(failed)} of {len(outcomes)} assets failed: {shown}; {len(outcomes) - len(failed)} completed"
