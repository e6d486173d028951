"""A campaign's results by segment: from one row per customer to the tables of campaign.json.

:func:`cell_table` aggregates the customers (``segment``, ``arm``, ``outcome``
and optionally ``revenue``) into counts, sums and variances per segment and arm
with DuckDB: every test needs only those, so ten million customers cost one
scan. :func:`revenue_samples` draws the stated sample the bootstrap intervals are
computed on. :func:`analyze_cells` computes, for the whole campaign and every
segment, the comparisons of each treatment arm with the control
(:mod:`custseg.campaign.stats`), the corrections across segments, the
interaction test and the split checks, and :mod:`custseg.campaign.summary` words
them. Pure: DataFrames in, plain dicts out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import stats as st

__all__ = ["CampaignOptions", "cell_table", "revenue_samples", "analyze_cells", "BOOT_SAMPLE"]

#: customers per segment and arm the bootstrap resamples at most (a uniform random sample)
BOOT_SAMPLE = 2_000
#: bootstrap resamples
N_BOOT = 1_000


@dataclass
class CampaignOptions:
    """The choices of an analysis: arms, planned split, levels, seed."""

    control: str
    treatments: list[str]
    split: dict[str, float]
    alpha: float = 0.05
    power: float = 0.8
    seed: int = 0
    revenue: bool = False
    boot_sample: int = BOOT_SAMPLE
    n_boot: int = N_BOOT
    names: dict[int, str] = field(default_factory=dict)

    @property
    def arms(self) -> list[str]:
        return [*self.treatments, self.control]


def cell_table(frame: pd.DataFrame, *, revenue: bool = False) -> pd.DataFrame:
    """Customers, conversions and revenue statistics per ``segment`` and ``arm``.

    Columns: ``segment``, ``arm``, ``n``, ``conversions`` and, with ``revenue``,
    ``revenue_sum``, ``revenue_mean``, ``revenue_var`` (sample variance); also
    the rows of ``segment`` -1, the whole campaign per arm. Counts come from one
    DuckDB scan; the revenue moments are summed by numpy in row order (two
    passes), because floating-point sums split over threads are not the same to
    the last bit from one run to the next.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("results", frame[["segment", "arm", "outcome"]])
        sql = ("SELECT CAST(segment AS BIGINT) AS segment, arm, count(*) AS n, "
               "sum(outcome)::BIGINT AS conversions FROM results "
               "GROUP BY GROUPING SETS ((segment, arm), (arm)) ORDER BY 1 NULLS FIRST, 2")
        cells = con.execute(sql).df()
    finally:
        con.close()
    cells["segment"] = cells["segment"].fillna(-1).astype(np.int64)
    cells["arm"] = cells["arm"].astype(str)
    if revenue:
        cells = pd.concat([cells, _revenue_moments(frame, cells)], axis=1)
    return cells


