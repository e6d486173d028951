"""The whole run on Spark: :func:`segment`, the Spark engine's entry point."""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ... import __version__, io
from ..._timing import StageClock
from ...cluster.hierarchy import ward_tree
from ...cluster.selection import ari, ch_db, choose_k, forced_k, gap_and_stability
from ...derive import never_flags, source_columns
from ...errors import InputError, ParameterError, Problem, ValidationError
from ...infer import infer_spec
from ...model import SegmentModel, nearest_centroid
from ...pipeline import RunOptions, RunResult, package_versions
from ...profile import name_segments
from ...quality import quality_warnings
from ...spec import TRANSFORMS, Spec
from . import stages
from .checks import validate_on_spark
from .read import INFER_ROWS, can_read, input_error, read_spark, typed_head
from .session import get_session, jvm_log_path, ship_custseg, spark_session_class
from .stages import (
    FINAL_STARTS,
    INIT_STEPS,
    MAX_ITER,
    SELECTION_STARTS,
    TOL,
    assign_exprs,
    best_kmeans,
    feature_exprs,
    fit_features,
    silhouette,
)
from .write import distance_quantiles, segments_table

__all__ = ["segment", "PARTITIONED_MIN", "DRIVER_SEGMENTS_MAX"]

PARTITIONED_MIN = 1_000_000
"""From this many customers, ``segments.parquet`` is a Spark-partitioned directory."""
DRIVER_SEGMENTS_MAX = 20_000_000
"""Up to this many customers the segments table is collected to the driver (about 40
bytes a customer) and written as ``segments.csv`` too; above it only the partitioned
``segments.parquet/`` is written (by the executors) and the model's distance quantiles
come from ``percentile_approx``."""


def segment(df: pd.DataFrame | None, spec: Spec | None, options: RunOptions | None = None, *,
            progress=None, input_info: dict | None = None, source: str | Path | None = None,
            master: str | None = None, encoding: str | None = None, spark=None) -> RunResult:
    """Run the whole segmentation on Spark; the same result as :func:`custseg.pipeline.segment`.

    Parameters
    ----------
    df : DataFrame or None
        Raw customer data already in memory; ignored when ``source`` is a CSV or
        Parquet file, which Spark then reads itself.
    spec : Spec or None
        The data dictionary; None infers one from the first 100,000 rows.
    options : RunOptions
        As for the local engine; ``algorithm`` must be k-means, ``reference`` is
        not supported.
    progress : callable, optional
        ``progress(stage, detail)``.
    input_info : dict, optional
        Recorded in the manifest.
    source : str or Path, optional
        A CSV/TSV/Parquet file (or Parquet folder) for Spark to read.
    master : str, optional
        Spark master URL (default ``local[*]``).
    encoding : str, optional
        The text encoding of a CSV ``source`` (default: detected; UTF-8 for a URL).
    spark : SparkSession, optional
        A session to use instead of starting one.

    Returns
    -------
    RunResult
        With ``spark_segments`` set (a Spark DataFrame of the segments table) and
        ``spark_rows`` (the number of customers).
    """
    with warnings.catch_warnings():
        # pyspark warns on every toPandas that it does not yet "fully support" pandas 3;
        # the conversions used here (numbers, strings) are covered by the tests
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated",
                                module=r"pyspark\.")
        # a failed toPandas warns with the Java stack trace before raising: the error
        # itself is what the user gets (read.input_error makes it one line)
        warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization",
                                category=UserWarning)
        try:
            return _segment(df, spec, options, progress=progress, input_info=input_info,
                            source=source, master=master, encoding=encoding, spark=spark)
        except Exception as exc:
            known = input_error(exc, source, encoding)
            if known is None:
                raise
            raise known from None


