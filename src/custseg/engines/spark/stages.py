"""The pipeline's stages on Spark: feature space, assignment, k-means, profiles.

Every statistic is an aggregation over every row (exact percentiles up to
``EXACT_PERCENTILE_MAX`` rows). The feature vectors and the assignment to the
nearest centre are Spark SQL expressions (:func:`feature_exprs`,
:func:`assign_exprs`), so no Python runs on the executors for them: they compute
what :meth:`custseg.features.FeatureSpace.transform` and
:func:`custseg.model.nearest_centroid` compute, and a test pins the segments and
distances to :class:`custseg.model.SegmentModel`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...features import SKEW_THRESHOLD, FeatureSpace
from ...spec import UNKNOWN_LEVEL, Spec, natural_key

__all__ = ["MAX_ITER", "TOL", "INIT_STEPS", "FINAL_STARTS", "SELECTION_STARTS",
           "EXACT_PERCENTILE_MAX", "median_expr", "fit_features", "raw_exprs", "feature_exprs",
           "assign_exprs", "kmeans", "best_kmeans", "silhouette", "profiles",
           "reference_distributions"]

MAX_ITER = 300
"""Lloyd iterations allowed per MLlib k-means fit (MLlib's default of 20 stops early)."""
TOL = 1e-6
"""Convergence: every centre moves less than this (MLlib's default is 1e-4)."""
INIT_STEPS = 2
FINAL_STARTS = 3
"""k-means|| starts of the final fit (at most ``n_init``); the lowest cost is kept."""
SELECTION_STARTS = 3
"""k-means|| starts per k on the selection sample (at most ``n_init``); the lowest cost is
kept: single starts landed 5-20 % above the best at some k, which misleads the criteria."""
EXACT_PERCENTILE_MAX = 10_000_000
"""Up to this many rows medians and percentiles are exact (Spark ``percentile``),
above it ``percentile_approx`` with relative error 1e-6."""


def median_expr(col, n: int, q=0.5):
    """Spark's percentile(s) ``q`` of ``col`` over ``n`` rows: exact up to
    ``EXACT_PERCENTILE_MAX`` rows, else approximate (relative error 1e-6)."""
    from pyspark.sql import functions as F

    if n <= EXACT_PERCENTILE_MAX:
        return F.percentile(col, q)
    return F.percentile_approx(col, q, 1_000_000)


def fit_features(data, spec: Spec, *, n: int, log_transform: str,
                 exclude: tuple[str, ...]) -> FeatureSpace:
    """A :class:`FeatureSpace` fitted from Spark aggregations over every row of ``data``."""
    from pyspark.sql import functions as F

    fill: dict[str, Any] = {}
    aggs = []
    for name in spec.used:
        col = spec.columns[name]
        if col.kind == "numeric":
            if col.missing == "zero":
                fill[name] = 0.0
            elif col.missing == "mean":
                aggs.append(F.avg(name).alias(name))
            elif col.missing == "never":  # beyond every customer seen (custseg.features)
                aggs.append(F.max(name).alias(name))
            else:
                aggs.append(median_expr(F.col(name), n).alias(name))
        elif col.missing == "mode":
            top = (data.filter(F.col(name).isNotNull()).groupBy(name).count()
                   .orderBy(F.desc("count"), F.asc(name)).first())
            fill[name] = UNKNOWN_LEVEL if top is None else str(top[name])
        else:
            fill[name] = UNKNOWN_LEVEL
    if aggs:
        for key, value in data.agg(*aggs).first().asDict().items():
            fill[key] = 0.0 if value is None else float(value)
    columns = [c for c in spec.cluster_on if c not in exclude]

    def filled(name):
        return F.coalesce(F.col(name), F.lit(fill[name]))

    numeric = [c for c in columns if spec.columns[c].kind == "numeric"]
    shape = data.agg(*[F.skewness(filled(c)).alias(f"{c}__skew") for c in numeric],
                     *[F.min(filled(c)).alias(f"{c}__min") for c in numeric]).first().asDict() \
        if numeric else {}
    log, notes, levels = {}, [], {}
    for name in columns:
        col = spec.columns[name]
        if col.kind == "numeric":
            mode = col.transform if log_transform == "spec" else log_transform
            sk = shape[f"{name}__skew"]
            sk = 0.0 if sk is None or not np.isfinite(sk) or n < 3 else float(sk)
            if mode == "log":
                use = True
                notes.append(f"{name}: log1p applied (as configured; skewness {sk:.1f})")
            elif mode == "auto":
                use = bool(sk > SKEW_THRESHOLD and shape[f"{name}__min"] >= 0)
                if use:
                    notes.append(f"{name}: log1p applied because it is heavy-tailed "
                                 f"(skewness {sk:.1f} > {SKEW_THRESHOLD:g})")
            else:
                use = False
            log[name] = use
        else:
            seen = {str(r[0]) for r in data.select(filled(name)).distinct().collect()}
            if col.labels:
                lv = list(col.labels) + sorted(s for s in seen if s not in col.labels)
            else:
                lv = sorted(seen, key=natural_key)
            levels[name] = lv
    raw = raw_exprs(columns, fill, log, levels)
    stats = data.agg(*[F.avg(e).alias(f"m{j}") for j, e in enumerate(raw)],
                     *[F.stddev_pop(e).alias(f"s{j}") for j, e in enumerate(raw)]).first()
    mean = [float(stats[f"m{j}"]) for j in range(len(raw))]
    scale = [float(stats[f"s{j}"] or 0.0) for j in range(len(raw))]
    scale = [s if s > 10 * np.finfo(float).eps * max(abs(m), 1.0) else 1.0
             for s, m in zip(scale, mean, strict=True)]
    names: list[str] = []
    for c in columns:
        names += [f"{c}={lvl}" for lvl in levels[c]] if c in levels else [c]
    fill = {name: fill[name] for name in spec.used}
    return FeatureSpace.from_dict({"columns": columns, "fill": fill, "log1p": log,
                                   "levels": levels, "mean": mean, "scale": scale,
                                   "feature_names": names, "notes": notes}, spec)


def raw_exprs(columns, fill, log, levels) -> list:
    """Spark expressions of the unscaled feature columns (filled, log1p, one-hot)."""
    from pyspark.sql import functions as F

    out = []
    for name in columns:
        v = F.coalesce(F.col(name), F.lit(fill[name]))
        if name in levels:
            out += [F.when(v == F.lit(lvl), 1.0).otherwise(0.0) for lvl in levels[name]]
        else:
            out.append(F.log1p(v) if log[name] else v)
    return out


def feature_exprs(fs: FeatureSpace) -> list:
    """Spark expressions of the scaled features, ``(raw - mean) / scale``, named f0, f1, ..."""
    raw = raw_exprs(fs.columns_, fs.fill_, fs.log_, fs.levels_)
    return [((e - float(m)) / float(s)).alias(f"f{j}")
            for j, (e, m, s) in enumerate(zip(raw, fs.mean_, fs.scale_, strict=True))]


def assign_exprs(centers: np.ndarray, d: int):
    """Spark expressions of the nearest centre (first on ties) and the distance to it."""
    from pyspark.sql import functions as F

    d2 = []
    for c in centers:
        terms = [(F.col(f"f{j}") - float(c[j])) * (F.col(f"f{j}") - float(c[j])) for j in range(d)]
        e = terms[0]
        for t in terms[1:]:
            e = e + t
        d2.append(e)
    best = F.least(*d2) if len(d2) > 1 else d2[0]
    label = F.lit(len(d2) - 1)
    for i in range(len(d2) - 2, -1, -1):
        label = F.when(d2[i] == best, F.lit(i)).otherwise(label)
    return label, F.sqrt(best)


# ------------------------------------------------------------------ clustering
def kmeans(k: int, seed: int):
    from pyspark.ml.clustering import KMeans

    return KMeans(k=k, initMode="k-means||", initSteps=INIT_STEPS, maxIter=MAX_ITER, tol=TOL,
                  seed=seed, featuresCol="features", predictionCol="prediction")


def best_kmeans(vectors, k: int, seed: int, starts: int, say=None):
    """The lowest-cost of ``starts`` MLlib k-means|| fits (seeds ``seed``, ``seed + 1``, ...).

    ``vectors`` is a DataFrame of the ``features`` column alone and not cached
    itself: MLlib then caches its own vectors for the Lloyd iterations, which
    halved the time of a fit against a cached DataFrame with more columns (whose
    rows it converts again at every iteration).
    """
    best = None
    for i in range(starts):
        if say is not None and i:
            say(f"another k-means|| start (seed {seed + i})")
        model = kmeans(k, seed + i).fit(vectors)
        if best is None or model.summary.trainingCost < best.summary.trainingCost:
            best = model
    return best


def silhouette(model, sample) -> float | None:
    from pyspark.ml.evaluation import ClusteringEvaluator

    pred = model.transform(sample)
    if pred.select("prediction").distinct().count() < 2:
        return None
    return float(ClusteringEvaluator(featuresCol="features", predictionCol="prediction",
                                     metricName="silhouette").evaluate(pred))


# ------------------------------------------------------------------ profiles
def profiles(assigned, spec: Spec, k: int, n: int) -> tuple[list[dict], dict]:
    """Profiles as :func:`custseg.profile.profile_segments` makes them, and the z of
    :func:`custseg.profile.numeric_z`, from Spark aggregations."""
    from pyspark.sql import functions as F

    from ...profile import add_category_shares, category_levels

    numeric = [c for c in spec.used if spec.columns[c].kind == "numeric"]
    overall = assigned.agg(*[F.skewness(c).alias(f"{c}__skew") for c in numeric],
                           *[F.min(c).alias(f"{c}__min") for c in numeric],
                           *[F.sum(c).alias(f"{c}__sum") for c in numeric]).first().asDict() \
        if numeric else {}
    logged = {c: (overall[f"{c}__min"] >= 0 and (overall[f"{c}__skew"] or 0) > SKEW_THRESHOLD)
              for c in numeric}
    zcol = {c: F.log1p(c) if logged[c] else F.col(c) for c in numeric}
    zstats = assigned.agg(*[F.avg(zcol[c]).alias(f"{c}__m") for c in numeric],
                          *[F.stddev_pop(zcol[c]).alias(f"{c}__s") for c in numeric]
                          ).first().asDict() if numeric else {}
    aggs = [F.count(F.lit(1)).alias("_size")]
    for c in numeric:
        aggs += [F.sum(c).alias(f"{c}__sum"), median_expr(F.col(c), n).alias(f"{c}__median"),
                 F.avg(zcol[c]).alias(f"{c}__zm")]
    per = {int(r["segment"]): r.asDict() for r in assigned.groupBy("segment").agg(*aggs).collect()}
    sizes = np.array([per[s]["_size"] if s in per else 0 for s in range(k)], dtype=np.int64)
    profiles = [{"segment": s, "size": int(sizes[s]), "share": float(sizes[s] / n),
                 "numeric": {}, "categorical": {}, "value_share": {}} for s in range(k)]
    z = {}
    for name in spec.used:
        col = spec.columns[name]
        if col.kind == "numeric":
            total = float(overall[f"{name}__sum"])
            sd = zstats[f"{name}__s"] or 0.0
            zs = np.zeros(k)
            for s in range(k):
                r = per.get(s)
                sm = float(r[f"{name}__sum"]) if r else 0.0
                profiles[s]["numeric"][name] = {
                    "mean": sm / sizes[s] if sizes[s] else float("nan"),
                    "median": float(r[f"{name}__median"]) if r else float("nan")}
                if col.role == "value":
                    profiles[s]["value_share"][name] = sm / total if total else 0.0
                if r and sd > 0:
                    zs[s] = (r[f"{name}__zm"] - zstats[f"{name}__m"]) / sd
            z[name] = zs
        else:
            counts_rows = assigned.groupBy("segment", name).count().collect()
            codes = np.array(sorted({r[name] for r in counts_rows}, key=str), dtype=object)
            levels = category_levels(spec, name, codes)
            index = {lvl: i for i, lvl in enumerate(levels)}
            counts = np.zeros((k, len(levels)), dtype=np.int64)
            for r in counts_rows:
                counts[int(r["segment"]), index[r[name]]] += int(r["count"])
            add_category_shares(profiles, name, col, levels, counts, sizes, n)
    return profiles, z


def reference_distributions(assigned, spec: Spec, n: int) -> dict:
    """As :func:`custseg.compare.reference_distributions`, from Spark aggregations."""
    from pyspark.sql import functions as F

    from ...compare import REFERENCE_PERCENTILES

    ref: dict = {}
    numeric = [c for c in spec.used if spec.columns[c].kind == "numeric"]
    if numeric:
        qs = [float(q) for q in REFERENCE_PERCENTILES]
        row = assigned.agg(*[median_expr(F.col(c), n, qs).alias(c) for c in numeric]).first()
        for c in numeric:
            ref[c] = {"kind": "numeric", "n": int(n), "percentiles": [float(x) for x in row[c]]}
    for c in spec.used:
        if c in numeric:
            continue
        counts = {str(r[c]): int(r["count"]) for r in assigned.groupBy(c).count().collect()}
        ref[c] = {"kind": "categorical", "n": int(n),
                  "shares": {code: counts[code] / n for code in sorted(counts, key=str)}}
    return {name: ref[name] for name in spec.used}
