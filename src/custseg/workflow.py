"""Whole runs from files to a run directory: what ``custseg run`` and ``custseg demo`` do.

An edge of the library: it reads the input (:mod:`custseg.io`), aggregates an order
log per customer (:mod:`custseg.rfm`), runs the pipeline on an engine
(:mod:`custseg.engines`), optionally compares algorithms, and writes the run
directory with its report (:mod:`custseg.rundir`). The command line only parses
options, calls :func:`run_file` or :func:`run_demo` and prints the result.

With ``options.n_jobs`` of two or more, the input's checksum is computed in a
second thread while the table is read, the statistical questions and the gap
statistic in worker processes beside the clustering, the figures whose data is
known early (the choice of k, the dendrogram) are drawn as soon as it is, and the
rest while the report and the per-customer tables are written. With one job
everything happens in turn in the calling thread.
"""

from __future__ import annotations

import hashlib
import io as _bytes_io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import io
from ._parallel import Later, beside, effective_n_jobs
from .errors import ParameterError
from .pipeline import RunOptions, RunResult
from .spec import Spec

__all__ = ["RunOutput", "run_file", "run_demo", "save_run", "attach_rfm", "attach_clv",
           "transactions_to_customers",
           "write_spec", "compare_paths", "rfm_file", "SpecWritten"]

Notify = Callable[[str], None]
Progress = Callable[[str, str], None]


@dataclass
class RunOutput:
    """A finished run: its result (as data) and where it was written."""

    result: RunResult
    out: Path
    notes: list[str] = field(default_factory=list)


def transactions_to_customers(source: str | Path | pd.DataFrame, spec: Spec
                              ) -> tuple[pd.DataFrame, dict, dict[str, bytes]]:
    """The customer table of an order log, the RFM part of the run, and extra run files.

    Returns the customers (the id and the spec's columns), the part of the manifest
    and analysis the RFM aggregation adds (:func:`attach_rfm`), and
    ``{"customers.parquet": bytes}``: every derived column, for the run directory.
    """
    from .rfm import customer_table

    customers, validation, summary, as_of = customer_table(source, spec)
    keep = [spec.id] + [c for c in spec.used if c in customers.columns]
    buffer = _bytes_io.BytesIO()
    customers.to_parquet(buffer, index=False)
    part = {"as_of": as_of, "summary": summary, "customers": int(len(customers)),
            "warnings": [p.to_dict() for p in validation.warnings]}
    return customers[keep].copy(), part, {"customers.parquet": buffer.getvalue()}


def attach_rfm(result: RunResult, part: dict) -> None:
    """Add the RFM aggregation's summary and warnings to a run's manifest and analysis."""
    result.manifest["rfm"] = {k: part[k] for k in ("as_of", "customers", "summary")}
    result.manifest["warnings"] = list(result.manifest["warnings"]) + [
        {"code": w["code"], "message": w["message"], "rows": w["rows"], "count": w["count"]}
        for w in part["warnings"]]
    if result.analysis is not None:
        result.analysis["rfm"] = {k: part[k] for k in ("as_of", "customers", "summary")}
        result.analysis["warnings"] = list(result.analysis["warnings"]) + [
            {"code": w["code"], "message": w["message"]} for w in part["warnings"]]


def attach_clv(result: RunResult, source: Any, spec: Spec, extra: dict[str, bytes], *,
               seed: int = 0) -> None:
    """Fit lifetime value on a run's order log: ``clv.json`` into ``extra``, the per-segment
    figures into the manifest, the profiles (``profiles.json``) and the analysis (the
    report), the parameters into ``model.json`` (its ``clv`` section). When no model can be fitted
    the run goes on with a warning ``clv-not-fitted``."""
    from .clv import model_section
    from .clv.flow import clv_for_run, run_section
    from .errors import ModelError

    try:
        summary = clv_for_run(source, spec, result.segments, seed=seed)
    except ModelError as exc:
        warning = {"code": "clv-not-fitted", "message": f"no lifetime value: {exc.message}"}
        result.manifest["warnings"] = [*result.manifest["warnings"],
                                       {**warning, "rows": [], "count": 0}]
        if result.analysis is not None:
            result.analysis["warnings"] = [*result.analysis["warnings"], warning]
        return
    extra["clv.json"] = (json.dumps(summary, indent=2) + "\n").encode("utf-8")
    section = run_section(summary)
    model = getattr(result.segmenter, "model_", None)
    if model is not None:  # model.json gains a clv section (format version 2): POST /v1/clv
        model.info["clv"] = model_section(summary)
    result.manifest["clv"] = section
    by_segment = {g["segment"]: {k: v for k, v in g.items() if k not in ("segment", "name")}
                  for g in section["segments"]}
    # profiles.json: each segment's lifetime value beside its profile (new dicts: the
    # analysis's segments keep their own shape)
    result.profiles = [{**p, "clv": by_segment[p["segment"]]} if p["segment"] in by_segment
                       else p for p in result.profiles]
    if result.analysis is not None:
        result.analysis["clv"] = section


