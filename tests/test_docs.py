"""The docs site: every example on it runs, its shown output is checked, and the site builds strictly.

How a page's examples are run (one test per page, in page order, sharing one namespace and one
event loop, as a reader pasting them into ``python -m asyncio`` would):

- a ``python`` block runs (top-level ``await`` allowed); when the next block is titled
  ``Output``, what the block printed must match it;
- a ``python`` block titled ``something.py`` is written to that file in the working folder
  (a module the page's commands and later blocks import), not run;
- a ``console`` block is a terminal session: each ``$ madstream ...`` line runs the command
  line in this process and what it printed (stdout and stderr, in order) must match the lines
  below it, up to the next ``$``;
- ``bash`` and ``text`` blocks are settings and listings to read, not run;
- ``<!-- docs-test: skip REASON -->`` right before a block leaves that one block unrun (it needs
  what a test cannot have, e.g. a Dask cluster of worker processes);
- ``<!-- docs-test: storage=sftp -->`` / ``storage=s3`` anywhere in a page runs the whole page on
  a real SFTP / S3 server on loopback, configured through ``FILESYSTEM_URL`` and
  ``FILESYSTEM_STORAGE_OPTIONS`` as the page tells a reader to; ``prefect`` runs it against a
  local Prefect server.

Shown output is compared line by line with runs of spaces collapsed (table columns widen with
their values); timestamps, durations, rates and run ids match any value of their kind, and
``...`` matches anything, as in doctest.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import inspect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)(?P<attrs>.*)$")
_TITLE = re.compile(r'title="([^"]*)"')
_MARK = re.compile(r"<!--\s*docs-test:\s*(?P<what>.*?)\s*-->")
_VOLATILE = [  # what differs from run to run, and what it may be shown as
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?"), "<timestamp>"),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<duration>"),
    (re.compile(r"[\d,]+ rows/s"), "<rate>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{16}\b"), "<run id>"),
]


@dataclass
class Block:
    lang: str
    title: str
    code: str
    line: int
    mark: str  # the docs-test comment right before the block, if any


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    found: list[Block] = []
    lines = text.splitlines()
    i, mark = 0, ""
    while i < len(lines):
        line = lines[i]
        opened = _FENCE.match(line)
        if not opened:
            seen = _MARK.search(line)
            if seen:
                mark = seen["what"]
            elif line.strip():
                mark = ""
            i += 1
            continue
        indent, fence = opened["indent"], opened["fence"]
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][len(indent):])
            i += 1
        title = _TITLE.search(opened["attrs"])
        found.append(Block(opened["lang"], title[1] if title else "", "\n".join(body) + "\n", i - len(body), mark))
        mark = ""
        i += 1
    return found


def _normalized(text: str) -> str:
    lines = []
    for line in text.strip("\n").splitlines():
        for pattern, token in _VOLATILE:
            line = pattern.sub(token, line)
        lines.append(" ".join(line.split()))
    return "\n".join(lines) + "\n"


def assert_shown(got: str, shown: str, where: str) -> None:
    checker = doctest.OutputChecker()
    want, have = _normalized(shown), _normalized(got)
    if not checker.check_output(want, have, doctest.ELLIPSIS):
        pytest.fail(f"{where}: the output differs from what the page shows\n--- shown\n{shown}--- printed\n{got}")


def run_python(code: str, namespace: dict[str, Any], runner: asyncio.Runner, filename: str) -> str:
    """Run one block (top-level ``await`` allowed) and return what it printed."""
    compiled = compile(code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if compiled.co_flags & inspect.CO_COROUTINE:
            runner.run(eval(compiled, namespace))
        else:
            exec(compiled, namespace)
    return out.getvalue()


def run_console(session: str, where: str) -> None:
    """Run each ``$ madstream ...`` line of a terminal session in this process; check what it printed."""
    from madstream.cli import main

    steps: list[tuple[str, list[str]]] = []
    for line in session.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{where}: a console block starts with `$ command`"
            steps[-1][1].append(line)
    for command, shown in steps:
        argv = shlex.split(command)
        assert argv[0] == "madstream", f"{where}: only madstream commands run in the docs, not `{command}`"
        raw = io.BytesIO()
        both = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # the CLI writes bytes to .buffer too
        with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
            try:
                main(argv[1:])
            except SystemExit:  # --help, --version and usage errors exit through argparse
                pass
        assert_shown(raw.getvalue().decode(), "\n".join(shown) + "\n", f"{where} `{command}`")


# -- storage servers for the SFTP and S3 guides --------------------------------------------------

@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Started only when a page asks for one (each well under a second)."""
    started: dict[str, Any] = {}

    def start(kind: str) -> Any:
        if kind not in started:
            sys.path.insert(0, str(Path(__file__).parent))
            from storage.servers import S3Server, SFTPServer

            if kind == "sftp":
                server: Any = SFTPServer(tmp_path_factory.mktemp("docs-sftp"))
                server.start()
            else:
                server = S3Server()
                server.make_bucket("docs")
            started[kind] = server
        return started[kind]

    yield {"start": start}
    for server in started.values():
        server.close()


