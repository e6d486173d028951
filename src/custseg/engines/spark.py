"""The segmentation pipeline on Apache Spark (``pip install "custseg[spark]"``).

:func:`segment` returns the same :class:`~custseg.pipeline.RunResult` as the local
engine, so the run directory, ``model.json`` and the report are the same and
``assign``, ``serve``, ``compare`` and ``report`` work unchanged. What runs where:

distributed (Spark)
    reading CSV/Parquet; validation (:func:`custseg.validate.validate` on every
    Arrow batch, plus the cross-row checks as aggregations: duplicate ids, empty
    and constant columns, duplicated rows, row count); the feature-space
    statistics (fill values, ``log1p`` decisions from the skewness, levels, means
    and standard deviations, exact from every row); the feature vectors; the final
    MLlib k-means (k-means|| initialisation) on every row; assignment, distances,
    segment sizes; profiles (counts, means, medians, category shares, value
    shares) and the reference distributions of ``model.json``.
driver
    the choice of k on a fixed-seed Bernoulli sample of about ``selection_max`` rows
    (MLlib k-means for each k, within-cluster cost from its training summary,
    silhouette from :class:`~pyspark.ml.evaluation.ClusteringEvaluator` on at most
    ``silhouette_sample`` rows; Calinski-Harabasz, Davies-Bouldin, gap statistic
    and bootstrap stability on the collected sample), the Ward view and the
    stability refits on that sample, naming, the analysis and report on the
    sample, and, up to ``DRIVER_SEGMENTS_MAX`` customers, the segments table
    (collected: about 40 bytes a customer) for ``segments.csv``; above it the
    executors write only the partitioned ``segments.parquet/``.

pyspark is imported lazily: without it, :func:`segment` raises a one-line
:class:`~custseg.errors.ParameterError` naming ``pip install "custseg[spark]"``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__, io
from .._timing import StageClock
from ..cluster.hierarchy import ward_tree
from ..cluster.selection import ari, ch_db, choose_k, forced_k, gap_and_stability
from ..errors import InputError, ParameterError, Problem, ValidationError
from ..features import SKEW_THRESHOLD, FeatureSpace, natural_key
from ..model import SegmentModel, nearest_centroid
from ..pipeline import RunOptions, RunResult, package_versions
from ..profile import name_segments
from ..quality import quality_warnings
from ..spec import TRANSFORMS, UNKNOWN_LEVEL, Spec, infer_spec
from ..validate import MAX_EXAMPLES, count_text, rows_text, short_text, validate

__all__ = ["segment", "get_session", "jvm_log_path", "read_spark", "can_read",
           "write_partitioned_segments", "SparkSettings", "MAX_ITER", "TOL"]

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
PARTITIONED_MIN = 1_000_000
"""From this many customers, ``segments.parquet`` is a Spark-partitioned directory."""
DRIVER_SEGMENTS_MAX = 20_000_000
"""Up to this many customers the segments table is collected to the driver (about 40
bytes a customer) and written as ``segments.csv`` too; above it only the partitioned
``segments.parquet/`` is written (by the executors) and the model's distance quantiles
come from ``percentile_approx``."""
INFER_ROWS = 100_000
"""Rows read to the driver to infer a spec when none is given."""
PROBE_ROWS = 1_000
"""Rows checked on the driver first, for the column-level errors (missing columns)."""
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
_GLOBAL_CODES = {"duplicate-id", "empty-column", "constant-column", "too-few-rows",
                 "duplicate-rows", "no-rows"}
_MID_BITS = 33  # monotonically_increasing_id: partition id << 33 | record number


class SparkSettings:
    """How a Spark session for custseg is configured.

    Parameters
    ----------
    master : str, optional
        Spark master URL; ``local[*]`` when None.
    driver_memory : str
        ``spark.driver.memory`` (only applies when this process starts the JVM);
        the environment variable ``CUSTSEG_SPARK_DRIVER_MEMORY`` overrides it.
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; 4 in local mode, Spark's default otherwise.
    """

    def __init__(self, master: str | None = None, driver_memory: str = "4g",
                 shuffle_partitions: int | None = None):
        self.master = master
        self.driver_memory = os.environ.get("CUSTSEG_SPARK_DRIVER_MEMORY", driver_memory)
        self.shuffle_partitions = shuffle_partitions

    def conf(self) -> dict[str, str]:
        master = self.master or "local[*]"
        conf = {
            "spark.master": master,
            "spark.app.name": "custseg",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": self.driver_memory,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.session.timeZone": "UTC",
        }
        parts = self.shuffle_partitions or (4 if master.startswith("local") else None)
        if parts:
            conf["spark.sql.shuffle.partitions"] = str(parts)
        return conf


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParameterError("the Spark engine needs pyspark, which is not installed",
                             fix='pip install "custseg[spark]" (and Java 17), or use '
                                 "--engine local") from None
    return SparkSession


def jvm_log_path() -> Path:
    """Where the JVM that :func:`get_session` starts writes its own output (log, warnings).

    ``CUSTSEG_SPARK_LOG`` if set, else ``custseg-spark-UID.log`` in the temporary
    directory; rewritten at each JVM start.
    """
    chosen = os.environ.get("CUSTSEG_SPARK_LOG")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"custseg-spark-{uid}.log"


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Point file descriptor 2 at ``path`` while the block runs.

    A process started meanwhile (the JVM, and the Python workers it starts later)
    keeps writing there; this process's stderr is restored afterwards.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def get_session(master: str | None = None, *, settings: SparkSettings | None = None):
    """The active Spark session, or a new quiet one (no UI, log level FATAL).

    An already running session is reused as it is (its master wins). A new JVM
    writes its start-up messages and logs to :func:`jvm_log_path`, not to the
    terminal.
    """
    SparkSession = _pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ParameterError("the Spark engine needs Java 17 or newer, and no java was found",
                             fix="install it (e.g. apt-get install openjdk-17-jre-headless) "
                                 "or set JAVA_HOME, or use --engine local")
    builder = SparkSession.builder
    for key, value in (settings or SparkSettings(master)).conf().items():
        builder = builder.config(key, value)
    log = jvm_log_path()
    try:
        with _stderr_to(log):
            spark = builder.getOrCreate()
    except Exception as exc:  # JVM start-up problems: one line, with the fix
        raise ParameterError(f"cannot start Spark ({str(exc).splitlines()[0][:200]})",
                             fix=f"check --master and the Java installation (the JVM's "
                                 f"messages are in {log}), or use --engine local") from None
    # FATAL: failed tasks log their Java stack trace at ERROR; custseg reports the
    # errors it knows in one line (_spark_input_error) and re-raises the others
    spark.sparkContext.setLogLevel("FATAL")
    return spark


# ------------------------------------------------------------------ reading
def can_read(source: str | Path) -> bool:
    """Whether :func:`read_spark` reads ``source`` itself: a CSV/TSV/TXT or Parquet file,
    a folder (of Parquet parts), or any URL that Spark's file systems resolve."""
    if io.is_url(source):
        return True
    p = Path(source)
    return p.is_dir() or p.suffix.lower() in TEXT_SUFFIXES + PARQUET_SUFFIXES