def _guess_transactions(df: pd.DataFrame, notify: Notify | None) -> Spec | None:
    """A transactions spec when ``df`` looks like an order log, else None."""
    from .rfm import guess_transaction_columns, transactions_spec_text
    from .spec import parse_spec

    cols = guess_transaction_columns(df)
    if cols is None:
        return None
    if notify is not None:
        roles = ", ".join(f"{r} = {n!r}" for r, n in cols.roles().items())
        notify(f"this looks like an order log ({roles}); deriving RFM features per customer "
               "(pass --spec to set the columns yourself)")
    return parse_spec(transactions_spec_text(cols), source="inferred transactions spec")


class _EarlyFigures:
    """Figures drawn by worker processes as soon as a part of the analysis allows."""

    def __init__(self, n_jobs: int | None) -> None:
        self.n_jobs = n_jobs
        self.started: dict[str, Later] = {}

    def __call__(self, part: dict) -> None:
        from .report.figures import available_figures, start_figures

        names = [n for n in available_figures(part) if n not in self.started]
        if names:
            self.started.update(start_figures(part, names, n_jobs=self.n_jobs))

    def cancel(self) -> None:
        for later in self.started.values():
            later.cancel()


def save_run(result: RunResult, out: str | Path, *, overwrite: bool = False,
             extra_files: dict[str, bytes] | None = None, n_jobs: int | None = None,
             figures: Mapping[str, Later] | None = None) -> Path:
    """Write a run directory with its report (:func:`custseg.rundir.write_run`), atomically.

    The report (``report.html``, ``report.md``, ``figures/``) is rendered from the
    run's analysis, when it has one; ``figures`` are figures already started from
    a part of it (:func:`custseg.report.figures.start_figures`). Engine-specific
    outputs are added (:func:`custseg.engines.finish_run`). With ``n_jobs`` of two
    or more the per-customer tables are written in other threads and the figures
    drawn by worker processes while the report is rendered.
    """
    from .engines import finish_run
    from .report.files import write_report
    from .rundir import write_run

    def report(folder: Path) -> None:
        write_report(result.analysis, folder, n_jobs=n_jobs, figures=figures)

    return write_run(result, out, overwrite=overwrite, extra_files=extra_files,
                     finish=lambda tmp: finish_run(result, tmp), n_jobs=n_jobs,
                     report=report if result.analysis is not None else None)


def _segment_and_write(df: pd.DataFrame | None, spec: Spec | None, options: RunOptions, out: Path,
                       *, overwrite: bool, engine: str, progress: Progress | None,
                       info: dict, source: str | Path | None, master: str | None,
                       encoding: str | None, extra: dict[str, bytes], rfm_part: dict | None,
                       compare: list[str] | None, timings: dict[str, float],
                       clv_source: Any = None) -> RunResult:
    from .engines import run_engine

    parallel = effective_n_jobs(options.n_jobs) > 1
    early = _EarlyFigures(options.n_jobs) if parallel and options.analysis else None
    try:
        result = run_engine(engine, df, spec, options, progress=progress, input_info=info,
                            source=source, master=master, encoding=encoding,
                            on_partial_analysis=early)
        result.manifest["timings"] = {**timings, **result.manifest["timings"]}
        if rfm_part is not None:
            attach_rfm(result, rfm_part)
        if clv_source is not None and spec is not None:
            if progress:
                progress("clv", "fitting BG/NBD and Gamma-Gamma to the order log")
            attach_clv(result, clv_source, spec, extra, seed=options.seed or 0)
        if compare:
            from .pipeline import compare_algorithms

            table = compare_algorithms(df, spec, options, compare, progress=progress)
            extra["algorithms.json"] = (json.dumps(table, indent=2) + "\n").encode("utf-8")
            result.manifest["algorithms"] = table
            if result.analysis is not None:
                result.analysis["algorithms"] = table
        if progress:
            progress("write", str(out))
        save_run(result, out, overwrite=overwrite, extra_files=extra, n_jobs=options.n_jobs,
                 figures=None if early is None else early.started)
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    return result


