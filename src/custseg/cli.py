"""The ``custseg`` command line: a thin edge over the library.

Each command calls the library and turns a :class:`~custseg.errors.CustsegError`
into its one-line message(s) on stderr and exit code 2, with no traceback.
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
from rich.table import Table

from . import __version__
from .errors import CustsegError, ParameterError

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


def _summary(result, out: Path) -> None:
    est = result.segmenter
    spec = result.spec
    value_cols = spec.numeric(spec.with_role("value"))
    eng_cols = spec.numeric(spec.with_role("engagement"))
    table = Table(title=f"{est.k_} segments", title_justify="left")
    table.add_column("segment", justify="right")
    table.add_column("name")
    table.add_column("customers", justify="right")
    table.add_column("share", justify="right")
    for c in eng_cols + value_cols:
        table.add_column(f"median {c}", justify="right")
    for c in value_cols:
        table.add_column(f"% of {c}", justify="right")
    for p in result.profiles:
        row = [str(p["segment"]), p["name"], f"{p['size']:,}", f"{p['share']:.1%}"]
        row += [f"{p['numeric'][c]['median']:,.1f}" for c in eng_cols + value_cols]
        row += [f"{p['value_share'][c]:.1%}" for c in value_cols]
        table.add_row(*row)
    out_console.print(table)
    out_console.print(f"chosen {est.k_reason_}", markup=False, soft_wrap=True)
    for w in result.manifest["warnings"]:
        out_console.print(f"warning [{w['code']}]: {w['message']}", markup=False, soft_wrap=True)
    table = result.manifest.get("algorithms")
    if table:
        t = Table(title="algorithms compared (same customers and features)", title_justify="left")
        for col in ("algorithm", "k", "silhouette", "Calinski-Harabasz", "Davies-Bouldin",
                    "stability", "smallest segment", "seconds"):
            t.add_column(col, justify="left" if col == "algorithm" else "right")

        def f(v, fmt):
            return "-" if v is None else format(v, fmt)

        for r in table["rows"]:
            t.add_row(r["algorithm"], str(r["k"]), f(r["silhouette"], ".3f"),
                      f(r["calinski_harabasz"], ",.0f"), f(r["davies_bouldin"], ".3f"),
                      f(r["stability"], ".3f"), f(r["smallest_share"], ".1%"),
                      f(r["seconds"], ".1f"))
        out_console.print(t)
    clv = result.manifest.get("clv")
    if clv:
        t = Table(title=f"lifetime value by segment (BG/NBD and Gamma-Gamma, next "
                  f"{clv['horizon_months']:g} months; clv.json)", title_justify="left")
        for col in ("segment", "name", "customers", "mean CLV", "95% CI", "share of value",
                    "mean P(alive)"):
            t.add_column(col, justify="left" if col == "name" else "right")
        for g in clv["segments"]:
            lo, hi = g["mean_clv_ci95"]
            t.add_row(str(g["segment"]), g["name"], f"{g['customers']:,}", f"{g['mean_clv']:,.2f}",
                      f"{lo:,.2f} to {hi:,.2f}",
                      "-" if g["value_share"] is None else f"{g['value_share']:.1%}",
                      f"{g['mean_p_alive']:.1%}")
        out_console.print(t)
    out_console.print(f"results written to {out}", markup=False)
    if (out / "report.html").exists():
        out_console.print(f"report: {out / 'report.html'}", markup=False)


# ------------------------------------------------------------------ commands
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


@app.command()
@handle_errors
def run(
    data: Annotated[str, typer.Argument(
        help="Customer data: CSV, Parquet, Excel, JSON lines, or a DuckDB/SQLite file with "
             "--sql; with --engine spark also a Parquet folder or a URL (hdfs://, s3a://, "
             "file://, ...).")],
    spec: Annotated[Path | None, typer.Option("--spec", help="Data dictionary (TOML); "
                                              "inferred and printed when omitted.")] = None,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    k: Annotated[int | None, typer.Option("--k", help="Force the number of segments.")] = None,
    k_range: Annotated[str | None, typer.Option("--k-range", help="Range of k to consider, "
                                                "e.g. 2-10 (both ends included).")] = None,
    n_init: Annotated[int | None, typer.Option("--n-init", help="k-means initialisations per "
                                               "fit (default 10).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default 0).")] = None,
    transform: Annotated[str | None, typer.Option("--transform", help="log1p policy for "
                                                  "numeric columns: auto, log or none "
                                                  "(default: as the spec says).")] = None,
    cluster_on: Annotated[str | None, typer.Option("--cluster-on", help="'all' or COL,COL: "
                                                   "override the spec's cluster_on.")] = None,
    ward_exact_max: Annotated[int, typer.Option("--ward-exact-max", help="Largest row count "
                                                "for exact Ward; above it, two-stage.")] = 10_000,
    encoding: EncodingOpt = None,
    sql: SqlOpt = None,
    sheet: SheetOpt = None,
    aggregate_only: AggregateOpt = False,
    algorithm: Annotated[str | None, typer.Option("--algorithm", help="kmeans (default), "
                                                  "minibatch-kmeans, ward, gmm or hdbscan.")]
    = None,
    compare_algorithms: Annotated[str | None, typer.Option(
        "--compare-algorithms", help="Also fit these algorithms (comma-separated) and report "
        "them side by side.")] = None,
    reference: Annotated[Path | None, typer.Option("--reference", help="An earlier run: "
                                                   "name and number segments after their "
                                                   "matched predecessors.")] = None,
    fast: Annotated[bool | None, typer.Option(
        "--fast/--exact", help="Force the large-table path (k chosen on a sample, float32 "
        "features, k-means starts on a subsample) or the exact path; by default the fast "
        "path is taken above 20,000 customers.")] = None,
    quiet: QuietOpt = False,
    engine: Annotated[str, typer.Option("--engine", help="Where to compute: local (default) "
                                        "or spark (pip install \"custseg[spark]\").")] = "local",
    master: Annotated[str | None, typer.Option("--master", help="Spark master URL for "
                                               "--engine spark (default local[*]).")] = None,
    jobs: JobsOpt = -1,
    clv: Annotated[bool, typer.Option("--clv/--no-clv", help="On an order log, also predict "
                                      "lifetime value per segment (BG/NBD and Gamma-Gamma; "
                                      "clv.json).")] = True,
):
    """Segment the customers in DATA and write a run directory with its report."""
    from . import io
    from .pipeline import RunOptions
    from .spec import TRANSFORMS, parse_spec
    from .workflow import run_file

    if transform is not None and transform not in TRANSFORMS:
        raise ParameterError(f"--transform must be one of {', '.join(TRANSFORMS)}, "
                             f"got {transform!r}")
    compare_list = None
    if compare_algorithms is not None:
        compare_list = [a.strip() for a in compare_algorithms.split(",") if a.strip()]
    reference_model = None
    if reference is not None:
        from .modelfile import load_model

        reference_model = load_model(reference)
    spec_obj = None if spec is None else parse_spec(io.read_text(spec), source=str(spec))
    options = RunOptions(k=k, k_range=parse_k_range(k_range), n_init=n_init, seed=seed,
                         log_transform=transform or "spec", cluster_on=parse_cluster_on(cluster_on),
                         ward_exact_max=ward_exact_max, aggregate_only=aggregate_only,
                         algorithm=algorithm, fast=fast, reference=reference_model,
                         n_jobs=_n_jobs(jobs))
    with _Progress(quiet) as progress:
        done = run_file(data, out or default_out(), spec=spec_obj, options=options,
                        overwrite=overwrite, encoding=encoding, sql=sql, engine=engine,
                        master=master, compare_algorithms=compare_list, progress=progress,
                        notify=None if quiet else _note, clv=clv, sheet=sheet)
    if not quiet:
        for note in done.notes:
            _note(note)
    _summary(done.result, done.out)


def _note(text: str) -> None:
    err_console.print(text, markup=False)


@app.command()
@handle_errors
def init(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the spec.")] = Path(
        "spec.toml"),
    overwrite: OverwriteOpt = False,
    encoding: EncodingOpt = None,
    sql: SqlOpt = None,
    sheet: SheetOpt = None,
    jobs: JobsOpt = -1,
):
    """Infer a data dictionary (spec.toml) from DATA, with comments, for editing."""
    from .workflow import write_spec

    written = write_spec(data, output, overwrite=overwrite, encoding=encoding, sql=sql,
                         n_jobs=_n_jobs(jobs), sheet=sheet)
    for note in written.notes:
        out_console.print(f"  {note}", markup=False)
    what = "transactions spec" if written.kind == "transactions" else "spec"
    then = "check the columns" if written.kind == "transactions" else "edit it"
    out_console.print(f"{what} written to {output}; {then}, then: custseg run {data} --spec "
                      f"{output}", markup=False)


@app.command()
@handle_errors
def demo(
    rows: Annotated[int, typer.Option("--rows", help="Customers to generate.")] = 3834,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data and the run.")] = 0,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    aggregate_only: AggregateOpt = False,
    transactions: Annotated[bool, typer.Option("--transactions", help="Generate a synthetic "
                                               "order log instead and go from it to RFM "
                                               "segments and clusters (--rows = customers).")]
    = False,
    campaign: Annotated[bool, typer.Option("--campaign", help="Give the customers a text "
                                           "customer_id and also draw a synthetic campaign "
                                           "with a lift planted in one segment, analysed into "
                                           "campaign/ inside the output.")] = False,
    quiet: QuietOpt = False,
    jobs: JobsOpt = -1,
    clv: Annotated[bool, typer.Option("--clv/--no-clv", help="With --transactions, also "
                                      "predict lifetime value per segment.")] = True,
):
    """Generate SYNTHETIC 365-style customer data (or an order log) and segment it end to end."""
    from .workflow import run_demo

    with _Progress(quiet) as progress:
        done = run_demo(out or default_out("demo-"), rows=rows, seed=seed,
                        transactions=transactions, aggregate_only=aggregate_only,
                        overwrite=overwrite, n_jobs=_n_jobs(jobs), progress=progress, clv=clv,
                        campaign=campaign)
    for note in done.notes:
        out_console.print(note, markup=False)
    _summary(done.result, done.out)


@app.command()
@handle_errors
def assign(
    model: Annotated[Path, typer.Argument(help="model.json, or a run directory holding one.")],
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the "
                                         "assignments (.csv or .parquet).")],
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Rows read at a time "
                                            "(bounds memory).")] = 500_000,
    overwrite: OverwriteOpt = False,
    encoding: EncodingOpt = None,
    sql: SqlOpt = None,
    quiet: QuietOpt = False,
    jobs: JobsOpt = -1,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Observation date the model's "
                                              "date columns count days to, YYYY-MM-DD (default: "
                                              "the newest date in DATA).")] = None,
):
    """Assign new customers in DATA to the segments of a fitted MODEL."""
    from .modelfile import load_model
    from .scoring import assign_file

    m = load_model(model)
    summary = assign_file(m, data, output, chunksize=chunk_size, overwrite=overwrite,
                          encoding=encoding, sql=sql, n_jobs=_n_jobs(jobs), as_of=as_of)
    if not quiet:
        for w in summary["warnings"]:
            err_console.print(f"warning [{w['code']}]: {w['message']}", markup=False,
                              soft_wrap=True)
    table = Table(title=f"{summary['rows']:,} customers assigned", title_justify="left")
    table.add_column("segment", justify="right")
    table.add_column("name")
    table.add_column("customers", justify="right")
    for s in summary["segments"]:
        table.add_row(str(s["segment"]), s["name"], f"{s['count']:,}")
    out_console.print(table)
    out_console.print(f"unfamiliar customers (far from every segment or with unseen "
                      f"categories): {summary['unfamiliar']:,}", markup=False)
    if summary["left_out"]:
        out_console.print(f"left out by a missing-value policy: {summary['left_out']:,}",
                          markup=False)
    out_console.print(f"assignments written to {output}", markup=False)


@app.command()
@handle_errors
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by custseg run.")],
    segment: Annotated[list[str], typer.Option("--segment", help="Segment name or id "
                                               "(repeatable), or 'all'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Audience file to write "
                                         "(.csv or .parquet).")],
    overwrite: OverwriteOpt = False,
    data: Annotated[Path | None, typer.Option("--data", help="The customer file, to join "
                                              "--columns from by id.")] = None,
    columns: Annotated[str | None, typer.Option("--columns", help="Columns of --data to add, "
                                                "comma-separated (all: every column but "
                                                "personal data, added only when named).")] = None,
):
    """Export the customers of chosen segments for a CRM or ad-platform upload."""
    from .scoring import export_segments

    summary = export_segments(run_dir, segment, output, overwrite=overwrite, data=data,
                              columns=None if columns is None else
                              [c.strip() for c in columns.split(",") if c.strip()])
    for w in summary["warnings"]:
        err_console.print(f"warning [{w['code']}]: {w['message']}", markup=False)
    names = ", ".join(f"{s['segment']} ({s['name']})" for s in summary["segments"])
    out_console.print(f"{summary['rows']:,} customers of segment(s) {names} written to {output}",
                      markup=False)


@app.command()
@handle_errors
def serve(
    model: Annotated[Path, typer.Argument(help="model.json, or a run directory holding one.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
):
    """Serve a fitted MODEL over HTTP: POST /v1/assign, GET /v1/segments, POST /v1/clv, GET /healthz.

    Set CUSTSEG_API_TOKEN to require a bearer token. Needs the api extra:
    pip install "custseg[api]".
    """
    from .api import serve as run_server

    run_server(model, host=host, port=port)


@app.command()
@handle_errors
def compare(
    old: Annotated[Path, typer.Argument(help="The earlier run directory (or its model.json).")],
    new: Annotated[Path, typer.Argument(help="The newer run directory, or a data file to "
                                        "score with OLD's model.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for compare.json, "
                                             "compare.md and compare.html.")] = None,
    overwrite: OverwriteOpt = False,
    encoding: EncodingOpt = None,
):
    """Compare two runs (or a model and new data): matches, migration, drift, retrain advice."""
    from .workflow import compare_paths

    # written first: a failed write prints nothing but the error
    result = compare_paths(old, new, out, overwrite=overwrite, encoding=encoding)
    rec = result["recommendation"]
    out_console.print(f"recommendation: {rec['action']}", markup=False)
    for r in rec["reasons"]:
        out_console.print(f"  - {r}", markup=False)
    table = Table(title="segments", title_justify="left")
    for c in ("old", "name", "new", "old share", "new share", "change"):
        table.add_column(c, justify="left" if c == "name" else "right")
    for s in result["size_shifts"]:
        table.add_row(str(s["old"]), s["name"], "vanished" if s["new"] is None else str(s["new"]),
                      f"{s['old_share']:.1%}",
                      "" if s["new_share"] is None else f"{s['new_share']:.1%}",
                      "" if s["change"] is None else f"{s['change']:+.1%}")
    out_console.print(table)
    if result.get("migration"):
        out_console.print(f"{result['migration']['moved_share']:.1%} of "
                          f"{result['migration']['customers_in_both']:,} customers in both runs "
                          "changed segment", markup=False)
    for name, d in result["drift"].items():
        ks = "" if d.get("ks") is None else f", KS {d['ks']:.3f}"
        out_console.print(f"drift {name}: PSI {d['psi']:.3f}{ks} ({d['verdict']})", markup=False)
    if out is not None:
        out_console.print(f"comparison written to {out}", markup=False)


@app.command()
@handle_errors
def rfm(
    transactions: Annotated[Path, typer.Argument(help="An order log: one row per purchase.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Customer table to write "
                                         "(.parquet or .csv).")],
    spec: Annotated[Path | None, typer.Option("--spec", help="A kind = \"transactions\" "
                                              "spec naming the columns.")] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id column.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Purchase date column.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Amount column (negative = "
                                               "return).")] = None,
    quantity: Annotated[str | None, typer.Option("--quantity", help="Quantity column.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="Order id column.")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="Currency column.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Observation end, YYYY-MM-DD "
                                              "(default: the last transaction's date).")] = None,
    returns: Annotated[str | None, typer.Option("--returns", help="Negative amounts: net, "
                                                "drop or error (default net).")] = None,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates", help="Drop rows that "
                                                  "repeat an earlier row exactly.")] = False,
    convention: Annotated[str, typer.Option("--convention", help="default, or lifetimes for "
                                            "lifetimes' summary_data_from_transaction_data "
                                            "columns.")] = "default",
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
):
    """Turn an order log into one row per customer: recency, frequency, monetary value, RFM."""
    from . import io
    from .spec import parse_spec
    from .workflow import rfm_file

    table, warnings, as_of_used = rfm_file(
        transactions, output, spec=None if spec is None else parse_spec(io.read_text(spec),
                                                                         source=str(spec)),
        columns={"customer": customer, "date": date, "amount": amount, "quantity": quantity,
                 "order": order, "currency": currency},
        as_of=as_of, returns=returns, drop_duplicates=drop_duplicates, convention=convention,
        overwrite=overwrite)
    if not quiet:
        for w in warnings:
            err_console.print(f"warning [{w.code}]: {w.message}", markup=False)
    out_console.print(f"{len(table):,} customers (observation end {as_of_used}, {convention} "
                      f"convention) written to {output}", markup=False)
    if convention == "default":
        counts = table["rfm_segment"].value_counts()
        for name, n in counts.items():
            out_console.print(f"  {name}: {n:,} ({n / len(table):.1%})", markup=False)


@app.command()
@handle_errors
def clv(
    transactions: Annotated[Path, typer.Argument(help="An order log: one row per purchase.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder to write clv.json, "
                                             "customers.parquet/csv and report.html (default: "
                                             "runs/clv-<UTC timestamp>).")] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="A kind = \"transactions\" "
                                              "spec naming the columns.")] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id column.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Purchase date column.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Amount column (negative = "
                                               "return).")] = None,
    model: Annotated[str, typer.Option("--model", help="Purchase model: bgnbd (default), mbgnbd "
                                       "or paretonbd; or a clv.json (or the folder holding one) "
                                       "to score the log with without refitting.")] = "bgnbd",
    unit: Annotated[str, typer.Option("--unit", help="Time unit of the model: day (default) or "
                                      "week (days / 7).")] = "day",
    calibration_end: Annotated[str | None, typer.Option(
        "--calibration-end", help="Fit on purchases up to this date (YYYY-MM-DD) and check the "
        "predictions against the purchases after it.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Observation end, YYYY-MM-DD "
                                              "(default: the last transaction's date).")] = None,
    horizon_months: Annotated[float, typer.Option("--horizon-months", help="Months of future "
                                                  "purchases and value to predict.")] = 12.0,
    discount_rate: Annotated[float, typer.Option("--discount-rate", help="Monthly discount rate "
                                                 "of future value.")] = 0.01,
    penalizer: Annotated[float, typer.Option("--penalizer", help="L2 penalty on the parameters "
                                             "(0: plain maximum likelihood).")] = 0.0,
    segments: Annotated[Path | None, typer.Option("--segments", help="A run directory of custseg "
                                                  "run: figures per segment.")] = None,
    returns: Annotated[str | None, typer.Option("--returns", help="Negative amounts: net, "
                                                "drop or error (default net).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap intervals.")] = 0,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
):
    """Predict what customers will be worth: BG/NBD (or MBG/NBD, Pareto/NBD) and Gamma-Gamma."""
    from . import io
    from .clv.flow import clv_file
    from .spec import parse_spec

    model_file = None
    if model.endswith(".json") or Path(model).is_dir():
        model_file, model = Path(model), "bgnbd"
    done = clv_file(
        transactions, out or default_out("clv-"),
        spec=None if spec is None else parse_spec(io.read_text(spec), source=str(spec)),
        columns={"customer": customer, "date": date, "amount": amount}, as_of=as_of,
        calibration_end=calibration_end, returns=returns, model=model, unit=unit,
        horizon_months=horizon_months, discount_rate=discount_rate, penalizer=penalizer,
        segments=segments, model_file=model_file, seed=seed, overwrite=overwrite)
    s = done.summary
    if not quiet:
        for w in s["warnings"]:
            err_console.print(f"warning [{w['code']}]: {w['message']}", markup=False, soft_wrap=True)
    _clv_summary(s)
    out_console.print(f"results written to {done.out}", markup=False)
    out_console.print(f"report: {done.out / 'report.html'}", markup=False)


def _clv_summary(s: dict) -> None:
    how = "fitted" if s["fitted_here"] else "loaded"
    out_console.print(f"{s['model_title']} and Gamma-Gamma ({how}, unit {s['unit']}) on "
                      f"{s['n_customers']:,} customers, observation end {s['as_of']}", markup=False)
    table = Table(title="parameters", title_justify="left")
    for c in ("model", "parameter", "estimate", "standard error"):
        table.add_column(c, justify="left" if c in ("model", "parameter") else "right")
    for title, params, se in ((s["model_title"], s["params"], s["params_se"] or {}),
                              ("Gamma-Gamma", s["spend_params"], s["spend_params_se"] or {})):
        for name, v in params.items():
            e = se.get(name)
            table.add_row(title, name, f"{v:,.4f}", "-" if e is None else f"{e:,.4f}")
    out_console.print(table)
    h = s["holdout"]
    if h:
        out_console.print(f"holdout check ({h['duration']:,.1f} {s['unit']}s after "
                          f"{s['calibration_end']}, {h['customers']:,} customers): predicted "
                          f"{h['predicted_purchases']:,.0f} repeat purchases, actual "
                          f"{h['actual_purchases']:,.0f}; mean absolute error per customer "
                          f"{h['mae']:.3f} (naive forecast x / T: {h['naive_mae']:.3f})", markup=False)
    t = s["totals"]
    out_console.print(f"next {s['horizon_months']:g} months: {t['expected_purchases']:,.0f} "
                      f"expected repeat purchases, predicted value {t['clv']:,.0f}"
                      + ("" if t["top10_value_share"] is None else
                         f" ({t['top10_value_share']:.0%} of it in the top 10% of customers)"),
                      markup=False)
    for g in s.get("segments") or []:
        out_console.print(f"  segment {g['segment']} ({g['name']}): {g['customers']:,} customers, "
                          f"mean CLV {g['clv']['mean']:,.2f}, share of value "
                          f"{g['value_share']:.1%}" if g["value_share"] is not None else "",
                          markup=False)


@app.command()
@handle_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by custseg run.")],
    jobs: JobsOpt = -1,
):
    """Re-render report.html, report.md and figures/ of a run without refitting."""
    from .report.files import rerender_report

    path = rerender_report(run_dir, n_jobs=_n_jobs(jobs))
    out_console.print(f"report: {path}", markup=False)


@app.command()
@handle_errors
def campaign(
    results: Annotated[Path, typer.Argument(help="Campaign results: one row per customer with "
                                            "id, arm, a 0/1 outcome and optionally revenue.")],
    run_dir: Annotated[Path, typer.Option("--run", help="The run directory whose segments "
                                          "the customers belong to.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for campaign.json, "
                                      "campaign.csv and report.html.")],
    id: Annotated[str | None, typer.Option("--id", help="Customer id column (default: "
                                           "guessed).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Arm column (default: "
                                              "guessed).")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="0/1 outcome column "
                                                "(default: guessed).")] = None,
    revenue: Annotated[str | None, typer.Option("--revenue", help="Revenue column (default: "
                                                "guessed, or none).")] = None,
    treatment: Annotated[str | None, typer.Option("--treatment", help="Treatment arm name "
                                                  "(default: every arm but the control).")]
    = None,
    control: Annotated[str | None, typer.Option("--control", help="Control arm name "
                                                "(default: guessed).")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Planned split, treatment "
                                              "first, e.g. 50/50 (default: equal).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    overwrite: OverwriteOpt = False,
    encoding: EncodingOpt = None,
    quiet: QuietOpt = False,
):
    """Read campaign or A/B test results by segment: lifts, intervals, corrected p-values."""
    from .campaign import analyze_campaign

    s = analyze_campaign(results, run_dir, out, overwrite=overwrite, encoding=encoding, id=id,
                         group=group, outcome=outcome, revenue=revenue, treatment=treatment,
                         control=control, split=split, seed=seed)
    if not quiet:
        for w in s["warnings"]:
            err_console.print(f"warning [{w['code']}]: {w['message']}", markup=False,
                              soft_wrap=True)
    srm = s["srm"]
    out_console.print(("SPLIT FAILED: " if srm["mismatch"] else "split as planned: ")
                      + ", ".join(f"{a} {n:,}" for a, n in srm["n"].items())
                      + f" (p = {srm['p_value']:.3g})", markup=False)
    out_console.print(s["overall"]["sentence"], markup=False, soft_wrap=True)
    for seg in s["segments"]:
        for comp in seg.get("comparisons") or [seg]:
            out_console.print(f"  {seg['segment']}. {comp['sentence']}", markup=False,
                              soft_wrap=True)
    out_console.print(f"results written to {out}; report: {out / 'report.html'}", markup=False)


@app.command("campaign-plan")
@handle_errors
def campaign_plan(
    run_dir: Annotated[Path, typer.Option("--run", help="The run directory to plan for.")],
    baseline: Annotated[float, typer.Option("--baseline", help="Expected conversion rate of "
                                            "the control, e.g. 0.05.")],
    mde: Annotated[float, typer.Option("--mde", help="Smallest lift worth detecting, in "
                                       "absolute terms, e.g. 0.01 (one point).")],
    power: Annotated[float, typer.Option("--power", help="Power.")] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Two-sided level.")] = 0.05,
    split: Annotated[str | None, typer.Option("--split", help="Planned split, treatment "
                                              "first, e.g. 50/50.")] = None,
):
    """Customers needed per arm, overall and per segment, and which segments are too small."""
    from .campaign import plan_from_run

    plan = plan_from_run(run_dir, baseline=baseline, mde=mde, power=power, alpha=alpha,
                         split=split)
    o = plan["overall"]
    out_console.print(f"whole campaign: {o['treatment']:,} treatment + {o['control']:,} control "
                      f"= {o['total']:,} customers to detect {baseline:.2%} -> "
                      f"{baseline + mde:.2%} ({power:.0%} power, {alpha:g} level)", markup=False)
    table = Table(title=f"each segment on its own (level {plan['alpha_per_segment']:.3g}: "
                  "Holm across segments)", title_justify="left")
    for col in ("segment", "name", "customers", "needed per arm (T / C)", "testable",
                "could detect"):
        table.add_column(col, justify="left" if col in ("name", "testable") else "right")
    for r in plan["segments"]:
        lift = r["detectable_lift"]
        table.add_row(str(r["segment"]), r["segment_name"], f"{r['size']:,}",
                      f"{r['needed']['treatment']:,} / {r['needed']['control']:,}",
                      "too small" if r["too_small"] else "yes",
                      "-" if lift is None else f"{lift * 100:.1f} points")
    out_console.print(table)


def main() -> None:
    """Run the ``custseg`` command line (see :mod:`custseg._entry` for the console script)."""
    app(prog_name="custseg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