def _remote_delimiter(spark, url: str) -> str:
    """The delimiter of a remote text file, sniffed from its first lines (read by Spark)."""
    lines = [r[0] for r in spark.read.text(url).limit(50).collect()]
    if not lines:
        raise InputError(f"{url!r} is empty", fix="check the path")
    return io._sniff_delimiter("\n".join(lines) + "\n", False)


def read_spark(spark, path: str | Path, *, encoding: str | None = None):
    """Read a CSV/TSV (every cell as text, like the local reader) or Parquet file or folder.

    ``path`` may be a URL of any file system Spark knows (``hdfs://``, ``s3a://``,
    ``file://``, ...): nothing is then checked or read on this machine, the format
    comes from the suffix (none, or a trailing ``/``: a Parquet folder), text is
    read as UTF-8 (or ``encoding``) and its delimiter sniffed from its first lines.
    A local text file's encoding is detected as the local reader detects it,
    unless ``encoding`` is given.
    """
    remote = io.is_url(path)
    p = Path(str(path).rstrip("/")) if remote else Path(path)
    if not remote and not p.exists():
        raise InputError(f"{str(p)!r} does not exist", fix="check the path")
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES or (p.is_dir() if not remote else suffix == ""):
        return spark.read.parquet(str(path))
    if suffix in TEXT_SUFFIXES:
        if remote:
            encoding, sep = encoding or "utf-8", _remote_delimiter(spark, str(path))
        else:
            encoding = io._resolve_encoding(p, encoding)
            sample, complete = io._decode_text(p, encoding, limit=256 * 1024)
            sep = io._sniff_delimiter(sample, complete)
        if len(sep) != 1:
            raise InputError(f"{str(path)!r} is whitespace-aligned, which the Spark CSV reader "
                             "cannot split", fix="convert it to Parquet or CSV, or use "
                                                 "--engine local")
        return spark.read.csv(str(path), header=True, sep=sep, inferSchema=False,
                              encoding=encoding, ignoreLeadingWhiteSpace=True,
                              ignoreTrailingWhiteSpace=True, mode="FAILFAST")
    raise InputError(f"the Spark engine reads CSV, TSV and Parquet, not {p.name!r}",
                     fix="convert the file to Parquet, or use --engine local")