def run_file(source: str | Path, out: str | Path, *, spec: Spec | None = None,
             options: RunOptions | None = None, overwrite: bool = False,
             encoding: str | None = None, sql: str | None = None, engine: str = "local",
             master: str | None = None, compare_algorithms: list[str] | None = None,
             progress: Progress | None = None, notify: Notify | None = None,
             clv: bool = True, sheet: str | int | None = None) -> RunOutput:
    """Segment the customers (or the order log) in ``source`` and write the run to ``out``.

    Parameters
    ----------
    source : str or Path
        A customer table or an order log: CSV, Parquet, Excel, JSON lines, or a
        DuckDB/SQLite file with ``sql``; with ``engine="spark"`` also a Parquet
        folder or a URL (hdfs://, s3a://, file://, ...).
    out : str or Path
        The run directory; an existing non-empty one needs ``overwrite``.
    spec : Spec, optional
        The data dictionary; None infers one (an order log is recognised).
    options : RunOptions, optional
        The run's options, ``n_jobs`` among them.
    compare_algorithms : list of str, optional
        Also fit these algorithms and report them side by side (local engine).
    progress : callable, optional
        ``progress(stage, detail)``.
    notify : callable, optional
        Called with each note the user should read (an order log recognised, a
        spec inferred).
    sheet : str or int, optional
        Excel only: the sheet name or number from 0 (default: the first holding a table).
    clv : bool, default True
        On an order log, also fit lifetime value (BG/NBD and Gamma-Gamma, days)
        and write ``clv.json`` with the figures per segment (:func:`attach_clv`).
    """
    from .cluster.algorithms import get_algorithm
    from .engines import reads_itself

    options = options or RunOptions()
    remote = io.is_url(source)
    compare = None
    if compare_algorithms is not None:
        compare = list(compare_algorithms)
        if len(compare) < 2:
            raise ParameterError("--compare-algorithms needs at least two algorithms",
                                 fix="e.g. --compare-algorithms kmeans,gmm,ward")
        for name in compare:
            get_algorithm(name)
    # an engine that reads the input itself (Spark: CSV, Parquet, folders, URLs) gets it
    # unread: only a head is read here, to recognise an order log
    engine_reads = engine != "local" and sql is None and reads_itself(engine, source)
    if remote and not engine_reads:
        raise ParameterError(f"{str(source)!r} is a URL, which only --engine spark reads",
                             fix="add --engine spark, or copy the file here first")
    if remote and spec is not None and spec.kind == "transactions":
        raise ParameterError("an order log is aggregated here (with DuckDB), so it cannot be a URL",
                             fix="copy the file here first")
    if compare and engine != "local":
        raise ParameterError("--compare-algorithms runs with the local engine only",
                             fix="leave it out, or use --engine local")
    data = source if remote else Path(source)
    out = Path(out)
    io.check_output_dir(out, overwrite=overwrite)
    if progress:
        progress("read", str(data))
    tx_path = spec is not None and spec.kind == "transactions"
    df = None
    t_read = time.perf_counter()
    # the input's checksum (for the manifest) is computed in a second thread while the
    # table is read, if n_jobs allows: hashing releases the GIL
    hashing = (beside(io.source_sha256, data, n_jobs=options.n_jobs, prefer="threads")
               if not remote and data.exists() else None)
    try:
        if not tx_path and engine_reads:
            if spec is None and not remote and data.is_file():
                from .engines.spark import INFER_ROWS

                df = io.read_head(data, INFER_ROWS, encoding=encoding, n_jobs=options.n_jobs)
                spec = _guess_transactions(df, notify)
                tx_path = spec is not None
                if tx_path:  # the whole log is aggregated from the file
                    df = None
        elif not tx_path:
            df = io.read_table(data, encoding=encoding, sql=sql, sheet=sheet,
                               n_jobs=options.n_jobs)
            for note in df.attrs.get("read_notes", []):  # a sheet chosen, title rows left out
                if notify:
                    notify(note)
            if spec is None:
                spec = _guess_transactions(df, notify)
                tx_path = spec is not None
        extra: dict[str, bytes] = {}
        rfm_part = None
        clv_source = None
        if tx_path:
            if progress:
                progress("rfm", "aggregating the order log per customer")
            clv_source = (data if df is None else df) if clv else None
            df, rfm_part, extra = transactions_to_customers(data if df is None else df, spec)
        info = {"path": str(data), "sha256": hashing.result() if hashing else None}
        if df is not None and df.attrs.get("sheet") is not None:
            info["sheet"] = df.attrs["sheet"]
            info["read_notes"] = list(df.attrs.get("read_notes", []))
    except BaseException:
        if hashing is not None:
            hashing.cancel()
        raise
    if sql:
        info["sql"] = sql
    timings = {"read": round(time.perf_counter() - t_read, 4)}
    result = _segment_and_write(df, spec, options, out, overwrite=overwrite, engine=engine,
                                progress=progress, info=info,
                                source=data if engine_reads and not tx_path else None,
                                master=master, encoding=encoding, extra=extra, rfm_part=rfm_part,
                                compare=compare, timings=timings, clv_source=clv_source)
    notes = []
    if spec is None:
        notes = ["no --spec given; inferred this data dictionary (saved as spec.toml in the "
                 "output):", *(f"  {note}" for note in result.segmenter.spec_notes_)]
    return RunOutput(result, out, notes)


