"""The answers of a run as data: ``analysis.json``, from which the report is rendered.

:func:`build_analysis` is pure: it takes the fitted segmenter and the customer
data and returns a plain JSON-safe dict (exploration, the two marketing
questions, the choice of k, segments with recommendations, warnings, methods and
the data behind every chart).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import dendrogram

from . import __version__
from .questions import answer_questions_one_thread
from .recommend import NOTE, cell_recommendations, rules_from_spec, segment_recommendations
from .segmenter import CustomerSegmenter

__all__ = ["build_analysis", "partial_analysis", "SCATTER_MAX", "PCA_MAX"]

SCATTER_MAX = 50_000
PCA_MAX = 5_000
DENDRO_LEAVES = 30


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _dendrogram_chart(seg: CustomerSegmenter) -> dict | None:
    Z = seg.ward_.linkage
    if Z.shape[0] < 1:
        return None
    p = min(DENDRO_LEAVES, Z.shape[0] + 1)
    d = dendrogram(Z, truncate_mode="lastp", p=p, no_plot=True)
    k = seg.k_
    cut = None
    if 2 <= k <= Z.shape[0]:
        cut = float((Z[-(k - 1), 2] + Z[-k, 2]) / 2)
    return {"icoord": [[float(x) for x in row] for row in d["icoord"]],
            "dcoord": [[float(x) for x in row] for row in d["dcoord"]],
            "leaf_labels": [str(x) for x in d["ivl"]], "cut_height": cut,
            "method": seg.ward_.method}


def _selection_section(seg: CustomerSegmenter) -> dict:
    return {"rows": [{**r, "chosen": r["k"] == seg.k_} for r in seg.selection_],
            "k": int(seg.k_), "k_reason": seg.k_reason_,
            "picks": dict(seg.criteria_picks_),
            "sample_size": int(seg.selection_sample_size_),
            "silhouette_sample_size": int(seg.silhouette_sample_size_),
            "ward_method": seg.ward_.method}


def partial_analysis(seg: CustomerSegmenter, questions: dict | None = None) -> dict:
    """The parts of :func:`build_analysis`'s dict known once the final fit is done.

    ``selection`` and the dendrogram chart, and, given the :func:`answer_questions`
    of the run, ``associations`` and the crosstab chart: the same keys and values
    the whole analysis will hold, so their figures can be drawn before it is built.
    """
    part: dict = {"selection": _selection_section(seg),
                  "charts": {"dendrogram": _dendrogram_chart(seg)}}
    if questions is not None:
        part["associations"] = questions["associations"]
        part["charts"]["crosstab"] = questions["crosstab"]
    return part


def _pca_chart(Z: np.ndarray, labels: np.ndarray, centers: np.ndarray, seed: int,
               aggregate_only: bool) -> dict | None:
    if Z.shape[1] < 2:
        return None
    rows = _sample(Z.shape[0], 100_000, seed)
    X = Z[rows]
    mean = X.mean(0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = vt[:2]
    # fix the sign of each component (largest loading positive) for reproducibility
    comps *= np.sign(comps[np.arange(2), np.abs(comps).argmax(1)])[:, None]
    var = s ** 2
    explained = [float(v) for v in var[:2] / var.sum()] if var.sum() > 0 else [0.0, 0.0]
    points = None
    if not aggregate_only:
        pick = _sample(Z.shape[0], PCA_MAX, seed + 1)
        P = (Z[pick] - mean) @ comps.T
        points = [[round(float(a), 4), round(float(b), 4), int(c)]
                  for a, b, c in zip(P[:, 0], P[:, 1], labels[pick], strict=True)]
    C = (centers - mean) @ comps.T
    return {"explained": explained, "points": points,
            "centers": [[round(float(a), 4), round(float(b), 4)] for a, b in C]}


def _profile_chart(segments: list[dict]) -> dict:
    features, kinds = [], []
    first = segments[0]
    for col in first["z"]:
        features.append(col)
        kinds.append("z")
    for col, levels in first["categorical"].items():
        for lvl in levels:
            features.append(f"{col}={lvl['label']}")
            kinds.append("lift")
    matrix = []
    for s in segments:
        row = [round(s["z"][c], 4) for c in first["z"]]
        for levels in s["categorical"].values():
            row += [round(lvl["lift"] - 1.0, 4) for lvl in levels]
        matrix.append(row)
    return {"segments": [s["name"] for s in segments], "features": features, "kinds": kinds,
            "z": matrix}


def _traits(profile: dict, overall: dict, spec) -> list[str]:
    """Plain facts behind a segment's name: medians against everyone, top category lifts."""
    out = []
    for col, stats in profile["numeric"].items():
        z = profile["z"].get(col)
        if z is None or abs(z) < 0.5 or col not in overall:
            continue
        out.append(f"median {col} {_num(stats['median'])} vs {_num(overall[col])} overall")
    for col, levels in profile["categorical"].items():
        best = max(levels, key=lambda lvl: lvl["lift"], default=None)
        if best and best["lift"] >= 1.5 and best["share"] >= 0.2:
            out.append(f"{best['share']:.0%} {spec.columns[col].label(best['code'])} "
                       f"({best['lift']:.1f}x the overall share)")
    return out or ["close to the average customer on every clustering column"]


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")