def _typed_head(raw) -> pd.DataFrame:
    """The first rows on the driver, text columns that are all numbers made numeric
    (as the local CSV reader types them), for inferring a spec."""
    head = raw.limit(INFER_ROWS).toPandas()
    for c in head.columns:
        if pd.api.types.is_numeric_dtype(head[c]) or pd.api.types.is_bool_dtype(head[c]):
            continue
        text = head[c].astype("string").str.strip().replace("", pd.NA)
        try:
            values = pd.to_numeric(text, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (ValueError, TypeError):
            continue
        whole = not np.isnan(values).any() and np.all(values == np.round(values))
        head[c] = values.astype(np.int64) if whole else values
    return head


# ------------------------------------------------------------------ validation
def _merge_problems(batches: list[tuple[int, str]]) -> list[Problem]:
    """Problems found batch by batch, merged per (code, column, severity)."""
    merged: dict[tuple, dict] = {}
    for _, text in sorted(batches):
        for p in json.loads(text):
            key = (p["code"], p["column"], p["severity"])
            if key not in merged:
                merged[key] = {**p, "parts": 1}
            else:
                m = merged[key]
                m["count"] += p["count"]
                m["rows"] = sorted(m["rows"] + p["rows"])[:MAX_EXAMPLES]
                m["parts"] += 1
    out = []
    for m in merged.values():
        msg = m["message"]
        if m["parts"] > 1:  # the message counts its first batch only: give the total
            msg = f"{msg} [{m['count']:,} in all]"
        out.append(Problem(code=m["code"], severity=m["severity"], message=msg,
                           column=m["column"], rows=list(m["rows"]), count=int(m["count"])))
    return out


def _validate(spark, raw, spec: Spec, *, min_rows: int):
    """Typed, validated data as a cached Spark DataFrame, and every problem found.

    Columns: the id (when the spec has one), every spec column (numeric as double
    with null for empty, categorical as canonical code strings), ``_row`` (the row
    number in the input, from 1) and ``_drop`` (left out by a ``missing = "drop"``
    policy).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    probe = raw.limit(PROBE_ROWS).toPandas()
    validate(probe, spec, min_rows=0)  # raises for missing/unexpected columns, as locally
    raw = raw.withColumn("_mid", F.monotonically_increasing_id())
    pid = F.shiftright(F.col("_mid"), _MID_BITS)
    counts = sorted((int(r["pid"]), int(r["count"]))
                    for r in raw.select(pid.alias("pid")).groupBy("pid").count().collect())
    offsets, total = [], 0
    for part, c in counts:
        offsets += [F.lit(part), F.lit(total)]
        total += c
    if total == 0:
        raise ValidationError([Problem(code="no-rows", severity="error",
                                       message="the data has no rows; fix: check the file")])
    offset = F.element_at(F.create_map(*offsets), pid) if offsets else F.lit(0)
    local_idx = F.col("_mid").bitwiseAND(F.lit((1 << _MID_BITS) - 1))
    raw = raw.withColumn("_row", (offset + local_idx + 1).cast("long")).drop("_mid")

    fields = []
    if spec.id:
        fields.append(T.StructField(spec.id, raw.schema[spec.id].dataType, True))
    for name, col in spec.columns.items():
        fields.append(T.StructField(name, T.DoubleType() if col.kind == "numeric"
                                    else T.StringType(), True))
    fields += [T.StructField("_row", T.LongType(), False),
               T.StructField("_drop", T.BooleanType(), False),
               T.StructField("_prob", T.StringType(), True)]
    schema = T.StructType(fields)
    names = [f.name for f in fields]

    def check_batches(batches):
        for pdf in batches:
            if len(pdf) == 0:
                continue
            rows = pdf["_row"].to_numpy()
            data = pdf.drop(columns=["_row"]).reset_index(drop=True)
            v = validate(data, spec, min_rows=0, row_offset=int(rows[0]) - 1)
            out = pd.DataFrame(index=pd.RangeIndex(len(pdf)))
            for name in names[:-3]:
                if name in v.frame.columns:
                    values = v.frame[name].to_numpy()
                else:  # an entirely empty column in this batch
                    values = np.full(len(pdf), None, dtype=object)
                if name in spec.columns and spec.columns[name].kind == "numeric":
                    values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
                elif name in spec.columns:
                    values = pd.Series(values, dtype=object).to_numpy()
                out[name] = values
            out["_row"] = rows.astype(np.int64)
            out["_drop"] = np.asarray(v.drop, dtype=bool)
            local = [p.to_dict() for p in v.problems if p.code not in _GLOBAL_CODES]
            prob = np.full(len(pdf), None, dtype=object)
            if local:
                prob[0] = json.dumps(local)
            out["_prob"] = prob
            yield out

    typed = raw.mapInPandas(check_batches, schema)
    numeric = [n for n, c in spec.columns.items() if c.kind == "numeric"]
    typed = typed.select(*[F.when(F.isnan(F.col(c)), None).otherwise(F.col(c)).alias(c)
                           if c in numeric else F.col(c) for c in names])
    typed = typed.cache()
    found = [(int(r["_row"]), r["_prob"]) for r in
             typed.filter(F.col("_prob").isNotNull()).select("_row", "_prob").collect()]
    problems = _merge_problems(found)
    problems += _global_problems(typed, spec, min_rows=min_rows)
    if any(p.severity == "error" for p in problems):
        typed.unpersist()
        raise ValidationError(problems)
    return typed.drop("_prob"), problems


def _global_problems(typed, spec: Spec, *, min_rows: int) -> list[Problem]:
    """The checks that need every row at once, as Spark aggregations."""
    from pyspark.sql import functions as F

    out: list[Problem] = []
    aggs = [F.count(F.lit(1)).alias("_n"), F.sum(F.col("_drop").cast("long")).alias("_dropped")]
    for name in spec.columns:
        aggs += [F.count(F.col(name)).alias(f"{name}__present"),
                 F.min(F.col(name)).alias(f"{name}__min"), F.max(F.col(name)).alias(f"{name}__max")]
    stats = typed.agg(*aggs).first().asDict()
    n = int(stats["_n"])
    for name in spec.columns:
        if stats[f"{name}__present"] == 0:
            out.append(Problem(code="empty-column", severity="error", column=name,
                               message=f"column {name!r} is entirely empty; fix: remove it from "
                                       "the spec (or list it under ignore) or fill it"))
        elif name in spec.cluster_on and stats[f"{name}__min"] == stats[f"{name}__max"]:
            first = stats[f"{name}__min"]
            out.append(Problem(code="constant-column", severity="warning", column=name,
                               message=f"column {name!r} has the same value ({short_text(first)!r}) "
                                       "in every row, so it cannot separate segments and is "
                                       "left out of the clustering"))
    if spec.id:
        dup = (typed.filter(F.col(spec.id).isNotNull()).groupBy(spec.id)
               .agg(F.count(F.lit(1)).alias("c")).filter("c > 1"))
        count = dup.agg(F.sum("c")).first()[0]
        if count:
            ex = (typed.join(dup.select(spec.id), on=spec.id).orderBy("_row")
                  .select("_row", spec.id).limit(MAX_EXAMPLES).collect())
            rows = [int(r["_row"]) for r in ex]
            shown = ", ".join(f"row {r} ({short_text(v)!r})" for r, v in
                              zip(rows, [r[spec.id] for r in ex], strict=True))
            out.append(Problem(code="duplicate-id", severity="error", column=spec.id,
                               rows=rows, count=int(count),
                               message=f"id column {spec.id!r} has {int(count)} rows sharing an "
                                       f"id ({shown}); fix: remove the duplicates or choose "
                                       "another id column"))
    usable = n - int(stats["_dropped"] or 0)
    if usable < min_rows:
        out.append(Problem(code="too-few-rows", severity="error",
                           message=f"the data has {count_text(usable, 'usable row', 'usable rows')} "
                                   f"(n_samples = {usable}) but the clustering needs at least "
                                   f"{min_rows}; fix: use more customers, or a smaller --k or "
                                   "--k-range"))
    if not spec.id and n > 1:
        from pyspark.sql import Window

        w = Window.partitionBy(*[F.col(c) for c in spec.columns])
        repeats = (typed.select("_row", F.min("_row").over(w).alias("_first"))
                   .filter(F.col("_row") > F.col("_first")).cache())
        count = repeats.count()
        if count:
            rows = [int(r["_row"]) for r in
                    repeats.orderBy("_row").select("_row").limit(MAX_EXAMPLES).collect()]
            out.append(Problem(code="duplicate-rows", severity="warning", count=int(count),
                               rows=rows,
                               message=f"{count_text(int(count), 'row repeats', 'rows repeat')} an "
                                       f"earlier row exactly ({rows_text(rows, int(count))}); "
                                       "without an id column they are kept as separate "
                                       "customers"))
        repeats.unpersist()
    return out


# ------------------------------------------------------------------ features
def _median_expr(col, n: int, q=0.5):
    from pyspark.sql import functions as F

    if n <= EXACT_PERCENTILE_MAX:
        return F.percentile(col, q)
    return F.percentile_approx(col, q, 1_000_000)


def _fit_features(data, spec: Spec, *, n: int, log_transform: str,
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
            else:
                aggs.append(_median_expr(F.col(name), n).alias(name))
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
    raw = _raw_exprs(columns, fill, log, levels)
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


def _raw_exprs(columns, fill, log, levels) -> list:
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


def _feature_exprs(fs: FeatureSpace) -> list:
    """Spark expressions of the scaled features, ``(raw - mean) / scale``, named f0, f1, ..."""
    raw = _raw_exprs(fs.columns_, fs.fill_, fs.log_, fs.levels_)
    return [((e - float(m)) / float(s)).alias(f"f{j}")
            for j, (e, m, s) in enumerate(zip(raw, fs.mean_, fs.scale_, strict=True))]


def _assign_exprs(centers: np.ndarray, d: int):
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
def _kmeans(k: int, seed: int):
    from pyspark.ml.clustering import KMeans

    return KMeans(k=k, initMode="k-means||", initSteps=INIT_STEPS, maxIter=MAX_ITER, tol=TOL,
                  seed=seed, featuresCol="features", predictionCol="prediction")


def _best_kmeans(vectors, k: int, seed: int, starts: int, say=None):
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
        model = _kmeans(k, seed + i).fit(vectors)
        if best is None or model.summary.trainingCost < best.summary.trainingCost:
            best = model
    return best


def _silhouette(model, sample) -> float | None:
    from pyspark.ml.evaluation import ClusteringEvaluator

    pred = model.transform(sample)
    if pred.select("prediction").distinct().count() < 2:
        return None
    return float(ClusteringEvaluator(featuresCol="features", predictionCol="prediction",
                                     metricName="silhouette").evaluate(pred))


# ------------------------------------------------------------------ the run
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
        # itself is what the user gets (_spark_input_error makes it one line)
        warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization",
                                category=UserWarning)
        try:
            return _segment(df, spec, options, progress=progress, input_info=input_info,
                            source=source, master=master, encoding=encoding, spark=spark)
        except Exception as exc:
            known = _spark_input_error(exc, source)
            if known is None:
                raise
            raise known from None


_SPARK_INPUT_ERRORS = (  # (pattern in Spark's message, one-line error made from the match)
    (re.compile(r"\[MALFORMED_CSV_RECORD\] Malformed CSV record: (.*?)(?: SQLSTATE|$)",
                re.MULTILINE),
     lambda m, src: InputError(
         f"a row of {src} does not split into the header's fields: {short_text(m.group(1))!r}",
         fix="quote fields that contain the delimiter and give every row as many fields "
             "as the header (--engine local names the line)")),
    (re.compile(r"\[PATH_NOT_FOUND\] Path does not exist: (\S+?)\.?(?: SQLSTATE|$)",
                re.MULTILINE),
     lambda m, src: InputError(f"{m.group(1)!r} does not exist",
                               fix="check the path; a URL must be reachable from every "
                                   "Spark executor")),
    (re.compile(r'No FileSystem for scheme "?([\w+.-]+)"?'),
     lambda m, src: InputError(f"Spark has no file system for {m.group(1)}:// URLs ({src})",
                               fix="add its connector to Spark (e.g. hadoop-aws for s3a://), "
                                   "or copy the data to a path Spark reads")),
    (re.compile(r"is not a Parquet file"),
     lambda m, src: io.unreadable_parquet_error(src)),
)


def _spark_input_error(exc: BaseException, source) -> InputError | None:
    """The one-line :class:`InputError` for a Spark failure caused by the input, else None.

    Spark reports a bad input (a malformed CSV row under ``FAILFAST``, a missing
    path, a URL scheme with no file system) as a Java exception whose text runs
    to a stack trace; only exceptions from pyspark or py4j are looked at.
    """
    if not type(exc).__module__.startswith(("pyspark", "py4j")):
        return None
    text = str(exc)
    where = str(source) if source is not None else "the input"
    for pattern, make in _SPARK_INPUT_ERRORS:
        found = pattern.search(text)
        if found:
            return make(found, where)
    return None


def _segment(df, spec, options, *, progress, input_info, source, master, encoding,
             spark) -> RunResult:
    _pyspark()
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
        head = df.head(INFER_ROWS) if df is not None else _typed_head(raw)
        spec, _, spec_notes = infer_spec(head)
    if est.cluster_on is not None:
        spec = spec.with_cluster_on(spec.used if est.cluster_on == "all" else list(est.cluster_on))
    n_columns = len(raw.columns)
    lap("read")

    say("validate", "checking the data against the spec")
    max_k = int(est.k) if est.k is not None else max(ks)
    typed, problems = _validate(spark, raw, spec, min_rows=max_k + 1)
    n_in = typed.count()
    kept = typed.filter(~F.col("_drop"))
    n = kept.count()
    lap("validate")

    say("features", "fitting the feature space with Spark aggregations")
    constant = tuple(p.column for p in problems if p.code == "constant-column")
    if set(constant) >= set(spec.cluster_on):
        raise ValidationError([Problem(code="no-varying-column", severity="error",
                                       message="every cluster_on column is constant, so there "
                                               "is nothing to segment on; fix: choose other "
                                               "columns with --cluster-on or in the spec")])
    fs = _fit_features(kept, spec, n=n, log_transform=est.log_transform, exclude=constant)
    d = fs.n_features_
    keys = [spec.id] if spec.id else []
    used = [c for c in spec.used]
    filled = [F.coalesce(F.col(c), F.lit(fs.fill_[c])).alias(c) for c in used]
    feats = kept.select(*keys, "_row", *filled, *_feature_exprs(fs))
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
        model = _best_kmeans(sample_vectors, k, seed, starts)
        centers = np.asarray(model.clusterCenters(), dtype=np.float64)
        lab = nearest_centroid(Zs, centers)[0]
        models[k], sample_labels[k] = model, lab
        row = {"k": int(k), "inertia": float(model.summary.trainingCost), "silhouette": None,
               "calinski_harabasz": None, "davies_bouldin": None, "ward_ari": None,
               "iterations": int(model.summary.numIter)}
        if 1 < np.unique(lab).size < m:
            row["calinski_harabasz"], row["davies_bouldin"] = ch_db(Zs, lab)
            row["silhouette"] = _silhouette(model, sil_sample)
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
        final = _best_kmeans(feats.select("features"), k, seed, final_starts,
                             say=lambda text: say("fit", text))
    centers = np.asarray(final.clusterCenters(), dtype=np.float64)
    inertia = float(final.summary.trainingCost)
    label, dist = _assign_exprs(centers, d)
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
        quantiles = _distance_quantiles(assigned, k, n)
    labels_s = nearest_centroid(Zs, centers)[0]
    lap("fit")

    stability: list[float] = []
    if est.stability_runs and k > 1:
        from ..cluster.algorithms import get_algorithm
        from ..segmenter import STABILITY_MAX

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
    profiles, z = _profiles(assigned, spec, k, n)
    names = name_segments(profiles, z, spec)
    for p, nm in zip(profiles, names, strict=True):
        p["name"] = nm
        p["z"] = {c: float(z[c][p["segment"]]) for c in z}
    warnings = quality_warnings(data_s, labels_s, k, spec, names, stability)
    reference = _reference_distributions(assigned, spec, n)
    lap("profile")

    est.spec_, est.spec_notes_ = spec, list(spec_notes)
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
        spec, fs, centers, names, quantiles,
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
        "cluster_on": list(fs.columns_), "features": list(fs.feature_names_),
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
        from ..analysis import build_analysis

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
        result.spark_segments = assigned.select(
            *(keys or [F.col("_row").alias("row")]), "segment",
            F.element_at(F.array(*[F.lit(x) for x in names]), (F.col("segment") + 1).cast("int"))
            .alias("segment_name"), F.round("_dist", 6).alias("distance"))
    sample.unpersist()
    feats.unpersist()
    return result


def _profiles(assigned, spec: Spec, k: int, n: int) -> tuple[list[dict], dict]:
    """Profiles as :func:`custseg.profile.profile_segments` makes them, and the z of
    :func:`custseg.profile.numeric_z`, from Spark aggregations."""
    from pyspark.sql import functions as F

    from ..profile import add_category_shares, category_levels

    numeric = [c for c in spec.used if spec.columns[c].kind == "numeric"]
    overall = assigned.agg(*[F.skewness(c).alias(f"{c}__skew") for c in numeric],
                           *[F.min(c).alias(f"{c}__min") for c in numeric],
                           *[F.sum(c).alias(f"{c}__sum") for c in numeric]).first().asDict() \
        if numeric else {}
    logged = {c: (overall[f"{c}__min"] >= 0 and (overall[f"{c}__skew"] or 0) > 2)
              for c in numeric}
    zcol = {c: F.log1p(c) if logged[c] else F.col(c) for c in numeric}
    zstats = assigned.agg(*[F.avg(zcol[c]).alias(f"{c}__m") for c in numeric],
                          *[F.stddev_pop(zcol[c]).alias(f"{c}__s") for c in numeric]
                          ).first().asDict() if numeric else {}
    aggs = [F.count(F.lit(1)).alias("_size")]
    for c in numeric:
        aggs += [F.sum(c).alias(f"{c}__sum"), _median_expr(F.col(c), n).alias(f"{c}__median"),
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


def _distance_quantiles(assigned, k: int, n: int) -> list[dict]:
    """As :meth:`SegmentModel.quantiles_of`, from a Spark aggregation per segment."""
    from pyspark.sql import functions as F

    from ..model import DISTANCE_QUANTILES

    qs = [float(q) for q in DISTANCE_QUANTILES]
    got = {int(r["segment"]): r["q"] for r in
           assigned.groupBy("segment").agg(_median_expr(F.col("_dist"), n, qs).alias("q"))
           .collect()}
    return [{f"{q:g}": float(v) for q, v in zip(DISTANCE_QUANTILES, got.get(s) or [0.0] * len(qs),
                                                 strict=True)} for s in range(k)]


def _reference_distributions(assigned, spec: Spec, n: int) -> dict:
    """As :func:`custseg.compare.reference_distributions`, from Spark aggregations."""
    from pyspark.sql import functions as F

    from ..compare import REFERENCE_PERCENTILES

    ref: dict = {}
    numeric = [c for c in spec.used if spec.columns[c].kind == "numeric"]
    if numeric:
        qs = [float(q) for q in REFERENCE_PERCENTILES]
        row = assigned.agg(*[_median_expr(F.col(c), n, qs).alias(c) for c in numeric]).first()
        for c in numeric:
            ref[c] = {"kind": "numeric", "n": int(n), "percentiles": [float(x) for x in row[c]]}
    for c in spec.used:
        if c in numeric:
            continue
        counts = {str(r[c]): int(r["count"]) for r in assigned.groupBy(c).count().collect()}
        ref[c] = {"kind": "categorical", "n": int(n),
                  "shares": {code: counts[code] / n for code in sorted(counts, key=str)}}
    return {name: ref[name] for name in spec.used}


def write_partitioned_segments(result: RunResult, out: str | Path) -> Path:
    """Replace ``out/segments.parquet`` by a Spark-partitioned Parquet directory.

    The rows and columns are those of ``segments.csv`` (``pandas.read_parquet`` and
    Spark read either form). The directory is written beside the run first and
    swapped in at the end.
    """
    out = Path(out)
    target = out / "segments.parquet"
    tmp = out / f".segments-{uuid.uuid4().hex[:8]}.parquet"
    result.spark_segments.write.mode("errorifexists").parquet(str(tmp.resolve()))
    for junk in list(tmp.glob(".*.crc")) + list(tmp.glob("_SUCCESS")):
        junk.unlink(missing_ok=True)
    if target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        outputs = [o for o in manifest.get("outputs", []) if o != "segments.parquet"]
        outputs += sorted(f"segments.parquet/{f.name}" for f in target.iterdir())
        manifest["outputs"] = sorted(outputs)
        manifest["segments_partitioned"] = True
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return target
