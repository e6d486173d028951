"""Plan a campaign by segment: customers needed per arm, and which segments are too small.

:func:`plan_campaign` answers ``custseg campaign-plan``: for a baseline
conversion rate and the smallest lift worth detecting, the customers each arm
needs for the whole campaign (at ``alpha``) and for each segment on its own. A
segment's test is one of a family corrected by Holm's method, whose most
stringent step compares the smallest p-value with ``alpha / m`` for ``m``
segments; planning each segment at ``alpha / m`` (Bonferroni's level) keeps its
power whichever step its p-value lands on. A segment whose customers, split as
planned, fall short of that is too small to test on its own; for it the plan
gives the lift it could detect.
"""

from __future__ import annotations

from ..errors import ParameterError
from . import stats as st

__all__ = ["plan_campaign"]


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (low < value < high):
        raise ParameterError(f"--{name} must be between {low} and {high} (exclusive), "
                             f"got {value!r}")


def plan_campaign(segments: list[dict], *, baseline: float, mde: float, power: float = 0.8,
                  alpha: float = 0.05, treatment_share: float = 0.5) -> dict:
    """Customers needed per arm, overall and per segment.

    Parameters
    ----------
    segments : list of dict
        ``{"segment", "segment_name", "size"}`` per segment of the run.
    baseline : float
        The control's expected conversion rate, e.g. 0.05.
    mde : float
        The smallest absolute lift worth detecting, e.g. 0.01 (one point).
    power, alpha : float
        Power and two-sided level.
    treatment_share : float
        The treatment's share of the customers (``--split 50/50`` gives 0.5).

    Returns
    -------
    dict
        ``overall`` ``{treatment, control, total}``, ``segments`` (each with the
        customers needed per arm at ``alpha / m``, its size, ``too_small`` and
        the lift it could detect with all its customers), ``alpha_per_segment``
        and ``too_small`` (the segment ids).

    Raises
    ------
    ParameterError
        A rate, power or level outside (0, 1), or ``baseline + mde`` above 1.
    """
    for name, value in (("baseline", baseline), ("power", power), ("alpha", alpha)):
        _check(name, value, 0.0, 1.0)
    _check("mde", mde, 0.0, 1.0 - baseline)
    if not 0.0 < treatment_share < 1.0:
        raise ParameterError(f"--split must give both arms a share, got treatment share "
                             f"{treatment_share!r}", fix="e.g. --split 50/50")
    ratio = treatment_share / (1 - treatment_share)
    nt, nc = st.sample_size(baseline, mde, alpha=alpha, power=power, ratio=ratio)
    m = max(1, len(segments))
    alpha_seg = alpha / m
    st_, sc = st.sample_size(baseline, mde, alpha=alpha_seg, power=power, ratio=ratio)
    rows = []
    for s in segments:
        size = int(s["size"])
        have_t, have_c = size * treatment_share, size * (1 - treatment_share)
        could = st.mde(baseline, have_t, have_c, alpha=alpha_seg, power=power)
        rows.append({"segment": int(s["segment"]), "segment_name": s["segment_name"],
                     "size": size, "needed": {"treatment": st_, "control": sc, "total": st_ + sc},
                     "too_small": bool(have_t < st_ or have_c < sc),
                     "detectable_lift": None if could != could else float(could)})
    return {
        "baseline": baseline, "mde": mde, "power": power, "alpha": alpha,
        "split": {"treatment": treatment_share, "control": 1 - treatment_share},
        "overall": {"treatment": nt, "control": nc, "total": nt + nc},
        "alpha_per_segment": alpha_seg,
        "segments": rows,
        "too_small": [r["segment"] for r in rows if r["too_small"]],
        "method": "two-sided test of two proportions, normal approximation on Cohen's arcsine "
                  "effect size h; per segment at alpha / number of segments (Holm's first "
                  "step)",
    }
