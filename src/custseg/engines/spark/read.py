"""Reading the input with Spark (CSV/TSV, Parquet, folders, URLs) and the input's errors.

Spark's own failures caused by the input (a row that does not split into the
header's fields, a missing path, a URL scheme with no file system, a file that is
not Parquet) become one-line :class:`~custseg.errors.InputError` by
:func:`input_error`.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ... import io
from ..._messages import short_text
from ...errors import InputError

__all__ = ["TEXT_SUFFIXES", "PARQUET_SUFFIXES", "INFER_ROWS", "can_read", "read_spark",
           "typed_head", "number_rows", "input_error", "field_count_error", "first_ragged_line"]

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
INFER_ROWS = 100_000
"""Rows read to the driver to infer a spec when none is given."""
_MID_BITS = 33  # monotonically_increasing_id: partition id << 33 | record number


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
    # (io's delimiter sniffing, which its text reader uses too; public in the io package)
    return io.sniff_delimiter("\n".join(lines) + "\n", False)


def _text_format(spark, path: str | Path, encoding: str | None) -> tuple[str, str]:
    """The encoding and delimiter Spark reads a text ``path`` with (a local one: as the local
    reader decides them; a URL: UTF-8 or ``encoding``, delimiter from its first lines)."""
    if io.is_url(path):
        return encoding or "utf-8", _remote_delimiter(spark, str(path))
    codec, sep, _ = io.sniff_text(Path(path), encoding)
    return codec, sep


def read_spark(spark, path: str | Path, *, encoding: str | None = None):
    """Read a CSV/TSV (every cell as text, like the local reader) or Parquet file or folder.

    ``path`` may be a URL of any file system Spark knows (``hdfs://``, ``s3a://``,
    ``file://``, ...): nothing is then checked or read on this machine, the format
    comes from the suffix (none, or a trailing ``/``: a Parquet folder), text is
    read as UTF-8 (or ``encoding``) and its delimiter sniffed from its first lines.
    A local text file's encoding and delimiter are detected as the local reader
    detects them, unless ``encoding`` is given.
    """
    remote = io.is_url(path)
    p = Path(str(path).rstrip("/")) if remote else Path(path)
    if not remote and not p.exists():
        raise InputError(f"{str(p)!r} does not exist", fix="check the path")
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES or (p.is_dir() if not remote else suffix == ""):
        return spark.read.parquet(str(path))
    if suffix in TEXT_SUFFIXES:
        encoding, sep = _text_format(spark, path, encoding)
        if len(sep) != 1:
            raise InputError(f"{str(path)!r} is whitespace-aligned, which the Spark CSV reader "
                             "cannot split", fix="convert it to Parquet or CSV, or use "
                                                 "--engine local")
        return spark.read.csv(str(path), header=True, sep=sep, inferSchema=False,
                              encoding=encoding, ignoreLeadingWhiteSpace=True,
                              ignoreTrailingWhiteSpace=True, mode="FAILFAST")
    raise InputError(f"the Spark engine reads CSV, TSV and Parquet, not {p.name!r}",
                     fix="convert the file to Parquet, or use --engine local")


def typed_head(raw) -> pd.DataFrame:
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


def number_rows(df, name: str = "_row"):
    """``df`` with a column ``name`` numbering its rows from 1 in input order, and their count.

    From ``monotonically_increasing_id`` and the row count of each partition (one
    small aggregation): no shuffle, no Python on the executors.
    """
    from pyspark.sql import functions as F

    df = df.withColumn("_mid", F.monotonically_increasing_id())
    pid = F.shiftright(F.col("_mid"), _MID_BITS)
    counts = sorted((int(r["pid"]), int(r["count"]))
                    for r in df.select(pid.alias("pid")).groupBy("pid").count().collect())
    offsets, total = [], 0
    for part, c in counts:
        offsets += [F.lit(part), F.lit(total)]
        total += c
    offset = F.element_at(F.create_map(*offsets), pid) if offsets else F.lit(0)
    local_idx = F.col("_mid").bitwiseAND(F.lit((1 << _MID_BITS) - 1))
    return df.withColumn(name, (offset + local_idx + 1).cast("long")).drop("_mid"), total


# ------------------------------------------------------------------ rows that do not fit
def field_count_error(where: str, line: int | None, fields: int, header: int, sep: str,
                      record: str | None = None) -> InputError:
    """``line 1002 of data.csv has 3 fields but the header has 5; fix: ...`` (one line).

    The local reader's wording and fix (:func:`custseg.io.ragged_row_error`).
    ``line`` counts the file's lines from 1 (the header is line 1); when it is not
    known, the row's text is quoted instead.
    """
    if line is not None:
        return io.ragged_row_error(where, io.RaggedRow(line, fields, header), sep)
    return InputError(f"a row of {where} ({short_text(record)!r}) has {fields} fields but the "
                      f"header has {header}", fix=io.ragged_fix(sep, fewer=fields < header))


def _split(line: str, sep: str) -> int:
    """The number of fields of one line of delimited text (quotes as Spark's CSV reader reads
    them: a delimiter inside double quotes does not split)."""
    if '"' not in line:
        return line.count(sep) + 1
    return len(next(csv.reader([line], delimiter=sep)))


def first_ragged_line(path: Path, encoding: str, sep: str) -> tuple[int, int, int] | None:
    """``(line, fields, header fields)`` of the first row of a local text file with another
    number of fields than its header, or None.

    Line by line, as Spark's CSV reader splits the file (``multiLine`` off: a row
    is one line); blank lines are skipped, as Spark skips them. Only called once
    Spark has stopped on a malformed row, so a valid file is never read twice.
    """
    header = None
    with path.open(encoding=encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            fields = _split(text, sep)
            if header is None:
                header = fields
            elif fields != header:
                return number, fields, header
    return None


def _remote_record_line(spark, url: str, record: str) -> int | None:
    """The line number of the first line of the text at ``url`` that is ``record`` (Spark reads
    it line by line, JVM only), or None when Spark's text reader does not find it."""
    from pyspark.sql import functions as F

    lines, _ = number_rows(spark.read.text(url), "_line")
    found = lines.filter(F.col("value") == record).agg(F.min("_line")).first()[0]
    return None if found is None else int(found)


