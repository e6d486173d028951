"""Validation on Spark: the same problems, with the same row numbers, as the local engine."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..._messages import MAX_EXAMPLES, count_text, rows_text, short_text
from ...derive import date_formats, derive_columns, derive_spec
from ...errors import Problem, ValidationError
from ...spec import Spec
from ...validate import validate
from .read import number_rows

__all__ = ["validate_on_spark", "global_problems", "newest_date", "PROBE_ROWS"]

PROBE_ROWS = 1_000
"""Rows checked on the driver first, for the column-level errors (missing columns)."""
_GLOBAL_CODES = {"duplicate-id", "empty-column", "constant-column", "too-few-rows",
                 "duplicate-rows", "no-rows"}


def newest_date(raw, spec: Spec) -> str | None:
    """The newest date in the spec's date columns (YYYY-MM-DD), read as the local engine
    reads them (:func:`custseg.dates.parse_dates`, in the Python workers); None without."""
    from pyspark.sql import types as T

    from ...dates import newest_date as newest_in

    dates = {n: fmt for n, fmt in date_formats(spec).items() if n in raw.columns}
    if not dates:
        return None

    def newest(batches):
        for pdf in batches:
            found = newest_in(pdf, dates)
            if found is not None:
                yield pd.DataFrame({"d": [found]})

    schema = T.StructType([T.StructField("d", T.StringType(), True)])
    rows = raw.select(*dates).mapInPandas(newest, schema).agg({"d": "max"}).first()
    return rows[0] if rows and rows[0] else None


def validate_on_spark(raw, spec: Spec, *, min_rows: int):
    """Typed, validated data as a cached Spark DataFrame, and every problem found.

    Each Arrow batch goes through :func:`custseg.validate.validate` in a Python
    worker (``mapInPandas``: the one place custseg's Python runs on the
    executors), so a row gets the same messages as with the local engine; the
    checks that need every row at once are :func:`global_problems`.

    Columns: the id (when the spec has one), every spec column (numeric as double
    with null for empty, categorical as canonical code strings), ``_row`` (the row
    number in the input, from 1) and ``_drop`` (left out by a ``missing = "drop"``
    policy).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    # dates become days to one observation date for all batches; yes/no and "never" flags
    # are row by row (custseg.derive)
    source, as_of = spec, newest_date(raw, spec) if spec.as_of is None else spec.as_of
    spec = derive_spec(source, as_of)
    probe = raw.limit(PROBE_ROWS).toPandas()
    probe, _, _, _ = derive_columns(probe, source, as_of)
    validate(probe, spec, min_rows=0)  # raises for missing/unexpected columns, as locally
    raw, total = number_rows(raw)
    if total == 0:
        raise ValidationError([Problem(code="no-rows", severity="error",
                                       message="the data has no rows; fix: check the file")])

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
            data, _, _, dated = derive_columns(data, source, as_of,
                                               row_numbers=np.arange(len(data)) + int(rows[0]) - 1)
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
            local = [p.to_dict() for p in dated + v.problems if p.code not in _GLOBAL_CODES]
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
    problems += global_problems(typed, spec, min_rows=min_rows)
    if any(p.severity == "error" for p in problems):
        typed.unpersist()
        raise ValidationError(problems)
    return typed.drop("_prob"), problems, spec, as_of


def global_problems(typed, spec: Spec, *, min_rows: int) -> list[Problem]:
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
