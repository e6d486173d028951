"""A realistic ``analysis`` dict for the report tests, built by hand.

The statistics come from the real :mod:`custseg.explore` functions run on a small
synthetic customer table (:func:`custseg.datasets.make_customers`), so their shapes
are exactly what the pipeline produces; the clustering part (selection table,
segments, Ward tree, projections) is computed here with scikit-learn and scipy
and filled in by hand in the documented schema.

``build_analysis(hostile=True)`` puts script-injection strings into a column name,
category labels, segment names, the title, a key finding, a warning and a spec
note, to check that every renderer escapes them.
"""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

from custseg.cluster.selection import choose_k
from custseg.datasets import make_customers
from custseg.explore import associations, compare_levels, group_share, summarize_columns

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "</script><script>alert(1)</script>"

REGION_LABELS = {"0": "USA/Canada/UK/Australia", "1": "Western Europe", "2": "Rest of the world"}
CHANNEL_LABELS = {"1": "Google", "2": "Facebook", "3": "YouTube", "4": "LinkedIn", "5": "Twitter",
                  "6": "Instagram", "7": "Friend", "8": "Other"}
SOCIAL = ["2", "3", "4", "5", "6"]
N_ROWS = 400
SEED = 0


def build_analysis(*, hostile: bool = False, aggregate_only: bool = False) -> dict:
    """A fresh (deep-copied) analysis dict.

    Parameters
    ----------
    hostile : bool
        Put ``XSS_IMG`` / ``XSS_SCRIPT`` into names and labels shown by the report.
    aggregate_only : bool
        No row-level data: ``charts.scatter`` is None and ``charts.pca.points`` None.
    """
    return copy.deepcopy(_build(hostile, aggregate_only))


@functools.lru_cache(maxsize=8)
def _build(hostile: bool, aggregate_only: bool) -> dict:
    with threadpool_limits(1):  # tiny data: thread start-up would dominate
        analysis = _compute(hostile, aggregate_only)
    # a JSON round trip proves the dict is JSON-safe and leaves only plain types
    return json.loads(json.dumps(analysis, allow_nan=False))