def _locate(record: str, source, encoding: str | None
            ) -> tuple[int | None, int, int, str] | None:
    """``(line or None, fields, header fields, delimiter)`` of the row Spark stopped on, or None."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if source is None or spark is None:
        return None
    codec, sep = _text_format(spark, source, encoding)
    if not io.is_url(source):
        found = first_ragged_line(Path(source), codec, sep)
        if found is not None:
            return (*found, sep)
    header = len(spark.read.csv(str(source), header=True, sep=sep, encoding=codec).columns)
    line = (_remote_record_line(spark, str(source), record)
            if codecs.lookup(codec).name == "utf-8" else None)
    return line, _split(record, sep), header, sep


def _ragged_row(record: str, source, encoding: str | None = None) -> InputError:
    """The one-line error for Spark's ``MALFORMED_CSV_RECORD`` (``record`` as Spark quotes it).

    A local file is scanned here for the first row with another field count (only
    now, after Spark stopped); for a URL the field counts come from the quoted row
    and its line number from a Spark scan of the text (UTF-8 only; without it the
    row is quoted instead of its line named). Locating is best effort: when it
    fails, the message quotes the row.
    """
    where = str(source) if source is not None else "the input"
    try:
        located = _locate(record, source, encoding)
    except Exception:  # (the input may have changed or gone meanwhile)
        located = None
    if located is None:
        return InputError(f"a row of {where} does not split into the header's fields: "
                          f"{short_text(record)!r}",
                          fix="quote fields that contain the delimiter and give every row as "
                              "many fields as the header")
    return field_count_error(where, *located, record=record)


_SPARK_INPUT_ERRORS = (  # (pattern in Spark's message, one-line error made from the match)
    (re.compile(r"\[MALFORMED_CSV_RECORD\] Malformed CSV record: (.*?)(?: SQLSTATE|$)",
                re.MULTILINE),
     lambda m, src, enc: _ragged_row(m.group(1), src, enc)),
    (re.compile(r"\[PATH_NOT_FOUND\] Path does not exist: (\S+?)\.?(?: SQLSTATE|$)",
                re.MULTILINE),
     lambda m, src, enc: InputError(f"{m.group(1)!r} does not exist",
                                    fix="check the path; a URL must be reachable from every "
                                        "Spark executor")),
    (re.compile(r'No FileSystem for scheme "?([\w+.-]+)"?'),
     lambda m, src, enc: InputError(f"Spark has no file system for {m.group(1)}:// URLs "
                                    f"({src if src is not None else 'the input'})",
                                    fix="add its connector to Spark (e.g. hadoop-aws for "
                                        "s3a://), or copy the data to a path Spark reads")),
    (re.compile(r"is not a Parquet file"),
     lambda m, src, enc: io.unreadable_parquet_error(src if src is not None else "the input")),
)


def input_error(exc: BaseException, source, encoding: str | None = None) -> InputError | None:
    """The one-line :class:`InputError` for a Spark failure caused by the input, else None.

    Spark reports a bad input (a malformed CSV row under ``FAILFAST``, a missing
    path, a URL scheme with no file system) as a Java exception whose text runs
    to a stack trace; only exceptions from pyspark or py4j are looked at.
    """
    if not type(exc).__module__.startswith(("pyspark", "py4j")):
        return None
    text = str(exc)
    for pattern, make in _SPARK_INPUT_ERRORS:
        found = pattern.search(text)
        if found:
            return make(found, source, encoding)
    return None