def run_demo(out: str | Path, *, rows: int = 3834, seed: int = 0, transactions: bool = False,
             aggregate_only: bool = False, overwrite: bool = False, n_jobs: int | None = None,
             progress: Progress | None = None, clv: bool = True,
             campaign: bool = False) -> RunOutput:
    """Generate SYNTHETIC 365-style customers (or an order log) and run the whole pipeline.

    The generated data is written into the run directory (``data.csv`` or
    ``transactions.csv``) beside every output. With ``campaign`` the customers
    get a text ``customer_id`` (the spec names it as the id), and a synthetic
    campaign with a lift planted in one segment is drawn and analysed into
    ``campaign/`` inside the run (:func:`demo_campaign`).
    """
    from .datasets import demo_spec_text, make_customers
    from .spec import parse_spec

    if rows < 11:
        raise ParameterError(f"--rows must be at least 11 for k up to 10, got {rows}")
    out = Path(out)
    io.check_output_dir(out, overwrite=overwrite)
    extra: dict[str, bytes] = {}
    rfm_part = None
    log = None
    if transactions:
        from .datasets.clv import make_clv_transactions
        from .rfm import TransactionColumns, transactions_spec_text

        if progress:
            progress("generate", f"an order log of {rows:,} synthetic customers (seed {seed})")
        # purchases from BG/NBD and spend from Gamma-Gamma with known parameters: the
        # lifetime value fit can be checked against them
        log = make_clv_transactions(rows, seed=seed)
        data = log.to_csv(index=False, lineterminator="\n").encode("utf-8")
        name = "transactions.csv"
        spec = parse_spec(transactions_spec_text(TransactionColumns("customer_id", "date", "amount")),
                          source="demo transactions spec")
        if progress:
            progress("rfm", "aggregating the order log per customer")
        df, rfm_part, extra = transactions_to_customers(log, spec)
    else:
        if progress:
            progress("generate", f"{rows:,} synthetic customers (seed {seed})")
        df = make_customers(rows, seed=seed)
        spec_text = demo_spec_text()
        if campaign:
            from .datasets import customer_ids

            df.insert(0, "customer_id", customer_ids(len(df)))
            spec_text = spec_text.replace('kind = "customers"\n',
                                          'kind = "customers"\nid = "customer_id"\n', 1)
        data = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
        name = "data.csv"
        spec = parse_spec(spec_text, source="demo spec")
    info = {"path": f"{name} (synthetic demo data generated by custseg)",
            "sha256": hashlib.sha256(data).hexdigest(), "synthetic": True}
    options = RunOptions(seed=seed, aggregate_only=aggregate_only, n_jobs=n_jobs,
                         title="Customer segmentation (synthetic demo data)")
    result = _segment_and_write(df, spec, options, out, overwrite=overwrite, engine="local",
                                progress=progress, info=info, source=None, master=None,
                                encoding=None, extra={name: data, **extra}, rfm_part=rfm_part,
                                compare=None, timings={}, clv_source=log if clv else None)
    notes = [f"Demo on SYNTHETIC data (generated by custseg, not real customers); the data is "
             f"in {out / name}."]
    if transactions and result.manifest.get("clv"):
        notes.append(_planted_note(result.manifest["clv"]))
    if campaign:
        if progress:
            progress("campaign", "a synthetic campaign with a lift planted in one segment")
        planted = demo_campaign(result, out, seed=seed)
        notes.append(f"Synthetic campaign: a lift planted in segment {planted['segment']} "
                     f"({planted['name']}); its analysis is in {out / 'campaign'} "
                     f"(report: {out / 'campaign' / 'report.html'}).")
    return RunOutput(result, out, notes)


