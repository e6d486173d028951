"""The commands on campaigns and A/B tests: campaign and campaign-plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from . import (
    EncodingOpt,
    OverwriteOpt,
    QuietOpt,
    app,
    err_console,
    handle_errors,
    out_console,
)


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
    from ..campaign import analyze_campaign

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
    from ..campaign import plan_from_run

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
