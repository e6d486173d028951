"""``custseg clv``: from an order log to clv.json, customers.parquet/csv and report.html.

An edge: it opens the log as ``custseg rfm`` does (same column guessing, same
validation, same messages: :func:`custseg.workflow.log_columns`,
:func:`custseg.rfm.validate_and_aggregate`), aggregates it in the ``lifetimes``
convention, calls the core (:mod:`custseg.clv`) and writes every output at once,
atomically (a failed run leaves nothing).

With ``calibration_end`` the log is aggregated twice: up to the observation end
(``as_of``, validated) and up to the calibration end (the same rows, not
re-validated). The models are fitted on the calibration period only; each
calibration customer's holdout purchases are the purchase days after the
calibration end (the difference of the two frequencies). The per-customer
predictions use each customer's whole history up to ``as_of`` with the
calibration fit's parameters. With ``model_file`` (a ``clv.json``) nothing is
fitted: the saved parameters score the new log.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..errors import InputError, ModelError, ParameterError
from . import PURCHASE_MODELS
from .holdout import holdout_check
from .segments import segment_figures
from .value import UNITS, check_options, fit_models, score_customers, value_concentration

__all__ = ["CLVOutput", "clv_file", "CLV_FORMAT", "CLV_FORMAT_VERSION", "CUSTOMER_COLUMNS",
           "load_clv_model", "clv_for_run", "run_section"]

CLV_FORMAT = "custseg-clv"
CLV_FORMAT_VERSION = 1
#: the per-customer columns written after the id
CUSTOMER_COLUMNS = ("frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
                    "expected_avg_value", "clv")


@dataclass
class CLVOutput:
    """What :func:`clv_file` wrote: the summary (``clv.json``), the customers, the folder."""

    summary: dict[str, Any]
    customers: pd.DataFrame
    out: Path


def _date(value: Any, option: str) -> _dt.date | None:
    from ..rfm.columns import to_date

    try:
        return to_date(value, option)
    except ParameterError:
        raise ParameterError(f"{option} must be a date such as 2024-06-30, got {value!r}") from None


def load_clv_model(path: str | Path) -> dict[str, Any]:
    """The fitted models of a ``clv.json`` (or of the run directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "clv.json"
    if not p.is_file():
        raise InputError(f"{str(p)!r} does not exist", fix="pass a clv.json written by custseg clv")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(p)!r} is not JSON ({exc})", fix="pass a clv.json written by "
                         "custseg clv") from None
    if not isinstance(doc, dict) or doc.get("format") != CLV_FORMAT:
        raise InputError(f"{str(p)!r} is not a custseg clv.json (no \"format\": \"{CLV_FORMAT}\")",
                         fix="pass a clv.json written by custseg clv")
    if doc.get("format_version") != CLV_FORMAT_VERSION:
        raise InputError(f"{str(p)!r} has format_version {doc.get('format_version')!r}; this "
                         f"custseg reads {CLV_FORMAT_VERSION}", fix="refit with this version")
    model = PURCHASE_MODELS.get(doc.get("model"))
    if model is None or doc.get("unit") not in UNITS:
        raise InputError(f"{str(p)!r} names an unknown model or unit",
                         fix="pass a clv.json written by custseg clv")
    try:
        params = [float(doc["params"][n]) for n in model.param_names]
        spend = [float(doc["spend_params"][n]) for n in ("p", "q", "v")]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{str(p)!r} lacks the parameters of its model",
                         fix="pass a clv.json written by custseg clv") from None
    return {"model": model, "unit": doc["unit"], "params": params, "spend_params": spend,
            "source": doc}


