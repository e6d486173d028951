"""The commands on an order log: rfm and clv."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from . import (
    OverwriteOpt,
    QuietOpt,
    app,
    default_out,
    err_console,
    handle_errors,
    out_console,
)

#: the options naming an order log's columns, the same for rfm and clv
LogSpecOpt = Annotated[Path | None, typer.Option("--spec", help="A kind = \"transactions\" "
                                                 "spec naming the columns.")]
CustomerOpt = Annotated[str | None, typer.Option("--customer", help="Customer id column.")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Purchase date column.")]
AmountOpt = Annotated[str | None, typer.Option("--amount", help="Amount column (negative = "
                                               "return).")]


@app.command()
@handle_errors
def rfm(
    transactions: Annotated[Path, typer.Argument(help="An order log: one row per purchase.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Customer table to write "
                                         "(.parquet or .csv).")],
    spec: LogSpecOpt = None,
    customer: CustomerOpt = None,
    date: DateOpt = None,
    amount: AmountOpt = None,
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
    from .. import io
    from ..spec import parse_spec
    from ..workflow import rfm_file

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
    spec: LogSpecOpt = None,
    customer: CustomerOpt = None,
    date: DateOpt = None,
    amount: AmountOpt = None,
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
    from .. import io
    from ..clv.flow import clv_file
    from ..spec import parse_spec

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
