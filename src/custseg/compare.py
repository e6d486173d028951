"""Compare two segmentations: label alignment, migration, size shifts, drift.

Segments of two runs are aligned by Hungarian matching of their centroids in the
OLD model's feature space (the new centroids are taken back to original units and
re-encoded with the old model's preprocessing). A pair is a match only when the
new centroid lies within the old segment's 90th-percentile distance; otherwise
the old segment *vanished* and the new one *appeared*.

Drift per feature uses the reference distributions each model stores (101
percentiles of every numeric column, shares of every category): the population
stability index (PSI) on the old model's deciles and the Kolmogorov-Smirnov
distance between the two piecewise-linear distribution functions (exact to
within the percentile grid, about 0.01).

Retrain rule (thresholds in :data:`THRESHOLDS`): **retrain** when any feature's
PSI exceeds 0.25, a segment appeared or vanished, more than 30% of the customers
present in both runs changed segment, or more than 5% of new customers are
unfamiliar; **monitor** when any PSI exceeds 0.1 or any segment's share moved by
more than 5 points; otherwise **keep**.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .model import SegmentModel
from .spec import Spec

__all__ = ["reference_distributions", "align_segments", "compare_models", "compare_to_data",
           "psi", "THRESHOLDS", "REFERENCE_PERCENTILES"]

THRESHOLDS = {
    "psi_retrain": 0.25,
    "psi_monitor": 0.10,
    "migration_retrain": 0.30,
    "unfamiliar_retrain": 0.05,
    "share_shift_monitor": 0.05,
    "match_quantile": "0.9",
}
_EPS = 1e-4
#: the probabilities of the 101 percentiles kept per numeric column as a model's reference
REFERENCE_PERCENTILES = np.linspace(0.0, 1.0, 101)


def reference_distributions(data: pd.DataFrame, spec: Spec) -> dict:
    """Per used column: 101 percentiles (numeric) or category shares (categorical)."""
    from .profile import factorize

    ref: dict = {}
    for name in spec.used:
        if spec.columns[name].kind == "numeric":
            v = data[name].to_numpy(dtype=float)
            ref[name] = {"kind": "numeric", "n": int(v.size),
                         "percentiles": [float(x) for x in _quantiles(v, REFERENCE_PERCENTILES)]}
        else:
            codes, values = factorize(data[name])
            counts = np.bincount(codes[codes >= 0], minlength=len(values))
            n = len(codes)
            shares = {str(c): float(m / n) for c, m in zip(values, counts, strict=True) if m}
            ref[name] = {"kind": "categorical", "n": int(n),
                         "shares": {c: shares[c] for c in sorted(shares)}}
    return ref


def _quantiles(v: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile(v, probs)`` (linear interpolation) from one sort, fast for many probs."""
    if v.size == 0 or np.isnan(v).any():
        return np.quantile(v, probs)
    s = np.sort(v)
    pos = probs * (s.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.size - 1)
    frac = pos - lo
    return s[lo] + (s[hi] - s[lo]) * frac