def _planted_note(clv: dict) -> str:
    """The lifetime value parameters fitted to the demo log beside the planted ones."""
    from .datasets.clv import CLV_TRUTH

    fitted = {**clv["params"], **clv["spend_params"]}
    pairs = ", ".join(f"{k} {fitted[k]:.3g} ({v:g})" for k, v in CLV_TRUTH.items() if k in fitted)
    return ("Lifetime value fitted (planted in brackets; BG/NBD in days, Gamma-Gamma): " + pairs
            + ". With few customers the estimates are rough; see clv.json for standard errors.")


def demo_campaign(result: RunResult, out: str | Path, *, seed: int = 0) -> dict:
    """Draw a synthetic campaign on a demo run's customers and analyse it into ``out/campaign``.

    The lift is planted in the largest segment (the one with the most power);
    the results (``campaign_results.csv``) are written beside the analysis.
    Returns ``{"segment", "name"}`` of the planted segment.
    """
    from .campaign import analyze_frame, write_campaign
    from .datasets import make_campaign

    segs = result.segments
    sizes = segs["segment"].value_counts()
    planted = int(sizes.index[0])
    results = make_campaign(segs.iloc[:, 0].to_numpy(), segs["segment"].to_numpy(),
                            planted=planted, seed=seed)
    summary = analyze_frame(results, out, seed=seed, source="campaign_results.csv")
    summary["title"] = "Campaign results by segment (synthetic demo campaign)"
    summary["synthetic"] = True
    data = results.to_csv(index=False, lineterminator="\n").encode("utf-8")
    write_campaign(summary, Path(out) / "campaign",
                   extra_files={"campaign_results.csv": data})
    name = next(p["name"] for p in result.profiles if int(p["segment"]) == planted)
    return {"segment": planted, "name": name}


@dataclass
class SpecWritten:
    """What :func:`write_spec` wrote: a customer or a transactions spec, and notes for the user."""

    kind: str  # "customers" or "transactions"
    path: Path
    notes: list[str]


def write_spec(source: str | Path, output: str | Path, *, overwrite: bool = False,
               encoding: str | None = None, sql: str | None = None,
               n_jobs: int | None = None, sheet: str | int | None = None) -> SpecWritten:
    """Infer a data dictionary from ``source`` and write it, with comments, to ``output``.

    An order log gets a transactions spec naming its customer, date and amount
    columns; a customer table a spec of every column (kind, role, missing-value
    policy, transform), with a comment on each choice. Written atomically.
    ``n_jobs``: threads for reading the file (see :func:`custseg.io.read_table`).
    """
    from .infer import infer_spec
    from .rfm import guess_transaction_columns, transactions_spec_text
    from .rows import non_customer_rows

    source, output = Path(source), Path(output)
    if output.exists() and not overwrite:
        raise ParameterError(f"{str(output)!r} already exists",
                             fix="pass --overwrite or choose another --output")
    df = io.read_table(source, encoding=encoding, sql=sql, sheet=sheet, n_jobs=n_jobs)
    cols = guess_transaction_columns(df)
    if cols is not None:
        header = (f"custseg data dictionary for the order log {source.name} ({len(df):,} rows).\n"
                  "custseg derives per-customer recency, frequency and monetary features from\n"
                  "it, scores and names RFM segments, and clusters the customers.")
        io.atomic_write_file(output, transactions_spec_text(cols, header=header))
        roles = ", ".join(f"{r} = {n!r}" for r, n in cols.roles().items())
        return SpecWritten("transactions", output, [f"an order log: {roles}"])
    skip, skipped = non_customer_rows(df)
    spec, comments, notes = infer_spec(df.loc[~skip] if skip.any() else df)
    notes = list(df.attrs.get("read_notes", [])) + [p.message for p in skipped] + list(notes)
    header = (f"custseg data dictionary inferred from {source.name} ({len(df):,} rows).\n"
              "Review every column: kind (numeric | categorical), role (value | engagement |\n"
              "attribute), missing (numeric: zero | median | mean | drop | error;\n"
              "categorical: unknown | mode | drop | error), transform (auto | log | none),\n"
              "labels for codes, and [groups.COLUMN] for named groups of categories.")
    io.atomic_write_file(output, spec.to_toml(comments, header=header))
    return SpecWritten("customers", output, list(notes))