def configure_storage(kind: str, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    server = servers["start"](kind)
    folder = uuid.uuid4().hex[:10]
    if kind == "sftp":
        (server.root / folder).mkdir()
        url, options = server.url(folder), server.options()
    else:
        url, options = f"s3://docs/{folder}", server.options()
    monkeypatch.setenv("FILESYSTEM_URL", url)
    monkeypatch.setenv("FILESYSTEM_STORAGE_OPTIONS", json.dumps(options))


# -- the tests -----------------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", PAGES)
def test_every_example_runs_and_prints_what_the_page_shows(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    text = (DOCS / page).read_text()
    marks = {m["what"] for m in _MARK.finditer(text)}
    for kind in ("sftp", "s3"):
        if f"storage={kind}" in marks:
            configure_storage(kind, request.getfixturevalue("servers"), monkeypatch)
    if "prefect" in marks:
        request.getfixturevalue("prefect_api")
    monkeypatch.setenv("MADSTREAM_PROGRESS", "0")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    before = set(sys.modules)

    found = blocks(text)
    namespace: dict[str, Any] = {"__name__": "docs_" + re.sub(r"\W", "_", page.removesuffix(".md"))}
    try:
        with asyncio.Runner() as runner:
            for index, block in enumerate(found):
                where = f"docs/{page}:{block.line}"
                if block.mark.startswith("skip"):
                    assert block.mark.removeprefix("skip").strip(), f"{where}: say why the block is skipped"
                    continue
                if block.lang == "python" and block.title.endswith(".py"):
                    (work / block.title).write_text(block.code)
                elif block.lang == "python":
                    printed = run_python(block.code, namespace, runner, where)
                    following = found[index + 1] if index + 1 < len(found) else None
                    if following is not None and following.title == "Output":
                        assert_shown(printed, following.code, where)
                    else:
                        assert printed == "", f"{where}: the block prints; show it in an `Output` block after it"
                elif block.lang == "console":
                    run_console(block.code, where)
    finally:
        for name in set(sys.modules) - before:  # the page's own modules (pipelines.py, ...)
            module = sys.modules[name]
            if str(getattr(module, "__file__", "") or "").startswith(str(work)):
                del sys.modules[name]


def test_the_examples_are_found() -> None:
    """The runner above reads the fences the pages really use (a change of style cannot silently skip them)."""
    found = {page: blocks((DOCS / page).read_text()) for page in PAGES}
    run = [b for page in found.values() for b in page if b.lang in ("python", "console") and not b.mark.startswith("skip")]
    shown = [b for page in found.values() for b in page if b.title == "Output"]
    assert len(run) >= 20 and len(shown) >= 10
    assert any(b.lang == "console" for b in run)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """A broken link, anchor or API reference, or a page missing from the nav, fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, check=False, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    for command in ("materialize", "query", "runs", "ls", "vacuum", "verify"):
        assert f"madstream {command}" in cli
    # generated from the parser at build time: an option's help text appears as the code has it
    assert "fail instead of running an asset that has no committed result" in cli
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert 'id="madstream.DataAsset.query"' in api and 'id="madstream.prefect.materialize"' in api
