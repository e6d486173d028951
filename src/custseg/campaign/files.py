"""``custseg campaign`` and ``campaign-plan`` from files: read, join to a run, analyse, write.

The edge of :mod:`custseg.campaign`: it reads the results file
(:func:`custseg.io.read_table`) and the run directory (:mod:`custseg.rundir`),
gives each customer the segment of the run (by id, or through the run's model
when the file carries the clustering columns), calls the pure analysis
(:mod:`custseg.campaign.analyze`, :mod:`custseg.campaign.summary`) and writes
``campaign.json``, ``campaign.csv`` and ``report.html`` atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import io
from .._messages import count_text
from ..errors import InputError
from ..rundir import read_run, segments_path
from .analyze import CampaignOptions, analyze_cells, cell_table, revenue_samples
from .columns import check_results, guess_arms, guess_columns, parse_split
from .plan import plan_campaign
from .summary import summarize

__all__ = ["analyze_campaign", "analyze_frame", "plan_from_run", "write_campaign",
           "MOST_MISSING", "CSV_COLUMNS"]

#: share of the results' ids missing from the run above which the join is an error
MOST_MISSING = 0.5


def _arrow_ids(a, b):
    """Two Arrow id arrays made comparable: as they are when both are numbers or both
    text, else both as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def numeric(x) -> bool:
        return pa.types.is_integer(x.type) or pa.types.is_floating(x.type)

    if numeric(a) != numeric(b):
        a, b = pc.cast(a, pa.string()), pc.cast(b, pa.string())
    return a, b