def _compute(hostile: bool, aggregate_only: bool) -> dict:
    region = "region" + XSS_SCRIPT if hostile else "region"
    region_labels = dict(REGION_LABELS)
    channel_labels = dict(CHANNEL_LABELS)
    if hostile:
        channel_labels["8"] = XSS_IMG
        region_labels["2"] = "Rest " + XSS_SCRIPT
    df = make_customers(N_ROWS, seed=SEED).rename(columns={"region": region})
    numeric = ["minutes_watched", "CLV"]
    categorical = [region, "channel"]
    labels = {region: region_labels, "channel": channel_labels}

    summary = summarize_columns(df, numeric, categorical, labels)
    assoc = associations(df, numeric, categorical)
    words = {"CLV": "CLV", "minutes_watched": "minutes watched"}
    question1 = [
        compare_levels(df, attr, target, labels=labels[attr], n_boot=300, value_word=words[target])
        for attr in categorical for target in ("CLV", "minutes_watched")
    ]
    social = df["channel"].astype(str).isin(SOCIAL)
    question2 = [
        group_share(df, region, social, group_name="social-media discovery", value="CLV",
                    labels=region_labels, value_word="CLV"),
        group_share(df, region, df["channel"].astype(str).isin(["2", "4", "5"]),
                    group_name="Facebook/LinkedIn/Twitter discovery", value="CLV",
                    labels=region_labels, value_word="CLV"),
    ]

    # ----------------------------------------------------------------- clustering
    n_missing = int(df["minutes_watched"].isna().sum())
    minutes = df["minutes_watched"].fillna(0.0).to_numpy(dtype=float)
    clv = df["CLV"].to_numpy(dtype=float)
    raw = np.column_stack([np.log1p(minutes), clv])
    X = (raw - raw.mean(0)) / raw.std(0)
    ward = linkage(X, method="ward")
    rows = []
    fits = {}
    for k in range(2, 9):
        km = KMeans(n_clusters=k, n_init=4, random_state=SEED).fit(X)
        fits[k] = km.labels_
        ward_cut = fcluster(ward, t=k, criterion="maxclust")
        rows.append({
            "k": k, "chosen": False, "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(X, km.labels_)),
            "calinski_harabasz": float(calinski_harabasz_score(X, km.labels_)),
            "davies_bouldin": float(davies_bouldin_score(X, km.labels_)),
            "ward_ari": float(adjusted_rand_score(ward_cut, km.labels_)),
        })
    k, k_reason, picks = choose_k(rows)
    for r in rows:
        r["chosen"] = r["k"] == k
    # segment 0 is the largest
    raw_labels = fits[k]
    order = np.argsort(-np.bincount(raw_labels, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    seg = relabel[raw_labels]
    sizes = np.bincount(seg, minlength=k)

    z_scale = {"minutes_watched": np.log1p(minutes), "CLV": clv}
    z = {c: [(float(v[seg == s].mean()) - v.mean()) / v.std() for s in range(k)]
         for c, v in z_scale.items()}
    values = {"minutes_watched": minutes, "CLV": clv}
    cats = {region: df[region].astype(str).to_numpy(), "channel": df["channel"].astype(str).to_numpy()}
    segments = []
    for s in range(k):
        inside = seg == s
        numeric_prof = {c: {"mean": float(v[inside].mean()), "median": float(np.median(v[inside]))}
                        for c, v in values.items()}
        cat_prof = {}
        for col, codes in cats.items():
            levels = []
            for code, label in labels[col].items():
                overall = float(np.mean(codes == code))
                share = float(np.mean(codes[inside] == code))
                levels.append({"code": code, "label": label, "share": share,
                               "lift": share / overall if overall else 0.0})
            cat_prof[col] = levels
        segments.append({
            "segment": s, "name": "", "size": int(sizes[s]), "share": float(sizes[s] / N_ROWS),
            "numeric": numeric_prof, "categorical": cat_prof,
            "value_share": {"CLV": float(clv[inside].sum() / clv.sum())},
            "z": {c: z[c][s] for c in z}, "traits": [], "recommendations": [],
        })
    _name_and_recommend(segments, np.median(clv), np.median(minutes), hostile)

    # ------------------------------------------------------------------ charts
    dendro = dendrogram(ward, truncate_mode="lastp", p=24, no_plot=True)
    heights = np.sort(ward[:, 2])
    cut = float((heights[-(k - 1)] + heights[-k]) / 2)
    pca = PCA(n_components=2, random_state=SEED).fit(X)
    pts = pca.transform(X)
    centers = [pts[seg == s].mean(0).tolist() for s in range(k)]
    features = list(numeric)
    kinds = ["z"] * len(numeric)
    for col in categorical:
        for label in labels[col].values():
            features.append(f"{col}={label}")
            kinds.append("lift")
    matrix = []
    for p in segments:
        row = [p["z"][c] for c in numeric]
        for col in categorical:
            row += [lv["lift"] - 1 for lv in p["categorical"][col]]
        matrix.append(row)
    ct = pd.crosstab(df[region].astype(str), df["channel"].astype(str))
    ct = ct.reindex(index=list(region_labels), columns=list(channel_labels), fill_value=0)
    counts = ct.to_numpy()
    shares = counts / counts.sum(axis=1, keepdims=True)

    charts = {
        "scatter": None if aggregate_only else {
            "x": "minutes_watched", "y": "CLV", "x_label": "Minutes watched", "y_label": "CLV ($)",
            "sampled": False, "n_total": N_ROWS,
            "points": [[float(a), float(b), int(c)] for a, b, c in zip(minutes, clv, seg, strict=True)],
        },
        "dendrogram": {"icoord": dendro["icoord"], "dcoord": dendro["dcoord"],
                       "leaf_labels": dendro["ivl"], "cut_height": cut, "method": "exact"},
        "pca": {"explained": pca.explained_variance_ratio_.tolist(),
                "points": None if aggregate_only else [[float(a), float(b), int(c)]
                                                       for (a, b), c in zip(pts, seg, strict=True)],
                "centers": centers},
        "profile": {"segments": [p["name"] for p in segments], "features": features,
                    "kinds": kinds, "z": matrix},
        "crosstab": {"row": region, "col": "channel", "shares_of": "row",
                     "row_labels": list(region_labels.values()),
                     "col_labels": list(channel_labels.values()), "counts": counts.tolist(),
                     "shares": shares.tolist()},
    }

    top = max(segments, key=lambda p: p["value_share"]["CLV"] / p["share"])
    cell_recs = []
    for q2 in question2:
        if not q2["over_represented"]:
            continue
        lv = q2["over_represented"][0]
        cell_recs.append({
            "target": "cell", "segment": None,
            "cell": {"attribute": region, "level": lv["label"], "code": lv["code"],
                     "group": q2["group_name"]},
            "action": "invest",
            "title": f"Target {q2['group_name']} campaigns at {lv['label']}",
            "evidence": {"share": lv["share"], "overall_share": q2["overall_share"],
                         "lift": lv["lift"], "adjusted_residual": lv["adjusted_residual"],
                         "p_adjusted": lv["p_adjusted"]},
            "evidence_text": (f"{lv['share']:.0%} of customers in {lv['label']} came through "
                              f"{q2['group_name']} vs {q2['overall_share']:.0%} overall "
                              f"(lift {lv['lift']:.2f})"),
            "rule": "over-represented cell (Holm-adjusted residual test) -> invest",
        })
    key_findings = [
        f"{top['name']}: {top['share']:.0%} of customers bring {top['value_share']['CLV']:.0%} of CLV.",
        question1[0]["verdict"],
        question1[2]["verdict"],
        question2[1]["verdict"],
        f"{k} segments (silhouette {next(r['silhouette'] for r in rows if r['chosen']):.2f}); "
        "they overlap, so treat the borders as soft.",
    ]
    warnings = [{
        "code": "weak-structure",
        "message": ("the best silhouette is below 0.5: segments overlap and customers near a "
                    "border could fall either way"),
    }]
    if hostile:
        key_findings.append(f"Channel {XSS_IMG} and {XSS_SCRIPT} look odd.")
        warnings.append({"code": "hostile", "message": f"label {XSS_IMG} {XSS_SCRIPT}"})

    analysis = {
        "title": ("Customer segments " + XSS_SCRIPT) if hostile else "Customer segments: 365 look-alike",
        "synthetic": True,
        "aggregate_only": aggregate_only,
        "custseg_version": "0.1.0",
        "overview": {"n_customers": N_ROWS, "k": k, "k_reason": k_reason, "key_findings": key_findings},
        "data_quality": {
            "summary": summary,
            "problems": [
                {"code": "missing-values", "severity": "warning",
                 "message": (f"column 'minutes_watched' has {n_missing} empty cells; filled with 0 "
                             "as the spec says (missing = \"zero\")"),
                 "column": "minutes_watched",
                 "rows": [int(i) + 1 for i in np.flatnonzero(df["minutes_watched"].isna())[:5]],
                 "count": n_missing},
                {"code": "duplicate-rows", "severity": "warning",
                 "message": "2 rows fully duplicate an earlier row and there is no id column; kept",
                 "column": None, "rows": [57, 311], "count": 2},
            ],
            "spec_notes": [
                "minutes_watched is heavy-tailed (skewness "
                f"{summary['numeric']['minutes_watched']['skewness']:.1f}): clustered on log1p",
                f"{region} and channel are nominal codes: compared as categories, never as numbers",
            ] + ([f"note {XSS_IMG}"] if hostile else []),
            "transforms": ["minutes_watched: empty -> 0, then log1p", "CLV: none",
                           "all clustered columns: standard scaling"],
        },
        "associations": assoc,
        "tests_sample": None,
        "question1": question1,
        "question2": question2,
        "selection": {"rows": rows, "k": k, "k_reason": k_reason, "picks": picks,
                      "sample_size": N_ROWS, "silhouette_sample_size": N_ROWS, "ward_method": "exact"},
        "segments": segments,
        "recommendations": {
            "note": ("Recommendations are heuristics from fixed rules on segment value and "
                     "engagement; test them before committing budget."),
            "segments": [r for p in segments for r in p["recommendations"]],
            "cells": cell_recs,
        },
        "warnings": warnings,
        "methods": [
            "Empty minutes_watched filled with 0; log1p on minutes_watched (skewness > 2).",
            "k-means (4 k-means++ starts, seed 0) on standard-scaled log1p(minutes_watched) and CLV, "
            "k from 2 to 8.",
            "k chosen by vote of four criteria: WCSS elbow (Kneedle), silhouette, "
            "Calinski-Harabasz, Davies-Bouldin.",
            "Ward hierarchical clustering (exact) for the dendrogram and agreement check.",
            "Level comparisons: Kruskal-Wallis and Welch's ANOVA; Mann-Whitney level-vs-rest and "
            "pairwise tests with Holm correction; bootstrap 95% intervals.",
            "Group concentration: chi-square test, Wilson intervals, adjusted residuals with Holm "
            "correction.",
        ],
        "charts": charts,
    }
    return analysis


def _name_and_recommend(segments: list[dict], clv_median: float, minutes_median: float,
                        hostile: bool) -> None:
    """Hand-made names, traits and recommendations, in the documented shapes."""
    for p in segments:
        zc, zm = p["z"]["CLV"], p["z"]["minutes_watched"]
        value_word = "High value" if zc >= 0.5 else "Low value" if zc <= -0.5 else "Mid value"
        view_word = "heavy viewers" if zm >= 0.5 else "light viewers" if zm <= -0.5 else "average viewers"
        p["name"] = f"{value_word}, {view_word}"
        med_clv = p["numeric"]["CLV"]["median"]
        med_min = p["numeric"]["minutes_watched"]["median"]
        p["traits"] = [
            f"median CLV {med_clv:,.0f} vs {clv_median:,.0f} overall (z {zc:+.1f})",
            f"median minutes watched {med_min:,.0f} vs {minutes_median:,.0f} overall (z {zm:+.1f})",
        ]
        top = max((lv for levels in p["categorical"].values() for lv in levels),
                  key=lambda lv: lv["lift"])
        if top["lift"] >= 1.2:
            p["traits"].append(f"{top['label']} {top['share']:.0%} of the segment (lift {top['lift']:.2f})")
        ratio = p["value_share"]["CLV"] / p["share"]
        if zc >= 0.5 and zm >= 0.5:
            action, title, rule = ("retain", "Protect: loyalty perks and early access",
                                   "value share / size share >= 1.2 and engagement z >= 0.5 -> retain")
        elif zc >= 0.5:
            action, title, rule = ("nurture", "Re-engage with content they paid for",
                                   "value z >= 0.5 and engagement z < 0.5 -> nurture")
        elif zm >= 0.5:
            action, title, rule = ("monetise", "Offer an upgrade: they watch a lot but pay little",
                                   "engagement z >= 0.5 and value z < 0.5 -> monetise")
        elif zc <= -0.5 and zm <= -0.5:
            action, title, rule = ("reconsider", "Cut acquisition spend on look-alikes",
                                   "value z <= -0.5 and engagement z <= -0.5 -> reconsider")
        else:
            action, title, rule = ("invest", "Grow: onboarding nudges toward the next plan",
                                   "otherwise -> invest")
        p["recommendations"] = [{
            "target": "segment", "segment": p["segment"], "cell": None, "action": action,
            "title": title,
            "evidence": {"share": p["share"], "value_share": p["value_share"]["CLV"],
                         "value_ratio": ratio, "z_CLV": zc, "z_minutes_watched": zm},
            "evidence_text": (f"{p['share']:.0%} of customers, {p['value_share']['CLV']:.0%} of CLV "
                              f"({ratio:.2f}x their size); median CLV {med_clv:,.0f}"),
            "rule": rule,
        }]
    if hostile:
        segments[0]["name"] = XSS_SCRIPT
        if len(segments) > 1:
            segments[1]["name"] = XSS_IMG
        if len(segments) > 2:
            segments[2]["name"] = "Pipe | and\nnewline"
        segments[0]["traits"].append(XSS_IMG)