def _revenue_moments(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Sum, mean and sample variance of ``revenue`` for each row of ``cells``."""
    arm_codes, arms = pd.factorize(frame["arm"].astype(str), sort=True)
    seg_codes, segs = pd.factorize(frame["segment"].to_numpy(), sort=True)
    rev = frame["revenue"].to_numpy(dtype=float)
    out = {k: np.full(len(cells), np.nan) for k in ("revenue_sum", "revenue_mean", "revenue_var")}
    for codes, n_groups, key in (
            (seg_codes * len(arms) + arm_codes, len(segs) * len(arms),
             lambda s, a: (list(segs).index(s) * len(arms) + list(arms).index(a)) if s >= 0
             else None),
            (arm_codes, len(arms), lambda s, a: list(arms).index(a) if s < 0 else None)):
        n = np.bincount(codes, minlength=n_groups)
        total = np.bincount(codes, weights=rev, minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / n
            var = np.bincount(codes, weights=(rev - mean[codes]) ** 2,
                              minlength=n_groups) / (n - 1)
        for i, (s, a) in enumerate(zip(cells["segment"], cells["arm"], strict=True)):
            j = key(s, a)
            if j is not None:
                out["revenue_sum"][i], out["revenue_mean"][i] = total[j], mean[j]
                out["revenue_var"][i] = var[j] if n[j] > 1 else np.nan
    return pd.DataFrame(out, index=cells.index)


def revenue_samples(frame: pd.DataFrame, *, cap: int = BOOT_SAMPLE, seed: int = 0
                    ) -> dict[tuple[int, str], np.ndarray]:
    """A uniform random sample of about ``cap`` revenues per (segment, arm) and per arm
    overall (segment -1): each customer is kept with probability ``cap / size of its
    group``, by a ``numpy.random.Generator(PCG64(seed))``."""
    rng = np.random.default_rng(seed)
    arm_codes, arms = pd.factorize(frame["arm"].astype(str), sort=True)
    seg_codes, segs = pd.factorize(frame["segment"].to_numpy(), sort=True)
    rev = frame["revenue"].to_numpy(dtype=float)
    u = rng.random(len(frame))
    out: dict[tuple[int, str], np.ndarray] = {}
    cell_labels = [(int(s), str(a)) for s in segs for a in arms]
    for codes, labels in ((seg_codes * len(arms) + arm_codes, cell_labels),
                          (arm_codes, [(-1, str(a)) for a in arms])):
        sizes = np.bincount(codes, minlength=len(labels))
        keep = u < np.minimum(1.0, cap / np.maximum(sizes, 1))[codes]
        kept = codes[keep]
        order = np.argsort(kept, kind="stable")
        values = rev[keep][order]
        bounds = np.searchsorted(kept[order], np.arange(len(labels) + 1))
        for i, key in enumerate(labels):
            out[key] = values[bounds[i]:bounds[i + 1]]
    return out


def _num(x) -> float | None:
    """A finite float, else None (JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _compare(c: dict, t: dict, opts: CampaignOptions) -> dict:
    """One comparison (treatment cell ``t`` against control cell ``c``) without corrections."""
    nt, nc, xt, xc = t["n"], c["n"], t["conversions"], c["conversions"]
    low, high = st.newcombe_interval(xt, nt, xc, nc, alpha=opts.alpha)
    wt = st.wilson_interval(xt, nt, alpha=opts.alpha)
    wc = st.wilson_interval(xc, nc, alpha=opts.alpha)
    z, p = st.score_test(xt, nt, xc, nc)
    rt = xt / nt if nt else float("nan")
    rc = xc / nc if nc else float("nan")
    lift = rt - rc
    out = {
        "n": {"treatment": int(nt), "control": int(nc)},
        "conversions": {"treatment": int(xt), "control": int(xc)},
        "rate": {"treatment": _num(rt), "control": _num(rc)},
        "rate_ci": {"treatment": [_num(wt[0]), _num(wt[1])],
                    "control": [_num(wc[0]), _num(wc[1])]},
        "lift": _num(lift),
        "ci": [_num(low), _num(high)],
        "relative_lift": _num(lift / rc) if rc and math.isfinite(rc) else None,
        "z": _num(z),
        "p_value": _num(p),
        "mde": _num(st.mde(rc if math.isfinite(rc) else 0.0, nt, nc, alpha=opts.alpha,
                           power=opts.power)),
    }
    return out


def _revenue(c: dict, t: dict, samples: dict, key_c, key_t, opts: CampaignOptions,
             seed: int) -> dict:
    low, high, p = st.welch_interval(t["revenue_mean"], t["revenue_var"], t["n"],
                                     c["revenue_mean"], c["revenue_var"], c["n"],
                                     alpha=opts.alpha)
    bt, bc = samples.get(key_t, np.empty(0)), samples.get(key_c, np.empty(0))
    blow, bhigh = st.bootstrap_interval(bt, bc, n_boot=opts.n_boot, seed=seed, alpha=opts.alpha)
    return {
        "per_customer": {"treatment": _num(t["revenue_mean"]), "control": _num(c["revenue_mean"])},
        "total": {"treatment": _num(t["revenue_sum"]), "control": _num(c["revenue_sum"])},
        "difference": _num(t["revenue_mean"] - c["revenue_mean"]),
        "ci_welch": [_num(low), _num(high)],
        "p_welch": _num(p),
        "ci_bootstrap": [_num(blow), _num(bhigh)],
        "bootstrap_sample": {"treatment": int(bt.size), "control": int(bc.size)},
    }


def _srm(counts: list[int], opts: CampaignOptions) -> dict:
    stat, p = st.srm_test([counts], [opts.split[a] for a in opts.arms])
    p0 = _num(p[0])
    return {"statistic": _num(stat[0]), "p_value": p0,
            "mismatch": bool(p0 is not None and p0 < st.SRM_ALPHA),
            "n": {a: int(n) for a, n in zip(opts.arms, counts, strict=True)},
            "expected_share": {a: opts.split[a] for a in opts.arms}}


def analyze_cells(cells: pd.DataFrame, opts: CampaignOptions,
                  samples: dict | None = None) -> dict:
    """The whole campaign and every segment: comparisons, corrections, checks.

    Parameters
    ----------
    cells : DataFrame
        :func:`cell_table`'s output (segment -1 is the whole campaign).
    opts : CampaignOptions
        The arms, the planned split, the levels.
    samples : dict, optional
        :func:`revenue_samples`' output, for the bootstrap intervals.

    Returns
    -------
    dict
        ``overall`` and ``segments`` (one per segment with customers, by id),
        each a comparison of the first treatment arm with the control (``n``,
        ``rate``, ``lift``, ``ci``, ``relative_lift``, ``p_value``, ``mde``, ``srm``,
        ``revenue``), segments also ``p_holm`` and ``p_bh``; with several
        treatment arms every comparison is in ``comparisons``. ``interaction``
        and ``family`` (the comparisons the corrections are over).
    """
    samples = samples or {}
    index = {(int(r.segment), str(r.arm)): r._asdict() for r in cells.itertuples(index=False)}
    empty = {"n": 0, "conversions": 0, "revenue_sum": 0.0, "revenue_mean": float("nan"),
             "revenue_var": float("nan")}
    segment_ids = sorted({s for s, _ in index if s >= 0})

    def block(seg: int) -> dict:
        got = {a: index.get((seg, a), empty) for a in opts.arms}
        comps = []
        for j, arm in enumerate(opts.treatments):
            comp = {"arm": arm, **_compare(got[opts.control], got[arm], opts)}
            if opts.revenue:
                comp["revenue"] = _revenue(got[opts.control], got[arm], samples,
                                           (seg, opts.control), (seg, arm), opts,
                                           seed=opts.seed + 7919 * (seg + 1) + j)
            comps.append(comp)
        entry = {k: v for k, v in comps[0].items() if k != "arm"}
        entry["srm"] = _srm([got[a]["n"] for a in opts.arms], opts)
        if len(comps) > 1:
            entry["comparisons"] = comps
        return entry, comps

    overall, _ = block(-1)
    segments, family = [], []
    for seg in segment_ids:
        entry, comps = block(seg)
        segments.append({"segment": seg, "segment_name": opts.names.get(seg, f"segment {seg}"),
                         **entry})
        family += [(len(segments) - 1, j, comp) for j, comp in enumerate(comps)]
    pvals = np.array([np.nan if c["p_value"] is None else c["p_value"] for _, _, c in family])
    holm = st.adjust_pvalues(pvals, "holm")
    bh = st.adjust_pvalues(pvals, "fdr_bh")
    for (i, j, comp), ph, pb in zip(family, holm, bh, strict=True):
        comp["p_holm"], comp["p_bh"] = _num(ph), _num(pb)
        if j == 0:
            segments[i]["p_holm"], segments[i]["p_bh"] = _num(ph), _num(pb)
    seg_cells = cells[(cells["segment"] >= 0) & cells["arm"].isin(opts.arms)]
    interaction = st.interaction_test(seg_cells["segment"].to_numpy(),
                                      seg_cells["arm"].to_numpy(),
                                      seg_cells["conversions"].to_numpy(),
                                      seg_cells["n"].to_numpy())
    return {
        "overall": overall,
        "segments": segments,
        "interaction": interaction,
        "family": {"comparisons": int(np.isfinite(pvals).sum()),
                   "untestable": int((~np.isfinite(pvals)).sum())},
    }
