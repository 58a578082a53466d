"""The live progress display: the current rate, and a bar for a run whose size is known."""

from __future__ import annotations

import io
import re

import anyio
import pytest
from rich.console import Console

from madstream import asset
from madstream.run.observe import RunCollector, expect_rows, observe
from madstream.run.progress import RunProgress


def _display() -> tuple[RunProgress, io.StringIO]:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    return RunProgress(console=console, delay=0), screen


@pytest.mark.anyio
async def test_a_run_yielding_an_asset_draws_a_bar_and_the_current_rate() -> None:
    @asset("progress/inner.parquet", name="inner", artifact_filetype="parquet")
    async def inner():  # type: ignore[no-untyped-def]
        for page in range(5):
            yield [{"page": page, "i": i} for i in range(40)]

    @asset("progress/outer.parquet", name="outer", artifact_filetype="parquet")
    async def outer():  # type: ignore[no-untyped-def]
        yield inner
        await anyio.sleep(0.8)  # the display redraws a few times while the run is still going

    display, screen = _display()
    collector = RunCollector()
    with observe(display, collector):
        artifact = await outer()
    assert artifact.rows == 200
    shown = screen.getvalue()
    outer_lines = [line for line in re.split(r"[\r\n]", shown) if "outer" in line]
    assert outer_lines, shown
    last = outer_lines[-1]
    assert "━" in last and "100%" in last  # inner's 200 rows were announced and all written
    assert "200 rows" in last and re.search(r"now [\d.]+ batches/s, [\d.]+ (B|KB)/s", last)
    inner_lines = [line for line in re.split(r"[\r\n]", shown) if "inner" in line and "outer" not in line]
    assert all("%" not in line for line in inner_lines)  # inner's own size was never announced: no bar
    assert [run.asset_name for run in collector.runs] == ["inner", "outer"]


@pytest.mark.anyio
async def test_expect_rows_outside_a_run_does_nothing() -> None:
    expect_rows(10)  # no run is being watched here: nobody to tell, and no error

    @asset("progress/plain.parquet", name="plain", artifact_filetype="parquet")
    async def plain():  # type: ignore[no-untyped-def]
        yield [{"i": i} for i in range(3)]
        await anyio.sleep(0.4)

    display, screen = _display()
    with observe(display):
        await plain()
    lines = [line for line in re.split(r"[\r\n]", screen.getvalue()) if "plain" in line]
    assert lines and all("%" not in line and "━" not in line for line in lines)
    assert "3 rows · 1 batch · " in lines[-1]