def _join_by_id(typed: pd.DataFrame, run_seg, id_col: str, column: str,
                warnings: list[dict]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc

    run_ids, file_ids = _arrow_ids(run_seg.column(id_col).combine_chunks(),
                                   pa.array(typed["id"].array))
    # Arrow's hash lookup: the first row of the run with each id (run ids are unique)
    found = pc.index_in(file_ids, value_set=run_ids)
    missing = found.is_null().to_numpy(zero_copy_only=False)
    pos = pc.fill_null(found, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    n_missing = int(missing.sum())
    if n_missing:
        share = n_missing / len(typed)
        first = typed["id"].iloc[int(np.flatnonzero(missing)[0])]
        if share > MOST_MISSING:
            raise InputError(f"{count_text(n_missing, 'customer')} of {len(typed):,} in the "
                             f"results ({share:.0%}) are not in the run (e.g. id "
                             f"{str(first)[:40]!r} in column {column!r})",
                             fix="pass the run these customers were segmented in, or the right "
                                 "--id column")
        warnings.append({"code": "ids-not-in-run", "message": (
            f"{count_text(n_missing, 'customer')} of the results ({share:.1%}, e.g. id "
            f"{str(first)[:40]!r}) are not in the run and are left out")})
    seg = run_seg.column("segment").to_numpy()[pos]
    typed = typed.assign(segment=seg.astype(np.int64))
    return typed[~missing].reset_index(drop=True) if n_missing else typed


def _assign_by_model(typed: pd.DataFrame, frame: pd.DataFrame, model,
                     warnings: list[dict]) -> pd.DataFrame:
    assigned, found = model.assign(frame)
    warnings += [{"code": p.code, "message": p.message} for p in found]
    seg = assigned["segment"].to_numpy()
    dropped = seg < 0
    if dropped.any():
        warnings.append({"code": "not-assigned", "message": (
            f"{count_text(int(dropped.sum()), 'customer')} could not be assigned to a segment "
            "(a missing-value policy of the run's spec drops them) and are left out")})
    return typed.assign(segment=seg)[~dropped].reset_index(drop=True)


def _segments_of(typed: pd.DataFrame, frame: pd.DataFrame, run_seg,
                 run_id: str | None, model, id_col: str | None, warnings: list[dict]
                 ) -> tuple[pd.DataFrame, str]:
    features = list(model.features.columns_)
    has_features = all(c in frame.columns for c in features)
    if id_col is not None and run_id is not None:
        return _join_by_id(typed, run_seg, run_id, id_col, warnings), "id"
    if has_features:
        return _assign_by_model(typed, frame, model, warnings), "model"
    raise InputError("cannot give the customers their segments: the results have no id the "
                     "run knows and not the columns the run clusters on "
                     f"({', '.join(features)})",
                     fix="pass --id for the customer id column (the run must have been made "
                         "with an id), or include the clustering columns")


def _run_segments(run_dir: Path):
    """The id (or row) and segment columns of a run's ``segments.parquet`` (a file or a
    partitioned folder) as an Arrow table: no names or distances (a third of the
    memory), and ids hashed by Arrow without becoming Python objects."""
    import pyarrow.dataset as ds

    data = ds.dataset(segments_path(run_dir), format="parquet", partitioning="hive")
    return data.to_table(columns=[data.schema.names[0], "segment"])


def analyze_frame(frame: pd.DataFrame, run_dir: str | Path, *, id: str | None = None,
                  group: str | None = None, outcome: str | None = None,
                  revenue: str | None = None, treatment: str | None = None,
                  control: str | None = None, split: str | None = None, seed: int = 0,
                  source: str = "results") -> dict:
    """The campaign analysis (``campaign.json``'s content) of a results table and a run."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    run_seg = _run_segments(run_dir)
    run_id = run_seg.column_names[0] if run_seg.column_names[0] != "row" else None
    cols = guess_columns(frame, id=id, group=group, outcome=outcome, revenue=revenue,
                         id_candidates=(run_id,) if run_id else ())
    typed, warnings = check_results(frame, cols)
    typed, how = _segments_of(typed, frame, run_seg, run_id, run["model"], cols.id, warnings)
    arms = sorted(pd.unique(typed["arm"]).tolist())
    control_arm, treatments = guess_arms(arms, control=control, treatment=treatment)
    used = [*treatments, control_arm]
    left = typed["arm"].isin(used).to_numpy()
    if not left.all():
        others = sorted(set(arms) - set(used))
        warnings.append({"code": "arms-left-out", "message": (
            f"{count_text(int((~left).sum()), 'customer')} of the arm(s) "
            f"{', '.join(repr(a) for a in others)} are left out (only {treatments[0]!r} "
            f"against {control_arm!r} is compared)")})
        typed = typed[left].reset_index(drop=True)
    names = {int(p["segment"]): str(p["name"]) for p in run["profiles"]}
    opts = CampaignOptions(control=control_arm, treatments=treatments,
                           split=parse_split(split, used), seed=seed,
                           revenue=cols.revenue is not None, names=names)
    cells = cell_table(typed, revenue=opts.revenue)
    samples = revenue_samples(typed, cap=opts.boot_sample, seed=seed) if opts.revenue else None
    result = analyze_cells(cells, opts, samples)
    meta = {
        "title": f"Campaign results by segment ({source})",
        "results": source,
        "run": str(run_dir),
        "customers": int(len(typed)),
        "segments_by": how,
        "columns": cols.roles(),
        "arms": {"control": control_arm, "treatment": treatments},
        "split": opts.split,
        "alpha": opts.alpha,
        "power": opts.power,
        "seed": seed,
        "bootstrap": {"resamples": opts.n_boot, "sample_per_arm": opts.boot_sample}
        if opts.revenue else None,
    }
    return summarize(result, warnings=warnings, meta=meta, alpha=opts.alpha)


#: the columns of campaign.csv, in order (revenue ones only with a revenue column)
CSV_COLUMNS = ("segment", "segment_name", "arm", "n_treatment", "n_control",
               "conversions_treatment", "conversions_control", "rate_treatment", "rate_control",
               "lift", "ci_low", "ci_high", "relative_lift", "p_value", "p_holm", "p_bh", "mde",
               "srm_p_value", "srm_mismatch", "verdict")
_REVENUE_COLUMNS = ("revenue_treatment", "revenue_control", "revenue_difference",
                    "revenue_ci_low", "revenue_ci_high", "revenue_bootstrap_low",
                    "revenue_bootstrap_high")


def _csv_table(summary: dict) -> pd.DataFrame:
    rows = []
    for s in summary["segments"]:
        for c in s.get("comparisons") or [{**s, "arm": summary["arms"]["treatment"][0]}]:
            row = {"segment": s["segment"], "segment_name": s["segment_name"], "arm": c["arm"],
                   "n_treatment": c["n"]["treatment"], "n_control": c["n"]["control"],
                   "conversions_treatment": c["conversions"]["treatment"],
                   "conversions_control": c["conversions"]["control"],
                   "rate_treatment": c["rate"]["treatment"], "rate_control": c["rate"]["control"],
                   "lift": c["lift"], "ci_low": c["ci"][0], "ci_high": c["ci"][1],
                   "relative_lift": c["relative_lift"], "p_value": c["p_value"],
                   "p_holm": c["p_holm"], "p_bh": c["p_bh"], "mde": c["mde"],
                   "srm_p_value": s["srm"]["p_value"], "srm_mismatch": s["srm"]["mismatch"],
                   "verdict": c["verdict"]}
            rev = c.get("revenue")
            if rev is not None:
                row.update(zip(_REVENUE_COLUMNS, (
                    rev["per_customer"]["treatment"], rev["per_customer"]["control"],
                    rev["difference"], *rev["ci_welch"], *rev["ci_bootstrap"]), strict=True))
            rows.append(row)
    columns = list(CSV_COLUMNS) + (list(_REVENUE_COLUMNS) if summary.get("bootstrap") else [])
    return pd.DataFrame(rows, columns=columns)


def write_campaign(summary: dict, out: str | Path, *, overwrite: bool = False,
                   extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``campaign.json``, ``campaign.csv`` and ``report.html`` (and ``extra_files``)
    into ``out`` atomically."""
    from ..report.campaign_section import render_campaign_html

    html = render_campaign_html(summary)  # before anything is written
    with io.atomic_output_dir(out, overwrite=overwrite) as tmp:
        for name, data in (extra_files or {}).items():
            (tmp / name).write_bytes(data)
        io.write_json(summary, tmp / "campaign.json")
        io.write_csv(_csv_table(summary), tmp / "campaign.csv")
        (tmp / "report.html").write_text(html, encoding="utf-8")
    return Path(out)


def analyze_campaign(results: str | Path, run_dir: str | Path, out: str | Path, *,
                     overwrite: bool = False, encoding: str | None = None, **options) -> dict:
    """Read ``results``, analyse them by the segments of ``run_dir``, write ``out``.

    ``options`` are :func:`analyze_frame`'s (column and arm names, ``split``,
    ``seed``). Returns the summary written as ``campaign.json``.
    """
    io.check_output_dir(out, overwrite=overwrite)
    frame = io.read_table(results, encoding=encoding)
    summary = analyze_frame(frame, run_dir, source=Path(results).name, **options)
    write_campaign(summary, out, overwrite=overwrite)
    return summary


def plan_from_run(run_dir: str | Path, *, baseline: float, mde: float, power: float = 0.8,
                  alpha: float = 0.05, split: str | None = None) -> dict:
    """:func:`custseg.campaign.plan.plan_campaign` for the segments (and sizes) of a run."""
    run = read_run(run_dir)
    shares = parse_split(split, ["treatment", "control"])
    segments = [{"segment": int(p["segment"]), "segment_name": str(p["name"]),
                 "size": int(p["size"])} for p in run["profiles"]]
    result = plan_campaign(segments, baseline=baseline, mde=mde, power=power, alpha=alpha,
                           treatment_share=shares["treatment"])
    result["run"] = str(run_dir)
    return result
