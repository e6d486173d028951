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

Python on the executors: only the validation of each Arrow batch
(:mod:`.checks`); the Python workers run this interpreter in local mode, and
the custseg package is shipped to them as a zip (:mod:`.session`).

pyspark is imported lazily: without it, :func:`segment` raises a one-line
:class:`~custseg.errors.ParameterError` naming ``pip install "custseg[spark]"``.

Modules, by job: :mod:`.session` (settings, the JVM's log, the workers' Python),
:mod:`.read` (CSV/Parquet/URLs and the input's errors), :mod:`.checks`
(validation), :mod:`.stages` (features, k-means, assignment, profiles),
:mod:`.write` (the segments table on the executors), :mod:`.run` (the run).
"""

from .read import INFER_ROWS, can_read, read_spark
from .run import segment
from .session import SparkSettings, get_session, jvm_log_path
from .stages import MAX_ITER, TOL
from .write import write_partitioned_segments

__all__ = ["segment", "get_session", "jvm_log_path", "read_spark", "can_read",
           "write_partitioned_segments", "SparkSettings", "MAX_ITER", "TOL", "INFER_ROWS"]
