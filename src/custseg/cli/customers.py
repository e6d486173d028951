"""The commands on a customer table: run, init, demo, assign, export, serve, compare, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ParameterError
from . import (
    AggregateOpt,
    DataArg,
    EncodingOpt,
    JobsOpt,
    OutOpt,
    OverwriteOpt,
    QuietOpt,
    SheetOpt,
    SqlOpt,
    _n_jobs,
    _note,
    _Progress,
    app,
    default_out,
    err_console,
    handle_errors,
    out_console,
    parse_cluster_on,
    parse_k_range,
)


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
    from .. import io
    from ..pipeline import RunOptions
    from ..spec import TRANSFORMS, parse_spec
    from ..workflow import run_file

    if transform is not None and transform not in TRANSFORMS:
        raise ParameterError(f"--transform must be one of {', '.join(TRANSFORMS)}, "
                             f"got {transform!r}")
    compare_list = None
    if compare_algorithms is not None:
        compare_list = [a.strip() for a in compare_algorithms.split(",") if a.strip()]
    reference_model = None
    if reference is not None:
        from ..modelfile import load_model

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
    from ..workflow import write_spec

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
    from ..workflow import run_demo

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
    from ..modelfile import load_model
    from ..scoring import assign_file

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
    from ..scoring import export_segments

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
    from ..api import serve as run_server

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
    from ..workflow import compare_paths

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
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by custseg run.")],
    jobs: JobsOpt = -1,
):
    """Re-render report.html, report.md and figures/ of a run without refitting."""
    from ..report.files import rerender_report

    path = rerender_report(run_dir, n_jobs=_n_jobs(jobs))
    out_console.print(f"report: {path}", markup=False)