def compare_paths(old: str | Path, new: str | Path, out: str | Path | None = None, *,
                  overwrite: bool = False, encoding: str | None = None) -> dict:
    """Compare two runs, or a run's model and new data, and write the comparison to ``out``.

    ``old`` is a run directory or its ``model.json``; ``new`` another run (then
    segments are matched, migration counted on the customers in both, drift
    measured) or a data file scored with ``old``'s model. With ``out``,
    ``compare.json``, ``compare.md`` and ``compare.html`` are written there
    atomically. Returns the comparison (see :func:`custseg.compare.compare_models`).
    """
    from .compare import compare_models, compare_to_data
    from .modelfile import load_model
    from .report.compare_section import render_compare_html, render_compare_markdown
    from .rundir import read_segments

    old, new = Path(old), Path(new)
    old_model = load_model(old)
    if out is not None:
        io.check_output_dir(out, overwrite=overwrite)
    if new.is_dir() or new.name == "model.json":
        def segments_of(path: Path):
            return read_segments(path if path.is_dir() else path.parent, required=False)

        result = compare_models(old_model, load_model(new), segments_of(old), segments_of(new))
    else:
        result = compare_to_data(old_model, io.read_table(new, encoding=encoding))
    if out is not None:
        with io.atomic_output_dir(out, overwrite=overwrite) as tmp:
            io.write_json(result, tmp / "compare.json")
            (tmp / "compare.md").write_text(render_compare_markdown(result), encoding="utf-8")
            (tmp / "compare.html").write_text(render_compare_html(result), encoding="utf-8")
    return result


RFM_OUTPUTS = (".parquet", ".pq", ".csv")


def rfm_file(transactions: str | Path, output: str | Path, *, spec: Spec | None = None,
             columns: dict[str, str | None] | None = None, as_of: str | None = None,
             returns: str | None = None, drop_duplicates: bool = False,
             convention: str = "default", overwrite: bool = False
             ) -> tuple[pd.DataFrame, list, str | None]:
    """Turn an order log into one row per customer (RFM) and write it to ``output``.

    The columns come from ``columns`` (``customer``, ``date``, ``amount``,
    ``quantity``, ``order``, ``currency``), then a transactions ``spec``, and are
    guessed from the data when the customer, date or amount column is not named.
    With the default convention the table carries RFM scores and segment names.
    Returns the table, the validation warnings and the observation end used.
    """
    from .rfm import rfm_scores, rfm_segments, validate_and_aggregate
    from .rfm.log import log_columns

    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in RFM_OUTPUTS:
        raise ParameterError(f"cannot write {output.name!r}: unknown output type",
                             fix="name the output .parquet or .csv")
    if output.exists() and not overwrite:
        raise ParameterError(f"{str(output)!r} already exists",
                             fix="pass --overwrite or choose another --output")
    source, cols, tx, rfm_opts = log_columns(transactions, spec=spec, columns=columns, as_of=as_of,
                                             returns=returns, drop_duplicates=drop_duplicates)
    table, validation = validate_and_aggregate(
        source, cols, convention=convention, as_of=tx.get("as_of"),
        returns=tx.get("returns", "net"), drop_duplicates=bool(tx.get("drop_duplicates", False)))
    as_of_used = table.attrs.get("as_of")
    if convention == "default":
        table = rfm_scores(table, bins=int(rfm_opts.get("bins", 5)), cuts=rfm_opts.get("cuts"))
        table["rfm_segment"] = rfm_segments(table, rfm_opts.get("segments")).to_numpy()
    if suffix == ".csv":
        io.write_csv(table, output)
    else:
        io.write_parquet(pd.DataFrame(table), output)
    return table, list(validation.warnings), as_of_used