def _in_unit(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    out = table.copy()
    for c in ("recency", "T"):
        out[c] = out[c].to_numpy(dtype=np.float64) / UNITS[unit]
    return out


def _clean(value: Any) -> Any:
    """NaN and infinity (not JSON) as None, recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def clv_file(transactions: str | Path | pd.DataFrame, out: str | Path, *, spec=None,
             columns: dict[str, str | None] | None = None, as_of: str | None = None,
             calibration_end: str | None = None, returns: str | None = None,
             drop_duplicates: bool = False, model: str = "bgnbd", unit: str = "day",
             horizon_months: float = 12.0, discount_rate: float = 0.01, penalizer: float = 0.0,
             segments: str | Path | None = None, model_file: str | Path | None = None,
             seed: int = 0, overwrite: bool = False, report: bool = True) -> CLVOutput:
    """Fit (or load) the CLV models on an order log, score its customers, write ``out``.

    Writes ``clv.json``, ``customers.parquet``, ``customers.csv`` (formulas
    neutralised) and ``report.html`` into the folder ``out``, atomically.
    """
    from ..rfm import aggregate, validate_and_aggregate
    from ..rfm.log import log_columns

    loaded = None
    if model_file is not None:
        loaded = load_clv_model(model_file)
        if calibration_end is not None:
            raise ParameterError("--calibration-end fits the models, --model uses fitted ones",
                                 fix="leave one of them out")
        model, unit = loaded["model"].name, loaded["unit"]
    check_options(model, unit, horizon_months, discount_rate, penalizer, PURCHASE_MODELS)
    purchase_model = PURCHASE_MODELS[model]
    cal_end, as_of_date = _date(calibration_end, "--calibration-end"), _date(as_of, "--as-of")
    if cal_end is not None and as_of_date is not None and as_of_date <= cal_end:
        raise ParameterError(f"--as-of ({as_of_date}) must be after --calibration-end ({cal_end}): "
                             "the holdout period runs from one to the other",
                             fix="pass a later --as-of or an earlier --calibration-end")
    out = Path(out)
    io.check_output_dir(out, overwrite=overwrite)
    seg_table = None
    if segments is not None:
        from ..rundir import read_segments

        seg_table = read_segments(segments)
    source, cols, tx, _ = log_columns(transactions, spec=spec, columns=columns, as_of=as_of,
                                      returns=returns, drop_duplicates=drop_duplicates)
    options = {"returns": tx.get("returns", "net"),
               "drop_duplicates": bool(tx.get("drop_duplicates", False))}
    full, validation = validate_and_aggregate(source, cols, convention="lifetimes",
                                              as_of=tx.get("as_of"), **options)
    as_of_used = str(full.attrs.get("as_of"))
    warnings = [{"code": p.code, "message": p.message} for p in validation.warnings]
    id_col = cols.customer
    holdout = None
    if cal_end is not None:
        if _dt.date.fromisoformat(as_of_used) <= cal_end:
            raise ParameterError(f"the log ends on {as_of_used}, not after --calibration-end "
                                 f"({cal_end}): there is no holdout period",
                                 fix="pass an earlier --calibration-end")
        cal = aggregate(source, cols, convention="lifetimes", as_of=cal_end, check=False, **options)
        if len(cal) == 0:
            raise ModelError(f"no customer bought up to --calibration-end ({cal_end})",
                             fix="pass a later --calibration-end")
        both = cal.merge(full[[id_col, "frequency"]], on=id_col, how="left",
                         suffixes=("", "_full"), validate="one_to_one")
        lost = both["frequency_full"].isna()
        if lost.any():
            warnings.append({"code": "clv-holdout-left-out",
                             "message": f"{int(lost.sum()):,} calibration customers are not in the "
                                        "whole log's table (returns exceed purchases) and are left "
                                        "out of the holdout check"})
        both = both[~lost.to_numpy()]
        fit_on = _in_unit(cal, unit)
        actual = (both["frequency_full"] - both["frequency"]).to_numpy(dtype=np.float64)
        duration = (_dt.date.fromisoformat(as_of_used) - cal_end).days / UNITS[unit]
    else:
        fit_on = _in_unit(full, unit)
    if loaded is None:
        fitted = fit_models(fit_on, purchase_model, unit=unit, penalizer=penalizer)
        warnings += fitted.warnings
        params, spend_params = fitted.purchase.theta, fitted.spend.theta
    else:
        fitted, params, spend_params = None, loaded["params"], loaded["spend_params"]
    if cal_end is not None:
        cal_unit = _in_unit(both, unit)
        holdout, _ = holdout_check(cal_unit, actual, duration, purchase_model, params)
    scored = score_customers(_in_unit(full, unit), purchase_model, params, spend_params, unit=unit,
                             horizon_months=horizon_months, discount_rate=discount_rate)
    customers = scored[[id_col, *CUSTOMER_COLUMNS]]
    summary = _summary(purchase_model, unit, as_of_used, cal_end, customers, fitted, loaded,
                       params, spend_params, holdout, warnings, horizon_months, discount_rate,
                       penalizer, id_col)
    if seg_table is not None:
        summary["segments"], seg_warnings = segment_figures(customers, id_col, seg_table, seed=seed)
        summary["warnings"] += seg_warnings
    summary = _clean(summary)
    _write(out, summary, customers, overwrite=overwrite, report=report)
    return CLVOutput(summary, customers, out)


def _summary(model, unit, as_of, cal_end, customers, fitted, loaded, params, spend_params,
             holdout, warnings, horizon_months, discount_rate, penalizer, id_col) -> dict:
    names = model.param_names
    clv = customers["clv"].to_numpy(dtype=np.float64)
    if fitted is not None:
        purchase, spend = fitted.purchase, fitted.spend
        fit_part = {"params_se": purchase.se, "log_likelihood": purchase.log_likelihood,
                    "converged": purchase.converged, "fit_message": purchase.message,
                    "fit_starts": purchase.starts, "fit_customers": int(purchase.n),
                    "spend_params_se": spend.se, "spend_log_likelihood": spend.log_likelihood,
                    "spend_converged": spend.converged, "spend_customers": int(spend.n),
                    "spend_frequency_correlation": fitted.spend_correlation,
                    "fitted_here": True}
    else:
        src = loaded["source"]
        fit_part = {k: src.get(k) for k in (
            "params_se", "log_likelihood", "converged", "fit_message", "fit_starts",
            "fit_customers", "spend_params_se", "spend_log_likelihood", "spend_converged",
            "spend_customers", "spend_frequency_correlation")}
        fit_part["fitted_here"] = False
    return {
        "format": CLV_FORMAT, "format_version": CLV_FORMAT_VERSION,
        "model": model.name, "model_title": model.title, "unit": unit, "as_of": as_of,
        "calibration_end": None if cal_end is None else cal_end.isoformat(),
        "customer_column": id_col, "n_customers": int(len(customers)),
        "horizon_months": float(horizon_months), "discount_rate": float(discount_rate),
        "penalizer": float(penalizer),
        "params": {n: float(v) for n, v in zip(names, params, strict=True)},
        **{k: fit_part[k] for k in ("params_se", "log_likelihood", "converged")},
        "spend_params": {n: float(v) for n, v in zip(("p", "q", "v"), spend_params, strict=True)},
        **{k: v for k, v in fit_part.items() if k not in ("params_se", "log_likelihood", "converged")},
        "holdout": holdout,
        "totals": {
            "expected_purchases": float(customers["expected_purchases"].sum()),
            "clv": float(clv.sum()), "mean_clv": float(clv.mean()) if len(clv) else None,
            "median_clv": float(np.median(clv)) if len(clv) else None,
            "mean_p_alive": float(customers["p_alive"].mean()) if len(clv) else None,
            "top10_value_share": value_concentration(clv),
        },
        "distributions": _distributions(customers),
        "segments": None,
        "warnings": list(warnings),
    }


def _distributions(customers: pd.DataFrame) -> dict:
    """Histograms of P(alive) (10 bins on [0, 1]) and of CLV (20 bins, top 1% in the last)."""
    alive = customers["p_alive"].to_numpy(dtype=np.float64)
    counts, edges = np.histogram(alive, bins=10, range=(0.0, 1.0))
    clv = customers["clv"].to_numpy(dtype=np.float64)
    hi = float(np.quantile(clv, 0.99)) if len(clv) else 1.0
    hi = hi if hi > 0 else 1.0
    c_counts, c_edges = np.histogram(np.minimum(clv, hi), bins=20, range=(0.0, hi))
    return {"p_alive": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
            "clv": {"edges": [float(e) for e in c_edges], "counts": [int(c) for c in c_counts],
                    "top_bin_includes_above": hi}}


def _write(out: Path, summary: dict, customers: pd.DataFrame, *, overwrite: bool,
           report: bool) -> None:
    with io.atomic_output_dir(out, overwrite=overwrite) as tmp:
        io.write_json(summary, tmp / "clv.json")
        io.write_parquet(customers, tmp / "customers.parquet")
        io.write_csv(customers, tmp / "customers.csv")
        if report:
            from ..report.clv_section import render_clv_html

            (tmp / "report.html").write_text(render_clv_html(summary), encoding="utf-8")


def clv_for_run(source, spec, segments: pd.DataFrame | None, *, seed: int = 0) -> dict[str, Any]:
    """The ``clv.json`` of a ``custseg run`` on an order log: BG/NBD and Gamma-Gamma in days.

    ``source`` is the log (already validated by the run's RFM aggregation, so it
    is aggregated here without a second validation), ``spec`` its transactions
    spec, ``segments`` the run's segments (id, ``segment``, ``segment_name``).
    Raises :class:`ModelError` when no model can be fitted (the run then goes on
    without CLV, with a warning).
    """
    from ..rfm import TransactionColumns, aggregate

    tx = dict(spec.transactions)
    cols = TransactionColumns.from_dict(
        {k: tx[k] for k in ("customer", "date", "amount", "quantity", "order", "currency")
         if tx.get(k)})
    table = aggregate(source, cols, convention="lifetimes", as_of=tx.get("as_of"), check=False,
                      returns=tx.get("returns", "net"),
                      drop_duplicates=bool(tx.get("drop_duplicates", False)))
    model = PURCHASE_MODELS["bgnbd"]
    data = _in_unit(table, "day")
    fitted = fit_models(data, model, unit="day")
    scored = score_customers(data, model, fitted.purchase.theta, fitted.spend.theta, unit="day")
    customers = scored[[cols.customer, *CUSTOMER_COLUMNS]]
    summary = _summary(model, "day", str(table.attrs.get("as_of")), None, customers, fitted, None,
                       fitted.purchase.theta, fitted.spend.theta, None, list(fitted.warnings), 12.0,
                       0.01, 0.0, cols.customer)
    if segments is not None:
        summary["segments"], more = segment_figures(customers, cols.customer, segments, seed=seed)
        summary["warnings"] += more
    return _clean(summary)


def run_section(summary: dict[str, Any]) -> dict[str, Any]:
    """The compact part of a run's ``clv.json`` for its manifest and analysis (the report)."""
    segs = []
    for g in summary.get("segments") or []:
        segs.append({"segment": g["segment"], "name": g["name"], "customers": g["customers"],
                     "mean_clv": g["clv"]["mean"], "mean_clv_ci95": g["clv"]["mean_ci95"],
                     "total_clv": g["clv"]["total"], "value_share": g["value_share"],
                     "mean_p_alive": g["p_alive"]["mean"],
                     "mean_expected_purchases": g["expected_purchases"]["mean"]})
    return {"model": summary["model"], "unit": summary["unit"], "as_of": summary["as_of"],
            "horizon_months": summary["horizon_months"], "discount_rate": summary["discount_rate"],
            "customers": summary["n_customers"], "params": summary["params"],
            "spend_params": summary["spend_params"], "total_clv": summary["totals"]["clv"],
            "segments": segs}