def build_analysis(seg: CustomerSegmenter, data: pd.DataFrame, Z: np.ndarray, manifest: dict, *,
                   aggregate_only: bool = False, synthetic: bool = False,
                   title: str = "Customer segmentation", questions: dict | None = None) -> dict:
    """The analysis of a fitted run.

    Parameters
    ----------
    seg : CustomerSegmenter
        Fitted.
    data : DataFrame
        The used columns with empty cells filled, rows as segmented (same order as
        ``seg.labels_``).
    Z : ndarray
        The feature matrix the clustering saw.
    manifest : dict
        The run's manifest (warnings, selection sample sizes).
    aggregate_only : bool
        Leave every customer-level value out (no scatter or projection points, no
        example rows).
    questions : dict, optional
        :func:`custseg.questions.answer_questions_one_thread` of the same spec,
        data and seed, if already computed; else it is computed here.
    """
    spec = seg.spec_
    seed = int(seg.random_state)
    labels = seg.labels_
    numeric = spec.numeric(spec.used)
    value_cols = [c for c in spec.numeric(spec.with_role("value")) if c in numeric]
    eng_cols = [c for c in spec.numeric(spec.with_role("engagement")) if c in numeric]
    if questions is None:
        questions = answer_questions_one_thread(spec, data, seed)
    q1, q2 = questions["question1"], questions["question2"]
    assoc, summary = questions["associations"], questions["summary"]
    tests_sample, overall = questions["tests_sample"], questions["overall"]

    rules = rules_from_spec(spec.recommendations)
    segments = []
    for p in seg.profiles_:
        s = dict(p)
        s["traits"] = _traits(p, overall, spec)
        segments.append(s)
    seg_recs = segment_recommendations(
        segments, value_cols[0] if value_cols else None, eng_cols[0] if eng_cols else None, rules,
        engagement_better=spec.columns[eng_cols[0]].better if eng_cols else "higher")
    for s in segments:
        s["recommendations"] = [r for r in seg_recs if r["segment"] == s["segment"]]
    cell_recs = cell_recommendations(q1, q2, value_cols, rules)

    # key findings
    findings = []
    largest = segments[0]
    findings.append(f"{seg.k_} segments; the largest, \u201c{largest['name']}\u201d, holds "
                    f"{largest['share']:.0%} of customers.")
    if value_cols:
        v = value_cols[0]
        top = max(segments, key=lambda s: s["value_share"].get(v, 0) / max(s["share"], 1e-12))
        findings.append(f"\u201c{top['name']}\u201d holds {top['value_share'][v]:.0%} of {v} "
                        f"with {top['share']:.0%} of customers.")
    for q in q1:
        if q.get("verdict"):
            findings.append(q["verdict"])
    for q in q2:
        if q.get("verdict"):
            findings.append(q["verdict"])
    if manifest.get("warnings"):
        codes = sorted({w["code"] for w in manifest["warnings"]})
        n_w = len(manifest["warnings"])
        findings.append(f"{n_w} {'warning' if n_w == 1 else 'warnings'} to read "
                        f"({', '.join(codes)}).")

    charts: dict = {}
    x = eng_cols[0] if eng_cols else (numeric[0] if numeric else None)
    y = value_cols[0] if value_cols else (numeric[1] if len(numeric) > 1 else None)
    if aggregate_only or x is None or y is None or x == y:
        charts["scatter"] = None
    else:
        pick = _sample(len(data), SCATTER_MAX, seed + 2)
        xs = data[x].to_numpy(dtype=float)[pick].tolist()
        ys = data[y].to_numpy(dtype=float)[pick].tolist()
        charts["scatter"] = {"x": x, "y": y, "x_label": x, "y_label": y,
                             "sampled": bool(len(pick) < len(data)), "n_total": int(len(data)),
                             "points": list(map(list, zip(xs, ys, labels[pick].tolist(),
                                                          strict=True)))}
    charts["dendrogram"] = _dendrogram_chart(seg)
    charts["pca"] = _pca_chart(Z, labels, seg.cluster_centers_, seed, aggregate_only)
    charts["profile"] = _profile_chart(segments)
    charts["crosstab"] = questions["crosstab"]

    problems = [dict(p) for p in seg.problems_]
    if aggregate_only:
        for p in problems:
            p["rows"] = []
    warnings = [w for w in manifest.get("warnings", [])]
    if aggregate_only:
        warnings = [{k: v for k, v in w.items() if k != "rows"} for w in warnings]

    methods = [
        "Validation against the data dictionary; every problem reported at once.",
        "Preprocessing: empty cells filled by each column's policy; log1p for heavy-tailed "
        "columns where configured; one-hot encoding of categorical columns; standard scaling.",
        f"Clustering: {seg.algorithm} with {seg.n_init} k-means++ initialisations per fit "
        f"(best kept), seed {seed}.",
        "Choice of k: the criteria vote (elbow of the within-cluster sum of squares by "
        "Kneedle, best silhouette, highest Calinski-Harabasz, lowest Davies-Bouldin, the gap "
        "statistic's standard-error rule, bootstrap stability, and BIC for mixtures); "
        f"silhouette on {seg.silhouette_sample_size_:,} rows (exact up to "
        f"{seg.silhouette_max:,} rows, a fixed-seed sample above); "
        f"k chosen on {seg.selection_sample_size_:,} rows"
        + (f"; {'fast' if seg.fast_ else 'exact'} path"
           + (f", k-means++ starts on {seg.start_sample_size_:,} rows refined on all"
              if getattr(seg, 'start_sample_size_', None) else "")
           if hasattr(seg, "fast_") else "") + ".",
        f"Ward hierarchy: {seg.ward_.method}"
        + (" (k-means micro-clusters, then Ward on their size-weighted centroids)"
           if seg.ward_.method == "two-stage" else "") + ".",
        "Associations: Pearson and Spearman for numeric pairs, correlation ratio (eta) with "
        "Kruskal-Wallis for categorical x numeric, bias-corrected Cramer's V with chi-square "
        "for categorical pairs; never a correlation of category codes; p-values Holm-adjusted.",
        "Question 1: per level n, mean and median with 95% confidence intervals (percentile "
        "bootstrap up to 50,000 rows per level, analytic and order-statistic intervals "
        "beyond); Kruskal-Wallis and Welch's ANOVA with effect sizes; pairwise Mann-Whitney "
        "tests with Holm correction.",
        "Question 2: crosstab with Wilson 95% intervals, chi-square test with Cramer's V and "
        "adjusted standardised residuals (Holm-adjusted).",
        *([f"Questions 1 and 2 and the associations use a fixed-seed random sample of "
           f"{tests_sample['rows']:,} of the {tests_sample['of']:,} customers (their "
           "p-values and intervals are those of the sample); the column summary, segments "
           "and value shares use every customer."] if tests_sample else []),
        "Segment names come from traits with |z| >= 0.5 (log1p for heavy tails) and category "
        "lifts >= 1.5.",
        NOTE,
    ]
    return {
        "title": title,
        "synthetic": bool(synthetic),
        "aggregate_only": bool(aggregate_only),
        "custseg_version": __version__,
        "overview": {"n_customers": int(len(data)), "k": int(seg.k_), "k_reason": seg.k_reason_,
                     "key_findings": findings},
        "data_quality": {"summary": summary, "problems": problems,
                         "spec_notes": list(seg.spec_notes_),
                         "transforms": list(seg.features_.notes_)},
        "associations": assoc,
        "tests_sample": tests_sample,
        "question1": q1,
        "question2": q2,
        "selection": _selection_section(seg),
        "segments": segments,
        "recommendations": {"note": NOTE, "segments": seg_recs, "cells": cell_recs},
        "warnings": warnings,
        "methods": methods,
        "charts": charts,
    }
