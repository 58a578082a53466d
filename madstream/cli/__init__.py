"""``madstream``: materialize, query and inspect assets from a terminal.

    madstream materialize pipelines.sales:orders --arg day=2026-01-31 [--prefect]
    madstream query pipelines.sales:orders "SELECT city, sum(amount) GROUP BY city" --format csv
    madstream runs [pipelines.sales:orders] [--format json]
    madstream ls [--format csv]
    madstream show pipelines.sales:orders --arg day=2026-01-31 [--format json]
    madstream vacuum pipelines.sales:orders --arg day=2026-01-31
    madstream verify pipelines.sales:orders --arg day=2026-01-31

Errors print one line (what went wrong, to which asset, what to do) and exit 1 (2 for a usage
mistake, as argparse does); ``--debug`` adds the traceback, before or after the command. A
closed pipe (``| head``) ends quietly. Storage comes from ``FILESYSTEM_URL`` as for the library,
or from ``--storage URL`` (its options still from ``FILESYSTEM_STORAGE_OPTIONS``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..api.config import _absolute, storage_config
from ..api.storage import Storage
from ..base.errors import MadstreamError
from ..run.observe import show_progress
from .commands import cmd_materialize, cmd_query, cmd_vacuum, cmd_verify
from .listing import cmd_ls, cmd_runs
from .output import FORMATS, LIST_FORMATS, TABLE_ROWS
from .show import cmd_show
from .target import CliError

__all__ = ["main"]


def _common() -> argparse.ArgumentParser:
    """The flags taken before or after the command. A fresh parser each time: argparse shares a
    parent's actions, and a default set on one would override the flag given on the other."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument(
        "--no-progress", action="store_true", default=argparse.SUPPRESS,
        help="never draw the progress display (same as MADSTREAM_PROGRESS=0)",
    )
    common.add_argument(
        "--storage", metavar="URL", default=argparse.SUPPRESS,
        help="the storage to use (default: FILESYSTEM_URL); its options still come from FILESYSTEM_STORAGE_OPTIONS",
    )
    return common


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    common = _common
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "--arg", action="append", metavar="KEY=VALUE",
        help="an argument of the extract function (converted to its annotated type); repeatable",
    )

    parser = argparse.ArgumentParser(
        prog="madstream", parents=[common()], description="Materialize, query and inspect madstream assets.",
    )
    parser.add_argument("--version", action="version", version=f"madstream {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("materialize", parents=[common(), target], help="run an asset and print a summary")
    run.add_argument("asset", help="module:asset or path/file.py:asset")
    run.add_argument("--prefect", action="store_true", help="run it as a Prefect flow (one task run)")
    run.add_argument("--retries", type=int, default=None, help="retries of transient storage errors (--prefect; default 2)")
    run.set_defaults(handler=cmd_materialize)

    query = commands.add_parser(
        "query", parents=[common(), target], help="query the latest materialization (runs it only if it never ran)",
    )
    query.add_argument("asset", help="module:asset or path/file.py:asset")
    query.add_argument("sql", help="appended to FROM <result>, e.g. \"SELECT count(*)\" or \"LIMIT 5\"")
    query.add_argument(
        "--format", choices=FORMATS, default=None,
        help="output format (default: from the --output file's extension, else table)",
    )
    query.add_argument("--output", metavar="FILE", help="write to this local file instead of stdout")
    query.add_argument(
        "--no-run", action="store_true", help="fail instead of running an asset that has no committed result",
    )
    query.add_argument(
        "--limit", type=_positive, default=TABLE_ROWS, metavar="N",
        help=f"rows a table on stdout shows (default {TABLE_ROWS}; the rest are counted; files and csv/json get all)",
    )
    query.set_defaults(handler=cmd_query)

    runs = commands.add_parser("runs", parents=[common(), target], help="the run history, newest first")
    runs.add_argument("asset", nargs="?", help="only this asset (and configuration, with --arg)")
    runs.add_argument("--limit", type=_positive, default=20, help="at most this many runs (default 20)")
    runs.add_argument("--format", choices=LIST_FORMATS, default="table", help="table (default), json (lines) or csv")
    runs.set_defaults(handler=cmd_runs)

    ls = commands.add_parser("ls", parents=[common()], help="asset configurations under the storage")
    ls.add_argument("--format", choices=LIST_FORMATS, default="table", help="table (default), json (lines) or csv")
    ls.set_defaults(handler=cmd_ls)

    show = commands.add_parser(
        "show", parents=[common(), target],
        help="one screen about a dataset: configuration, files, schema, versions, runs and charts",
    )
    show.add_argument("asset", help="module:asset or path/file.py:asset")
    show.add_argument("--runs", type=_positive, default=10, metavar="N", help="show the last N runs (default 10)")
    show.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    show.set_defaults(handler=cmd_show)

    vacuum = commands.add_parser(
        "vacuum", parents=[common(), target], help="remove versions past retention and what killed runs left",
    )
    vacuum.add_argument("asset", help="module:asset or path/file.py:asset")
    vacuum.set_defaults(handler=cmd_vacuum)

    verify = commands.add_parser(
        "verify", parents=[common(), target], help="read every file of every version and check its checksum",
    )
    verify.add_argument("asset", help="module:asset or path/file.py:asset")
    verify.set_defaults(handler=cmd_verify)
    return parser


def _storage(url: str) -> Storage:
    """The ``--storage`` URL as the current storage, with the environment's storage options."""
    if not url.strip():
        raise CliError("--storage is empty — give a URL such as s3://bucket/prefix or a local folder")
    return Storage(_absolute(url), storage_config()[1])


def _one_line(message: str) -> str:
    # DuckDB and others put newlines in messages; an error here is one line.
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    args = _parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        with contextlib.ExitStack() as stack:
            if getattr(args, "no_progress", False):
                stack.enter_context(show_progress(False))
            if getattr(args, "storage", None):
                stack.enter_context(_storage(args.storage).active())
            return int(args.handler(args))
    except KeyboardInterrupt:
        print("madstream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): a normal end. Point stdout at nothing so the
        # interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as exc:  # a usage mistake, found after parsing: argparse's code
        if debug:
            traceback.print_exc()
        print(f"madstream: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except MadstreamError as exc:
        if debug:
            traceback.print_exc()
        print(f"madstream: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - anything else still ends as one line
        if debug:
            traceback.print_exc()
        hint = "" if debug else " — rerun with --debug for the traceback"
        print(f"madstream: error: {type(exc).__name__}: {_one_line(str(exc))}{hint}", file=sys.stderr)
        return 1
