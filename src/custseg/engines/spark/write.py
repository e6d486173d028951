"""The segments table on the executors: its Spark-partitioned Parquet folder and the
model's distance quantiles when the table stays there."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from ...model import DISTANCE_QUANTILES
from ...pipeline import RunResult
from .stages import median_expr

__all__ = ["distance_quantiles", "segments_table", "write_partitioned_segments"]


def distance_quantiles(assigned, k: int, n: int) -> list[dict]:
    """As :meth:`SegmentModel.quantiles_of`, from a Spark aggregation per segment."""
    from pyspark.sql import functions as F

    qs = [float(q) for q in DISTANCE_QUANTILES]
    got = {int(r["segment"]): r["q"] for r in
           assigned.groupBy("segment").agg(median_expr(F.col("_dist"), n, qs).alias("q"))
           .collect()}
    return [{f"{q:g}": float(v) for q, v in zip(DISTANCE_QUANTILES, got.get(s) or [0.0] * len(qs),
                                                 strict=True)} for s in range(k)]


def segments_table(assigned, keys: list[str], names: list[str]):
    """The segments table as a Spark DataFrame, the columns of ``segments.csv``: the id (or
    ``row``), ``segment``, ``segment_name``, ``distance`` (rounded to 6 decimals)."""
    from pyspark.sql import functions as F

    return assigned.select(
        *(keys or [F.col("_row").alias("row")]), "segment",
        F.element_at(F.array(*[F.lit(x) for x in names]), (F.col("segment") + 1).cast("int"))
        .alias("segment_name"), F.round("_dist", 6).alias("distance"))


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
