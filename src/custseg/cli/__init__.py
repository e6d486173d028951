"""The ``custseg`` command line: a thin edge over the library.

Each command calls the library and turns a :class:`~custseg.errors.CustsegError`
into its one-line message(s) on stderr and exit code 2, with no traceback. This module
holds the application, the error handling and the options the commands share; the
commands are in :mod:`~custseg.cli.customers` (a customer table: run, init, demo,
assign, export, serve, compare, report), :mod:`~custseg.cli.orders` (an order log:
rfm, clv) and :mod:`~custseg.cli.campaigns` (campaign, campaign-plan).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..errors import CustsegError, ParameterError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="custseg: customer segmentation for marketing. From a customer table to named, "
    "explained segments.",
)
out_console = Console(highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(lines: list[str], code: int = 2) -> None:
    for line in lines:
        err_console.print(f"error: {line}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


#: set by the console entry point (custseg._entry): once a command has ended, a Ctrl+C
#: has nothing left to stop and is ignored, instead of interrupting the shutdown with a
#: traceback. Never set in-process (tests, notebooks), where the handler is the caller's.
QUIET_SHUTDOWN = False


def handle_errors(fn):
    """Translate custseg errors (exit 2) and interrupts (exit 130) for a command."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return _command(fn, *args, **kwargs)
        finally:
            if QUIET_SHUTDOWN:
                import signal

                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return wrapper


def _command(fn, *args, **kwargs):
    """Run a command, its errors as one line (exit 2) and interrupts as exit 130."""
    try:
        return fn(*args, **kwargs)
    except CustsegError as exc:
        _fail(exc.lines)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing was written", markup=False)
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: say so in one line, traceback on request
        if os.environ.get("CUSTSEG_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]  # (Java errors run on)
        _fail([f"internal error ({type(exc).__name__}: {first}); this is a bug in custseg, "
               "please report it (set CUSTSEG_DEBUG=1 for the traceback)"], code=1)


def _version(value: bool):
    if value:
        out_console.print(f"custseg {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """custseg: customer segmentation for marketing."""


# ------------------------------------------------------------------ helpers
def parse_k_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.replace(":", "-").split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (int(text), int(text))
    except ValueError:
        raise ParameterError(f"--k-range must look like 2-10, got {text!r}") from None
    if not 2 <= lo <= hi:
        raise ParameterError(f"--k-range must satisfy 2 <= low <= high, got {text!r}",
                             fix="e.g. --k-range 2-10")
    return lo, hi


def parse_cluster_on(text: str | None):
    if text is None:
        return None
    if text.strip() == "all":
        return "all"
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise ParameterError("--cluster-on needs 'all' or a comma-separated list of columns")
    return cols


def default_out(prefix: str = "") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / f"{prefix}{stamp}"


class _Progress:
    """Shows the current stage on stderr (a spinner on a terminal)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.status = None
        self.started = time.perf_counter()

    def __enter__(self):
        if not self.quiet and err_console.is_terminal:
            self.status = err_console.status("starting")
            self.status.__enter__()
        return self

    def __call__(self, stage: str, detail: str = "") -> None:
        if self.quiet:
            return
        text = f"{stage}: {detail}" if detail else stage
        if self.status is not None:
            self.status.update(text)
        elif not detail.startswith("k = "):
            err_console.print(f"[{time.perf_counter() - self.started:6.1f}s] {text}", markup=False)

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False


DataArg = Annotated[Path, typer.Argument(help="Customer data: CSV, Parquet, Excel, JSON lines, "
                                              "or a DuckDB/SQLite file with --sql.")]
EncodingOpt = Annotated[str | None, typer.Option("--encoding", help="Force the text encoding "
                                                 "(default: detected).")]
SqlOpt = Annotated[str | None, typer.Option("--sql", help="SELECT query to run against a DuckDB "
                                            "or SQLite file.")]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help="Excel: the sheet name or number "
                                              "from 0 (default: the first holding a table).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory to write "
                                             "(default: runs/<UTC timestamp>).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output "
                                            "(only once the new one is complete).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")]
AggregateOpt = Annotated[bool, typer.Option("--aggregate-only", help="Leave every "
                                            "customer-level value out of the report.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Jobs to run at once: 1 runs "
                                      "everything in one process and thread; -1 (default) "
                                      "uses every CPU. Results are the same either way.")]


def _n_jobs(jobs: int) -> int:
    if jobs == 0:
        raise ParameterError("--jobs must be a positive number of jobs, or -1 for every CPU, "
                             "got 0", fix="e.g. --jobs 1 or --jobs -1")
    return jobs


def _note(text: str) -> None:
    err_console.print(text, markup=False)


# the commands register themselves on ``app`` (imported last: they import the names above)
from . import customers, orders, campaigns  # noqa: E402, F401, I001  (their order: --help's)


def main() -> None:
    """Run the ``custseg`` command line (see :mod:`custseg._entry` for the console script)."""
    app(prog_name="custseg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
