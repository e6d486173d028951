"""Words for a campaign's numbers: a verdict and one sentence per segment, never overclaiming.

:func:`summarize` adds to :func:`custseg.campaign.analyze.analyze_cells`' result
what ``campaign.json`` documents besides the numbers: the split check first
(``srm``; a failed split invalidates the rest), a ``verdict`` and a ``sentence``
for the whole campaign and each segment, the ``findings`` (segments where a
difference was detected after the correction for looking at every segment), and
the warnings. A segment without a detectable difference is said to have "no
detectable difference at this size (could detect N points)", never "no effect".
"""

from __future__ import annotations

from .._messages import count_text

__all__ = ["summarize", "VERDICTS", "points"]

#: verdict -> what it means (also in the report's methods)
VERDICTS = {
    "split-failed": "the split of customers between the arms is off (sample-ratio mismatch): "
                    "the comparison cannot be trusted",
    "higher": "the treatment converted more, detectably so after the correction across segments",
    "lower": "the treatment converted less, detectably so after the correction across segments",
    "not-after-correction": "a difference at the 5 % level on its own that does not survive "
                            "the correction across segments: a lead to retest, not a finding",
    "no-detectable-difference": "no detectable difference at this size",
    "untestable": "nothing to test: an arm is empty, or no one (or everyone) converted",
}


def points(x: float | None) -> str:
    """A difference of proportions in percentage points: ``2.1 points``."""
    if x is None:
        return "n/a"
    return f"{abs(x) * 100:.1f} point{'' if round(abs(x) * 100, 1) == 1 else 's'}"


def _ci_text(ci: list) -> str:
    low, high = ci
    if low is None or high is None:
        return ""
    return f" (95% CI {low * 100:+.1f} to {high * 100:+.1f} points)"


def _verdict(c: dict, adjusted: float | None, alpha: float) -> str:
    if c["srm"]["mismatch"]:
        return "split-failed"
    if c["p_value"] is None or c["lift"] is None:
        return "untestable"
    if adjusted is not None and adjusted < alpha:
        return "higher" if c["lift"] > 0 else "lower"
    if c["p_value"] < alpha and adjusted is not None:
        return "not-after-correction"
    return "no-detectable-difference"


def _sentence(c: dict, verdict: str, who: str, family: int, noun: str = "segment") -> str:
    mde = "" if c["mde"] is None else f" (could detect {points(c['mde'])})"
    if verdict == "split-failed":
        return (f"{who}: the split between the arms is off (sample-ratio mismatch, p = "
                f"{c['srm']['p_value']:.2g}); do not read this comparison until the cause is "
                "found.")
    if verdict == "untestable":
        return f"{who}: nothing to test (an arm is empty, or no one or everyone converted)."
    diff = f"{points(c['lift'])} {'more' if c['lift'] > 0 else 'fewer'}"
    if verdict in ("higher", "lower"):
        corrected = (f", after the correction for {count_text(family, noun)}"
                     if family > 1 else "")
        return (f"{who}: the treatment converted {diff}{_ci_text(c['ci'])} than the control"
                f"{corrected} (p = {c['p_value']:.2g}).")
    if verdict == "not-after-correction":
        return (f"{who}: {diff} conversions{_ci_text(c['ci'])} at p = {c['p_value']:.2g}, which "
                f"does not survive the correction for {count_text(family, noun)}: no "
                f"detectable difference at this size{mde}; a lead to retest, not a finding.")
    return f"{who}: no detectable difference at this size{mde}."


def summarize(result: dict, *, warnings: list[dict], meta: dict, alpha: float = 0.05) -> dict:
    """``campaign.json``: the split check first, then the results with their words.

    ``result`` is :func:`~custseg.campaign.analyze.analyze_cells`' output;
    ``meta`` the facts of the input (columns, arms, split, customers, run) placed
    first; ``warnings`` the ``{code, message}`` found while reading. Adds
    ``verdict`` and ``sentence`` to the overall result and every segment (and
    comparison), the ``findings`` and further warnings (split mismatches, small
    segments).
    """
    warnings = list(warnings)
    family = max(1, result["family"]["comparisons"])
    overall = result["overall"]
    overall["verdict"] = _verdict(overall, overall["p_value"], alpha)
    overall["sentence"] = _sentence(overall, overall["verdict"], "Whole campaign", 1)
    findings = []
    # the family is one comparison per segment, or per segment and treatment arm
    noun = "segment" if family == len(result["segments"]) else "comparison"
    for s in result["segments"]:
        for c in s.get("comparisons") or [s]:
            who = s["segment_name"] if "arm" not in c else f"{s['segment_name']} ({c['arm']})"
            c["verdict"] = _verdict({**c, "srm": s["srm"]}, c["p_holm"], alpha)
            c["sentence"] = _sentence({**c, "srm": s["srm"]}, c["verdict"], who, family, noun)
            if c["verdict"] in ("higher", "lower"):
                findings.append({"segment": s["segment"], "segment_name": s["segment_name"],
                                 "arm": c.get("arm", meta["arms"]["treatment"][0]),
                                 "verdict": c["verdict"], "lift": c["lift"], "ci": c["ci"],
                                 "p_holm": c["p_holm"]})
        if "comparisons" in s:
            s["verdict"], s["sentence"] = s["comparisons"][0]["verdict"], \
                s["comparisons"][0]["sentence"]
    srm = overall["srm"]
    if srm["mismatch"]:
        warnings.append({"code": "sample-ratio-mismatch", "message": (
            f"the arms hold {', '.join(f'{a} {n:,}' for a, n in srm['n'].items())} customers, "
            f"far from the planned split (chi-square p = {srm['p_value']:.2g} < 0.001): the "
            "assignment or the logging is broken, and every comparison below is suspect")})
    bad = [s for s in result["segments"] if s["srm"]["mismatch"]]
    if bad:
        warnings.append({"code": "segment-ratio-mismatch", "message": (
            f"the split is off within {count_text(len(bad), 'segment')} ("
            f"{', '.join(str(s['segment']) for s in bad)}): their comparisons are not reported "
            "as findings")})
    small = [s for s in result["segments"] if min(s["n"].values()) < 30]
    if small:
        warnings.append({"code": "small-segments", "message": (
            f"{count_text(len(small), 'segment')} ({', '.join(str(s['segment']) for s in small)})"
            f" {'has' if len(small) == 1 else 'have'} fewer than 30 customers in an arm: their "
            "intervals are wide and their tests weak")})
    return {
        **meta,
        "srm": {"p_value": srm["p_value"], "mismatch": srm["mismatch"],
                "statistic": srm["statistic"], "n": srm["n"],
                "expected_share": srm["expected_share"], "threshold": 0.001},
        "overall": overall,
        "segments": result["segments"],
        "interaction": result["interaction"],
        "family": {**result["family"], "corrections": ["holm", "fdr_bh"],
                   "note": "Holm and Benjamini-Hochberg adjust over the per-segment comparisons; "
                           "the whole-campaign comparison stands apart"},
        "findings": findings,
        "verdicts": VERDICTS,
        "warnings": warnings,
    }