def _segment(df, spec, options, *, progress, input_info, source, master, encoding,
             spark) -> RunResult:
    spark_session_class()
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    options = options or RunOptions()
    say = progress or (lambda stage, detail="": None)
    est = options.estimator(spec)
    ks = est.check_params()
    if est.algorithm != "kmeans":
        raise ParameterError(f"the Spark engine runs k-means only, not {est.algorithm!r}",
                             fix="leave --algorithm out, or use --engine local")
    if options.reference is not None:
        raise ParameterError("--reference is not supported by the Spark engine",
                             fix="leave --reference out, or use --engine local")
    if est.log_transform not in ("spec", *TRANSFORMS):
        raise ParameterError(f"unknown log transform {est.log_transform!r}")
    clock = StageClock()
    lap = clock.lap
    timings = clock.timings

    if source is not None and not io.is_url(source) and not Path(source).exists():
        raise InputError(f"{str(source)!r} does not exist", fix="check the path")
    spark = spark or get_session(master)
    ship_custseg(spark)  # the executors' Python workers validate the rows
    say("read", f"reading with Spark ({spark.sparkContext.master}; the JVM's log: "
                f"{jvm_log_path()})")
    if source is not None and can_read(source):
        raw = read_spark(spark, source, encoding=encoding)
    elif df is not None:
        frame = df.copy()
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].map(lambda v: None if v is None or (isinstance(v, float)
                                                                        and np.isnan(v))
                                        else str(v))
        raw = spark.createDataFrame(frame)
    else:
        raise InputError("no data was given to the Spark engine",
                         fix="pass a CSV or Parquet file")
    seed = int(est.random_state)
    inferred = spec is None
    spec_notes: list[str] = []
    if spec is None:
        head = df.head(INFER_ROWS) if df is not None else typed_head(raw)
        spec, _, spec_notes = infer_spec(head)
    if est.cluster_on is not None:
        spec = spec.with_cluster_on(spec.used if est.cluster_on == "all" else list(est.cluster_on))
    n_columns = len(raw.columns)
    lap("read")

    say("validate", "checking the data against the spec")
    max_k = int(est.k) if est.k is not None else max(ks)
    input_spec = spec
    # (date columns become '<column> (days)' from here on: custseg.derive)
    typed, problems, spec, as_of = validate_on_spark(raw, input_spec, min_rows=max_k + 1)
    if as_of is not None:
        input_spec = replace(input_spec, as_of=as_of)
    flags = set(never_flags(input_spec).values())
    quiet = [p for p in problems if p.code == "constant-column" and p.column in flags]
    problems = [p for p in problems if p not in quiet]  # (all 0: nothing missing, as locally)
    n_in = typed.count()
    kept = typed.filter(~F.col("_drop"))
    n = kept.count()
    lap("validate")

    say("features", "fitting the feature space with Spark aggregations")
    constant = tuple(p.column for p in problems + quiet if p.code == "constant-column")
    if set(constant) >= set(spec.cluster_on):
        raise ValidationError([Problem(code="no-varying-column", severity="error",
                                       message="every cluster_on column is constant, so there "
                                               "is nothing to segment on; fix: choose other "
                                               "columns with --cluster-on or in the spec")])
    fs = fit_features(kept, spec, n=n, log_transform=est.log_transform, exclude=constant)
    d = fs.n_features_
    keys = [spec.id] if spec.id else []
    used = [c for c in spec.used]
    filled = [F.coalesce(F.col(c), F.lit(fs.fill_[c])).alias(c) for c in used]
    feats = kept.select(*keys, "_row", *filled, *feature_exprs(fs))
    feats = VectorAssembler(inputCols=[f"f{j}" for j in range(d)], outputCol="features",
                            handleInvalid="error").transform(feats).cache()
    feats.count()
    typed.unpersist()
    lap("features")

    say("choose_k", "sampling for the choice of k")
    if n > est.selection_max:
        # Bernoulli sampling: about selection_max rows, no shuffle of the full data
        sample = feats.sample(fraction=est.selection_max / n, seed=seed)
    else:
        sample = feats
    # The sample's few MB in one partition, in input order: each of the sweep's
    # hundreds of small Spark jobs is then one task (not one per input partition:
    # thousands on a large input), and its results do not depend on the order in
    # which the shuffle delivers rows.
    sample = sample.repartition(1).sortWithinPartitions("_row").cache()
    local = sample.drop("features").toPandas().sort_values("_row").reset_index(drop=True)
    Zs = local[[f"f{j}" for j in range(d)]].to_numpy(dtype=np.float64)
    data_s = local[used].reset_index(drop=True)
    m = Zs.shape[0]
    sil_sample = sample
    if m > est.silhouette_max:
        sil_sample = sample.orderBy(F.rand(seed + 1)).limit(
            min(est.silhouette_sample, est.silhouette_max)).cache()
    est.selection_sample_size_ = int(m)
    est.silhouette_sample_size_ = int(m if m <= est.silhouette_max
                                      else min(est.silhouette_sample, est.silhouette_max))
    say("ward", "building the Ward hierarchy on the driver sample")
    ward = ward_tree(Zs, exact_max=est.ward_exact_max, seed=seed)
    lap("ward")

    rows, models, sample_labels = [], {}, {}
    sample_vectors = sample.select("features")
    starts = max(1, min(int(est.n_init), SELECTION_STARTS))
    for k in ks:
        say("choose_k", f"k = {k} (MLlib k-means, best of {starts} k-means|| starts)")
        model = best_kmeans(sample_vectors, k, seed, starts)
        centers = np.asarray(model.clusterCenters(), dtype=np.float64)
        lab = nearest_centroid(Zs, centers)[0]
        models[k], sample_labels[k] = model, lab
        row = {"k": int(k), "inertia": float(model.summary.trainingCost), "silhouette": None,
               "calinski_harabasz": None, "davies_bouldin": None, "ward_ari": None,
               "iterations": int(model.summary.numIter)}
        if 1 < np.unique(lab).size < m:
            row["calinski_harabasz"], row["davies_bouldin"] = ch_db(Zs, lab)
            row["silhouette"] = silhouette(model, sil_sample)
        if k <= ward.n_leaves:
            row["ward_ari"] = ari(ward.cut(k), lab)
        rows.append(row)
    if len(ks) > 1:
        say("choose_k", "gap statistic and bootstrap stability on the driver sample")
        extra = gap_and_stability(Zs, ks, seed=seed, max_rows=5_000)
        for row in rows:
            row.update(extra[row["k"]])
    note = (f"Chosen on a fixed-seed sample of {m:,} of {n:,} customers" if m < n else "")
    best_k, reason, picks = choose_k(rows, note)
    k, reason = forced_k(est.k, best_k, reason)
    lap("choose_k")

    say("fit", f"final MLlib k-means on {n:,} customers, k = {k}")
    final_starts = max(1, min(int(est.n_init), FINAL_STARTS))
    if m == n and final_starts <= starts:  # the sample is every row: its fit is the final one
        final = models[k]
    else:
        final = best_kmeans(feats.select("features"), k, seed, final_starts,
                             say=lambda text: say("fit", text))
    centers = np.asarray(final.clusterCenters(), dtype=np.float64)
    inertia = float(final.summary.trainingCost)
    label, dist = assign_exprs(centers, d)
    assigned = feats.select(*keys, "_row", *used, *[f"f{j}" for j in range(d)],
                            label.alias("_seg"), dist.alias("_dist"))
    sizes_old = np.zeros(k, dtype=np.int64)
    for r in assigned.groupBy("_seg").count().collect():
        sizes_old[int(r["_seg"])] = int(r["count"])
    order = sorted(range(k), key=lambda s: (-sizes_old[s], tuple(np.round(centers[s], 12))))
    new_of_old = np.empty(k, dtype=np.int64)
    new_of_old[order] = np.arange(k)
    centers = centers[order]
    relabel = F.element_at(F.create_map(*[x for old in range(k) for x in
                                          (F.lit(old), F.lit(int(new_of_old[old])))]),
                           F.col("_seg"))
    assigned = assigned.withColumn("segment", relabel.cast("long")).drop("_seg").cache()
    collected = n <= DRIVER_SEGMENTS_MAX
    if collected:  # the segments table on the driver, for segments.csv and the model
        seg_local = assigned.select(*keys, "_row", "segment", "_dist").toPandas()
        seg_local = seg_local.sort_values("_row").reset_index(drop=True)
        labels = seg_local["segment"].to_numpy(dtype=np.int64)
        distances = seg_local["_dist"].to_numpy(dtype=np.float64)
        quantiles = SegmentModel.quantiles_of(distances, labels, k)
    else:  # too many customers for the driver: quantiles by Spark, the table stays there
        seg_local = labels = distances = None
        quantiles = distance_quantiles(assigned, k, n)
    labels_s = nearest_centroid(Zs, centers)[0]
    lap("fit")

    stability: list[float] = []
    if est.stability_runs and k > 1:
        from ...cluster.algorithms import get_algorithm
        from ...segmenter import STABILITY_MAX

        say("stability", f"refitting with {est.stability_runs} other seeds on the driver sample")
        Zst, ref = Zs, labels_s
        if m > STABILITY_MAX:
            pick = np.sort(np.random.default_rng(seed + 1).choice(m, size=STABILITY_MAX,
                                                                   replace=False))
            Zst, ref = Zs[pick], labels_s[pick]
        fit = get_algorithm("kmeans").fit
        for i in range(1, int(est.stability_runs) + 1):
            other = fit(Zst, k, n_init=int(est.n_init), seed=seed + i)
            stability.append(float(ari(ref, other.labels)))
    lap("stability")

    say("profile", "profiling segments with Spark aggregations")
    profiles, z = stages.profiles(assigned, spec, k, n)
    names = name_segments(profiles, z, spec)
    for p, nm in zip(profiles, names, strict=True):
        p["name"] = nm
        p["z"] = {c: float(z[c][p["segment"]]) for c in z}
    warnings = quality_warnings(data_s, labels_s, k, spec, names, stability)
    reference = stages.reference_distributions(assigned, spec, n)
    lap("profile")

    est.spec_, est.spec_notes_ = spec, list(spec_notes)
    est.input_spec_ = input_spec
    est.problems_ = [p.to_dict() for p in problems]
    est.rows_ = seg_local["_row"].to_numpy(dtype=np.int64) - 1 if collected else None
    est.n_rows_in_ = int(n_in)
    est.n_features_in_ = n_columns
    est.feature_names_in_ = np.asarray(raw.columns, dtype=object)
    est.features_ = fs
    est.ward_ = ward
    est.selection_ = rows
    est.criteria_picks_ = picks
    est.k_reason_ = reason
    est.k_ = int(k)
    est.inertia_ = inertia
    est.cluster_centers_ = centers
    est.labels_ = labels
    est.distances_ = distances
    est.proba_ = None
    est.noise_segment_ = None
    est.reference_matches_ = None
    est.stability_ = stability
    est.profiles_ = profiles
    est.segment_names_ = names
    est.warnings_ = warnings
    est.timings_ = timings
    engine_info = {"name": "spark", "spark_version": spark.version,
                   "master": spark.sparkContext.master, "init_mode": "k-means||",
                   "init_steps": INIT_STEPS, "max_iter": MAX_ITER, "tol": TOL,
                   "selection_starts": starts, "final_starts": final_starts,
                   "final_iterations": int(final.summary.numIter)}
    est.model_ = SegmentModel(
        input_spec, fs, centers, names, quantiles,
        info={"algorithm": {"name": "kmeans", "params": {"k": int(k), "n_init": 1, "seed": seed}},
              "training": {"n_rows": int(n), "sizes": [p["size"] for p in profiles],
                           "inertia": inertia, "k_reason": reason, "engine": "spark"},
              "reference": reference})

    segments = None
    if collected:
        segments = pd.DataFrame()
        if spec.id:
            segments[spec.id] = seg_local[spec.id].to_numpy()
        else:
            segments["row"] = seg_local["_row"].to_numpy(dtype=np.int64)
        segments["segment"] = labels
        segments["segment_name"] = np.asarray(names, dtype=object)[labels]
        segments["distance"] = np.round(distances, 6)
    selection = pd.DataFrame(rows)
    selection.insert(1, "chosen", selection["k"] == k)
    manifest = {
        "custseg_version": __version__,
        "input": {**(input_info or {}), "rows": int(n_in), "columns": int(n_columns)},
        "engine": engine_info,
        "spec_inferred": inferred,
        "spec_notes": list(est.spec_notes_),
        "k": int(k), "k_reason": reason, "criteria_picks": picks,
        "k_range": list(est.k_range), "k_forced": est.k is not None,
        "seed": seed, "n_init": 1, "algorithm": "kmeans",
        "cluster_on": source_columns(input_spec, list(fs.columns_)),
        "features": list(fs.feature_names_),
        "transforms": list(fs.notes_), "rows_segmented": int(n),
        "selection_sample_size": est.selection_sample_size_,
        "silhouette_sample_size": est.silhouette_sample_size_,
        "silhouette_measure": "Spark ClusteringEvaluator (squared Euclidean)",
        "segments_on_driver": collected,
        "ward_method": ward.method,
        "stability_adjusted_rand": [round(a, 6) for a in stability],
        "reference": None,
        "segments": [{"segment": p["segment"], "name": p["name"], "size": p["size"],
                      "share": p["share"]} for p in profiles],
        "warnings": list(warnings) + [
            {"code": p["code"], "message": p["message"],
             **({"column": p["column"]} if p["column"] else {}), "rows": p["rows"],
             "count": p["count"]} for p in est.problems_],
        "package_versions": {**package_versions(), "pyspark": spark.version},
        "timings": dict(timings),
    }
    analysis = None
    if options.analysis:
        from ...analysis import build_analysis

        say("analysis", "answering the marketing questions on the driver sample")
        t0 = time.perf_counter()
        view = copy.copy(est)  # the analysis reads labels_ aligned with its data: the sample's
        view.labels_ = labels_s
        analysis = build_analysis(view, data_s, Zs, manifest,
                                  aggregate_only=options.aggregate_only,
                                  synthetic=bool((input_info or {}).get("synthetic")),
                                  title=options.title)
        manifest["timings"]["analysis"] = round(time.perf_counter() - t0, 4)
    result = RunResult(segmenter=est, segments=segments, profiles=profiles, selection=selection,
                       manifest=manifest, spec_inferred=inferred,
                       analysis=analysis)
    if n >= PARTITIONED_MIN or not collected:  # (not collected: the only copy)
        result.spark_segments = segments_table(assigned, keys, names)
    sample.unpersist()
    feats.unpersist()
    return result
