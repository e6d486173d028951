"""Opening an order log in DuckDB: a DataFrame, a Parquet file, delimited text, or any other file.

:func:`open_log` gives the source as a :class:`~custseg.rfm.views.DuckLog` on a
connection of its own, closed (and its scratch directory removed) when the
``with`` block ends. A Parquet file, or a delimited text file (``.csv``,
``.tsv``, ``.txt``) in UTF-8 or Latin-1 with a comma, semicolon, tab or pipe
delimiter (detected by :func:`custseg.io.sniff_text`, as
:func:`custseg.io.read_table` detects it), is scanned by DuckDB without loading
it, so logs larger than memory work: text is parsed once into a temporary
Parquet copy in the scratch directory. Any other file is read whole with
:func:`custseg.io.read_table`. Either way a row with more or fewer fields than
the header stops the reading, with one line naming its line (as an editor
numbers lines) and both field counts (:mod:`custseg.io.ragged`).

DuckDB works within :data:`DUCKDB_MEMORY` (the environment variable
``CUSTSEG_DUCKDB_MEMORY``, e.g. ``2GB``, overrides it) and spills beyond it
into the scratch directory, a temporary directory under ``TMPDIR``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from ..io import (
    DELIMITERS,
    check_readable,
    ragged_fix,
    raise_on_duplicates,
    read_table,
    sniff_text,
    unreadable_parquet_error,
)
from ..io.ragged import RaggedRow, find_ragged_row, ragged_row_error
from .views import ROW, DuckLog, ident, literal, query_error

__all__ = ["open_log", "DUCKDB_MEMORY"]

#: DuckDB's memory limit unless ``CUSTSEG_DUCKDB_MEMORY`` (e.g. ``"8GB"``) says otherwise.
#: Beyond it DuckDB spills to files in the temporary directory (``TMPDIR``), so a log larger
#: than memory works. A 50M-row log needs about 3.4 GiB without spilling; at 2 GB the
#: spilling made ``custseg rfm`` 1.7 times slower (BENCHMARKS.md, the RFM section).
DUCKDB_MEMORY = "4GB"

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


@contextlib.contextmanager
def open_log(source: Any) -> Iterator[DuckLog]:
    """The source (DataFrame or path) as a :class:`DuckLog`; the connection is closed after.

    Raises
    ------
    ParameterError
        ``source`` is neither a DataFrame nor a path, or ``CUSTSEG_DUCKDB_MEMORY``
        is not a size.
    InputError
        The file cannot be read (one line: the problem, the file, the fix).
    """
    if isinstance(source, pd.DataFrame):
        log, scratch = _open_frame(source, "the log")
    elif isinstance(source, (str, os.PathLike)):
        log, scratch = _open_path(Path(source).expanduser())
    else:
        raise ParameterError(f"the transaction log must be a DataFrame or the path of a file, got "
                             f"{type(source).__name__}")
    try:
        yield log
    finally:
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _close(con: Any, scratch: Path) -> None:
    with contextlib.suppress(Exception):
        con.close()
    shutil.rmtree(scratch, ignore_errors=True)


def _connect() -> tuple[Any, Path]:
    """A DuckDB connection and its scratch directory (removed again if this fails).

    UTC, no progress bar, bounded memory spilling into the scratch directory.
    """
    scratch = Path(tempfile.mkdtemp(prefix="custseg-log-"))
    try:
        return _configure(scratch), scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _configure(scratch: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    with contextlib.suppress(duckdb.Error):  # dates of TIMESTAMPTZ values in UTC
        con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("SET enable_progress_bar = false").fetchall()
    con.execute(f"SET temp_directory = {literal(str(scratch / 'spill'))}").fetchall()
    limit = os.environ.get("CUSTSEG_DUCKDB_MEMORY", "").strip() or DUCKDB_MEMORY
    try:
        con.execute(f"SET memory_limit = {literal(limit)}").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise ParameterError(f"CUSTSEG_DUCKDB_MEMORY must be a size such as '2GB', got {limit!r}",
                             fix="unset it, or set it to a size such as 4GB") from exc
    return con


def _open_frame(frame: pd.DataFrame, where: str) -> tuple[DuckLog, Path]:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{where} has duplicate column names: {', '.join(map(repr, dup))}",
                         fix="rename the columns so that each name is unique")
    frame = frame.reset_index(drop=True)
    data: dict[str, Any] = {}
    for position, name in enumerate(names):
        s = frame.iloc[:, position]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)  # the wall-clock date as written
        elif s.dtype == object:
            s = s.astype("string")  # mixed cells (e.g. from Excel): compare as text
        data[name] = s
    data[ROW] = np.arange(1, len(frame) + 1, dtype=np.int64)
    prepared = pd.DataFrame(data, copy=False)
    con, scratch = _connect()
    con.register("raw_frame", prepared)
    con.execute("CREATE TEMP VIEW raw AS SELECT * FROM raw_frame").fetchall()
    log = DuckLog(con, where, text_typed=False)
    log.frame_ref = prepared  # DuckDB scans it in place: keep it alive with the connection
    return log, scratch


def _open_path(path: Path) -> tuple[DuckLog, Path]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        check_readable(path)
        con, scratch = _connect()
        log_sql = (f"CREATE TEMP VIEW raw AS SELECT * EXCLUDE (file_row_number), "
                   f"file_row_number + 1 AS {ident(ROW)} FROM read_parquet({literal(str(path))}, "
                   "file_row_number = true)")
        try:
            con.execute(log_sql).fetchall()
        except Exception as exc:
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
            raise unreadable_parquet_error(path) from exc
        return DuckLog(con, str(path), text_typed=False), scratch
    if suffix in (".csv", ".tsv", ".txt"):
        check_readable(path)
        codec, sep, sample = sniff_text(path)
        duck_codec = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1",
                      "iso8859-1": "latin-1"}.get(codec)
        if sep in DELIMITERS and duck_codec is not None:
            return _open_text(path, codec, sep, sample, duck_codec)
    return _open_frame(read_table(path), str(path))


def _open_text(path: Path, codec: str, sep: str, sample: str, duck_codec: str) -> tuple[DuckLog, Path]:
    """Delimited text, parsed once by DuckDB into a Parquet copy in the scratch directory."""
    lines = sample.lstrip("\ufeff").splitlines()
    skip = next((i for i, line in enumerate(lines) if line.strip()), 0) + 1
    header = next(csv.reader([lines[skip - 1] if lines else ""], delimiter=sep), [])
    raise_on_duplicates(header, path)
    names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]
    columns = "{" + ", ".join(f"{literal(name)}: 'VARCHAR'" for name in names) + "}"
    # strict_mode: a row with more or fewer fields than the header stops the scan
    options = (f"delim = {literal(sep)}, header = false, skip = {skip}, columns = {columns}, "
               f"quote = '\"', escape = '\"', encoding = {literal(duck_codec)}, "
               "auto_detect = false, strict_mode = true")
    # Parse the text once into a temporary Parquet file (in the temporary directory,
    # TMPDIR), so that the several passes of the checks scan columns, not text.
    con, scratch = _connect()
    copy = scratch / "log.parquet"

    def copy_sql(opts: str) -> str:
        return (f"COPY (SELECT row_number() OVER () AS {ident(ROW)}, * FROM "
                f"read_csv({literal(str(path))}, {opts})) TO {literal(str(copy))} "
                "(FORMAT parquet)")

    try:
        try:
            con.execute(copy_sql(options)).fetchall()
        except Exception as exc:
            # The first record with another field count than the header, found by Python's csv
            # module (a quoted delimiter or line break stays in its field), at the physical
            # line an editor shows: DuckDB counts records, not lines, after a quoted line break.
            row = _ragged_row(path, codec, sep)
            if row is not None:
                raise ragged_row_error(path, row, sep) from exc
            # None: a line of only spaces or tabs (a record of one field to DuckDB), or a
            # problem that is not the field count. Read as before this check: a short record
            # gets empty cells, and DuckDB words any other problem.
            _copy_padded(con, copy_sql, options)
        con.execute("CREATE TEMP VIEW raw AS SELECT * FROM "
                    f"read_parquet({literal(str(copy))})").fetchall()
    except Exception as exc:
        _close(con, scratch)
        if isinstance(exc, InputError):
            raise
        raise _read_error(str(path), exc, sep) from exc
    return DuckLog(con, str(path), text_typed=True), scratch


def _ragged_row(path: Path, codec: str, sep: str) -> RaggedRow | None:
    """The first record of ``path`` with more or fewer fields than the header, or None."""
    try:
        return find_ragged_row(path, codec, sep)
    except (UnicodeDecodeError, OSError):
        return None  # DuckDB's error says what is wrong


def _copy_padded(con: Any, copy_sql: Any, options: str) -> None:
    """The copy with short records padded with empty cells (the reading of a file without ragged rows)."""
    padded = options + ", null_padding = true"
    try:
        con.execute(copy_sql(padded)).fetchall()
    except Exception as exc:
        # DuckDB's parallel scanner cannot pad short rows when a quoted field
        # holds a line break; the serial one can (slower, so only then).
        if "parallel=false" not in str(exc):
            raise
        con.execute(copy_sql(padded + ", parallel = false")).fetchall()


def _read_error(where: str, exc: Exception, sep: str) -> InputError:
    """The one-line error for DuckDB's error reading the delimited text ``where``."""
    text = str(exc)
    line, fields_ = _CSV_LINE.search(text), _CSV_FIELDS.search(text)
    if line and fields_:
        return InputError(f"line {line.group(1)} of {where} has {fields_.group(2)} fields but the "
                          f"header has {fields_.group(1)}", fix=ragged_fix(sep))
    return query_error(where, exc)