# ------------------------------------------------------------------ drift
def _cdf(percentiles: list[float], x: np.ndarray) -> np.ndarray:
    """Piecewise-linear distribution function through the percentile points.

    Where several percentiles share a value (a point mass), the function jumps
    there to the highest of their probabilities.
    """
    p = np.asarray(percentiles, dtype=float)
    xs = np.unique(p)
    probs = REFERENCE_PERCENTILES[np.searchsorted(p, xs, side="right") - 1]
    return np.interp(x, xs, probs, left=0.0, right=1.0)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors (zero shares floored at 1e-4)."""
    e = np.maximum(np.asarray(expected, dtype=float), _EPS)
    a = np.maximum(np.asarray(actual, dtype=float), _EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_drift(old: dict, new: dict) -> dict:
    inner = np.unique(np.asarray(old["percentiles"], dtype=float)[::10])[1:-1]

    def shares(ref):
        return np.diff(np.concatenate([[0.0], _cdf(ref["percentiles"], inner), [1.0]]))

    pts = np.union1d(np.asarray(old["percentiles"]), np.asarray(new["percentiles"]))
    ks = float(np.max(np.abs(_cdf(old["percentiles"], pts) - _cdf(new["percentiles"], pts))))
    return {"kind": "numeric", "psi": psi(shares(old), shares(new)), "ks": ks,
            "old_median": float(old["percentiles"][50]), "new_median": float(new["percentiles"][50])}


def _categorical_drift(old: dict, new: dict) -> dict:
    levels = sorted(set(old["shares"]) | set(new["shares"]))
    o = np.array([old["shares"].get(c, 0.0) for c in levels])
    n = np.array([new["shares"].get(c, 0.0) for c in levels])
    change = n - o
    i = int(np.argmax(np.abs(change)))
    return {"kind": "categorical", "psi": psi(o, n), "ks": None,
            "largest_change": {"code": levels[i], "old_share": float(o[i]),
                               "new_share": float(n[i])},
            "new_levels": [c for c in levels if c not in old["shares"]]}


def feature_drift(old_ref: dict, new_ref: dict) -> dict:
    out = {}
    for name, o in old_ref.items():
        n = new_ref.get(name)
        if n is None or n.get("kind") != o.get("kind"):
            continue
        if o["kind"] == "numeric":
            if "percentiles" not in o or "percentiles" not in n:
                continue
            out[name] = _numeric_drift(o, n)
        else:
            out[name] = _categorical_drift(o, n)
        p = out[name]["psi"]
        out[name]["verdict"] = ("major shift" if p > THRESHOLDS["psi_retrain"] else
                                "moderate shift" if p > THRESHOLDS["psi_monitor"] else "stable")
    return out


# -------------------------------------------------------------- alignment
def _centers_in_space(model: SegmentModel, target: SegmentModel) -> np.ndarray:
    """``model``'s centroids re-encoded in ``target``'s feature space."""
    fm, ft = model.features, target.features
    C = model.centers * fm.scale_ + fm.mean_  # raw (log-transformed, one-hot) coordinates
    pos = {}
    j = 0
    for name in fm.columns_:
        width = len(fm.levels_[name]) if name in fm.levels_ else 1
        pos[name] = (j, width)
        j += width
    cols = []
    for name in ft.columns_:
        if name in ft.levels_:
            for lvl in ft.levels_[name]:
                if name in fm.levels_ and lvl in fm.levels_[name]:
                    start, _ = pos[name]
                    cols.append(C[:, start + fm.levels_[name].index(lvl)])
                else:
                    cols.append(np.zeros(model.k))
        else:
            if name in pos and name not in fm.levels_:
                v = C[:, pos[name][0]]
                units = np.expm1(v) if fm.log_[name] else v
            else:
                units = np.full(model.k, np.nan)
            cols.append(np.log1p(np.maximum(units, 0)) if ft.log_[name] else units)
    raw = np.column_stack(cols)
    return (raw - ft.mean_) / ft.scale_


def align_segments(old: SegmentModel, new: SegmentModel) -> dict:
    """Hungarian matching of new segments to old ones; see the module docstring."""
    Cn = _centers_in_space(new, old)
    if np.isnan(Cn).any():
        missing = [c for c in old.features.columns_ if c not in new.features.columns_]
        return {"comparable": False, "matches": [], "vanished": list(range(old.k)),
                "appeared": list(range(new.k)),
                "note": f"the new model does not cluster on {', '.join(missing)}"}
    D = np.sqrt(((old.centers[:, None, :] - Cn[None, :, :]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(D)
    q = THRESHOLDS["match_quantile"]
    matches, vanished, appeared = [], [], []
    matched_new = set()
    for i, j in zip(rows, cols, strict=True):
        limit = old.distance_quantiles[i][q]
        if D[i, j] <= limit:
            matches.append({"old": int(i), "new": int(j), "old_name": old.names[i],
                            "new_name": new.names[j], "centroid_shift": float(D[i, j]),
                            "threshold": float(limit)})
            matched_new.add(int(j))
        else:
            vanished.append(int(i))
    vanished += [i for i in range(old.k) if i not in set(rows.tolist())]
    appeared = [j for j in range(new.k) if j not in matched_new]
    return {"comparable": True, "matches": matches, "vanished": sorted(vanished),
            "appeared": appeared, "distances": [[float(x) for x in r] for r in D]}


# ------------------------------------------------------------- comparison
def _verdict(drift: dict, alignment: dict, migration_share: float | None,
             unfamiliar_share: float | None, shifts: list[dict]) -> dict:
    reasons_retrain, reasons_monitor = [], []
    for name, d in drift.items():
        if d["psi"] > THRESHOLDS["psi_retrain"]:
            reasons_retrain.append(f"{name} shifted (PSI {d['psi']:.2f} > "
                                   f"{THRESHOLDS['psi_retrain']})")
        elif d["psi"] > THRESHOLDS["psi_monitor"]:
            reasons_monitor.append(f"{name} moved (PSI {d['psi']:.2f} > "
                                   f"{THRESHOLDS['psi_monitor']})")
    if alignment["vanished"]:
        reasons_retrain.append(f"segment(s) {alignment['vanished']} of the old run have no match")
    if alignment["appeared"]:
        reasons_retrain.append(f"segment(s) {alignment['appeared']} of the new run are new")
    if migration_share is not None and migration_share > THRESHOLDS["migration_retrain"]:
        reasons_retrain.append(f"{migration_share:.0%} of customers changed segment (> "
                               f"{THRESHOLDS['migration_retrain']:.0%})")
    if unfamiliar_share is not None and unfamiliar_share > THRESHOLDS["unfamiliar_retrain"]:
        reasons_retrain.append(f"{unfamiliar_share:.1%} of customers are unfamiliar (> "
                               f"{THRESHOLDS['unfamiliar_retrain']:.0%})")
    for s in shifts:
        if s["new_share"] is not None and abs(s["change"]) > THRESHOLDS["share_shift_monitor"]:
            reasons_monitor.append(f"segment {s['old']} ({s['name']}) share moved "
                                   f"{s['change']:+.1%}")
    if reasons_retrain:
        action = "retrain"
    elif reasons_monitor:
        action = "monitor"
    else:
        action = "keep"
    return {"action": action, "reasons": reasons_retrain + reasons_monitor,
            "thresholds": dict(THRESHOLDS)}


def _old_shares(model: SegmentModel) -> np.ndarray:
    sizes = np.asarray(model.info.get("training", {}).get("sizes", [0] * model.k), dtype=float)
    return sizes / max(sizes.sum(), 1)


def compare_models(old: SegmentModel, new: SegmentModel, old_segments: pd.DataFrame | None = None,
                   new_segments: pd.DataFrame | None = None) -> dict:
    """Compare two fitted runs (models, and their segments tables when available)."""
    alignment = align_segments(old, new)
    new_of_old = {m["old"]: m["new"] for m in alignment["matches"]}
    old_sh, new_sh = _old_shares(old), _old_shares(new)
    shifts = []
    for i in range(old.k):
        j = new_of_old.get(i)
        shifts.append({"old": i, "name": old.names[i], "new": j, "old_share": float(old_sh[i]),
                       "new_share": None if j is None else float(new_sh[j]),
                       "change": None if j is None else float(new_sh[j] - old_sh[i])})
    migration = None
    migration_share = None
    id_col = old.spec.id
    if (old_segments is not None and new_segments is not None and id_col
            and id_col in old_segments and id_col in new_segments):
        both = old_segments[[id_col, "segment"]].merge(new_segments[[id_col, "segment"]],
                                                       on=id_col, suffixes=("_old", "_new"))
        matrix = pd.crosstab(both["segment_old"], both["segment_new"]).reindex(
            index=range(old.k), columns=range(new.k), fill_value=0)
        stayed = sum(int(matrix.loc[i, j]) for i, j in new_of_old.items())
        n_both = int(len(both))
        migration_share = 1.0 - stayed / n_both if n_both else None
        migration = {"customers_in_both": n_both,
                     "only_old": int(len(old_segments) - n_both),
                     "only_new": int(len(new_segments) - n_both),
                     "matrix": matrix.to_numpy().astype(int).tolist(),
                     "stayed_share": None if not n_both else stayed / n_both,
                     "moved_share": migration_share}
    drift = feature_drift(old.info.get("reference", {}), new.info.get("reference", {}))
    return {"kind": "run-vs-run", "old_k": old.k, "new_k": new.k, "alignment": alignment,
            "size_shifts": shifts, "migration": migration,
            "migration_note": None if migration else
            "migration needs an id column present in both runs' segments",
            "drift": drift, "recommendation": _verdict(drift, alignment, migration_share, None,
                                                       shifts)}


def compare_to_data(old: SegmentModel, df: pd.DataFrame) -> dict:
    """Compare a fitted model with new data: where the new customers land, and drift."""
    assigned, warnings = old.assign(df)
    seg = assigned["segment"].to_numpy()
    ok = seg >= 0
    counts = np.bincount(seg[ok], minlength=old.k)
    new_sh = counts / max(ok.sum(), 1)
    old_sh = _old_shares(old)
    shifts = [{"old": i, "name": old.names[i], "new": i, "old_share": float(old_sh[i]),
               "new_share": float(new_sh[i]), "change": float(new_sh[i] - old_sh[i])}
              for i in range(old.k)]
    from .validate import validate

    spec = old.spec
    df, _ = old.with_derived(df)  # (its warnings came with the assignment above)
    cols = [c for c in spec.used if c in old.features.columns_ or c in df.columns]
    checked = validate(df, spec, mode="assign", required=cols)
    data = old.features.impute(checked.frame.loc[~checked.drop])
    sub = Spec(columns={c: spec.columns[c] for c in cols}, cluster_on=cols, describe=[])
    drift = feature_drift(old.info.get("reference", {}), reference_distributions(data, sub))
    unfamiliar_share = float(assigned["unfamiliar"].mean()) if len(assigned) else 0.0
    alignment = {"comparable": True, "matches": [], "vanished": [], "appeared": []}
    return {"kind": "model-vs-data", "old_k": old.k, "rows": int(len(df)),
            "size_shifts": shifts, "unfamiliar_share": unfamiliar_share,
            "warnings": [w.to_dict() for w in warnings], "drift": drift,
            "migration": None, "migration_note": "new data has no earlier segments to migrate from",
            "alignment": alignment,
            "recommendation": _verdict(drift, alignment, None, unfamiliar_share, shifts)}
