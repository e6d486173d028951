"""Reading a table from a file: one registry of formats, three ways to read it.

:func:`read_table` reads a whole table, :func:`iter_table` reads it in chunks
of bounded size and :func:`read_head` reads its first rows. Each looks the
file's format up in the registry :data:`FORMATS` (by suffix; a folder is a
Parquet data set, :data:`PARQUET_FOLDER`), checks that the options given apply
to it, and calls that format's reader.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._parallel import check_n_jobs
from ..errors import InputError
from .csv_reader import iter_delimited, read_delimited
from .databases import read_database
from .excel import read_excel
from .json_reader import read_json, read_json_lines
from .parquet import (
    is_parquet_folder,
    parquet_file_chunks,
    parquet_folder_chunks,
    read_parquet,
    read_parquet_folder,
)
from .sources import PathLike, check_readable, check_unique_columns, empty_error

__all__ = ["TableFormat", "FORMATS", "PARQUET_FOLDER", "READERS", "table_format", "read_table",
           "iter_table", "read_head"]

#: The options a user may give a reader (``--encoding``, ``--sql``, ``--sheet``).
_OPTIONS = ("encoding", "sql", "sheet")


@dataclass(frozen=True)
class TableFormat:
    """How one kind of data file is read.

    ``read(path, **options)`` reads the whole table; it takes the options of
    :data:`_OPTIONS` that apply to the format as keyword arguments, and
    ``n_jobs`` if it can work in parallel.
    ``chunks(path, chunksize, **options)``, if the format has it, reads the
    table in chunks of at most ``chunksize`` rows without holding it whole;
    other formats are read whole and sliced.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., pd.DataFrame]
    chunks: Callable[..., Iterator[pd.DataFrame]] | None = None

    @property
    def options(self) -> set[str]:
        """The user options (``encoding``, ``sql``, ``sheet``) its reader accepts."""
        return set(inspect.signature(self.read).parameters) & set(_OPTIONS)

    def jobs(self, n_jobs: int | None) -> dict[str, Any]:
        """``{"n_jobs": n_jobs}`` for a reader that can work in parallel, else nothing."""
        return {"n_jobs": n_jobs} if "n_jobs" in inspect.signature(self.read).parameters else {}


#: The file formats, by suffix, in the order error messages list them.
FORMATS: tuple[TableFormat, ...] = (
    TableFormat("delimited text", (".csv", ".tsv", ".txt"), read_delimited, iter_delimited),
    TableFormat("Parquet", (".parquet", ".pq"), read_parquet, parquet_file_chunks),
    TableFormat("Excel", (".xlsx", ".xlsm", ".xls"), read_excel),
    TableFormat("JSON lines", (".jsonl", ".ndjson"), read_json_lines),
    TableFormat("JSON", (".json",), read_json),
    TableFormat("database", (".duckdb", ".ddb", ".db", ".sqlite", ".sqlite3"), read_database),
)

#: A folder of Parquet parts, as Spark and Hive write them (see :func:`is_parquet_folder`).
PARQUET_FOLDER = TableFormat("Parquet folder", (), read_parquet_folder, parquet_folder_chunks)

_BY_SUFFIX: dict[str, TableFormat] = {suffix: fmt for fmt in FORMATS for suffix in fmt.suffixes}

#: File suffix -> reader. A reader takes the path plus the keyword options it
#: supports (``encoding``, ``sql``, ``sheet``); :func:`read_table` rejects the rest.
READERS: dict[str, Callable[..., pd.DataFrame]] = {suffix: fmt.read for suffix, fmt in _BY_SUFFIX.items()}


def table_format(path: Path) -> TableFormat:
    """The format of ``path``: a Parquet folder, or the one its suffix names (else InputError)."""
    if is_parquet_folder(path):
        return PARQUET_FOLDER
    suffix = path.suffix.lower()
    fmt = _BY_SUFFIX.get(suffix)
    if fmt is None:
        raise InputError(
            f"cannot read {path}: unsupported file type {suffix or '(no suffix)'!r}",
            fix=f"convert or rename it to one of {', '.join(READERS)}",
        )
    return fmt


def _given_options(fmt: TableFormat, path: Path, **options: Any) -> dict[str, Any]:
    """The options given (not None), once checked to apply to ``fmt``."""
    given = {name: value for name, value in options.items() if value is not None}
    for name in given:
        if name not in fmt.options:
            applies_to = [sfx for sfx, other in _BY_SUFFIX.items() if name in other.options]
            raise InputError(
                f"--{name} applies only to {', '.join(applies_to)} files, not to {path}",
                fix=f"remove --{name}",
            )
    return given


def read_table(
    path: PathLike,
    *,
    encoding: str | None = None,
    sql: str | None = None,
    sheet: str | int | None = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Read a data file into a DataFrame, choosing the reader by file suffix.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Supported suffixes are the keys of :data:`READERS`; a folder
        with no suffix or ``.parquet`` is read as a Parquet data set (parts as
        Spark or Hive write them).
    encoding : str, optional
        Text and JSON files only: force this encoding instead of detecting it.
    sql : str, optional
        Database files only (required for them): the SELECT query to run.
    sheet : str or int, optional
        Excel files only: the sheet name or 0-based position; default the first.
    n_jobs : int, optional
        Threads for the work that can be shared (typing a CSV's columns): None
        (the default) or 1 for one job in this thread, -1 for every CPU. The
        table read does not depend on it.

    Returns
    -------
    pandas.DataFrame
        The table with a default ``RangeIndex``. Only empty cells are missing;
        dtypes are inferred by pandas (a column with stray text stays text).

    Raises
    ------
    InputError
        The file is missing, unreadable, empty, malformed, of an unsupported
        type, or an option does not apply to it.
    """
    n_jobs = check_n_jobs(n_jobs)
    path = Path(path).expanduser()
    fmt = table_format(path)
    given = _given_options(fmt, path, encoding=encoding, sql=sql, sheet=sheet)
    if fmt is not PARQUET_FOLDER and check_readable(path) == 0:
        raise empty_error(path)
    frame = fmt.read(path, **given, **fmt.jobs(n_jobs))
    check_unique_columns(frame.columns, path)
    return frame


def iter_table(path: PathLike, *, chunksize: int = 500_000, encoding: str | None = None,
               sql: str | None = None, n_jobs: int | None = None) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of at most ``chunksize`` rows, with bounded memory.

    Text files are parsed chunk by chunk and Parquet files (and folders) batch
    by batch, so files larger than memory work; other types are read whole and
    then sliced. The checks of :func:`read_table` (existence, encoding,
    delimiter, empty file, options that do not apply) apply; ``n_jobs`` is passed
    to :func:`read_table` for a table read whole.
    """
    p = Path(path).expanduser()
    fmt = table_format(p)
    if fmt.chunks is None:
        frame = read_table(p, encoding=encoding, sql=sql, n_jobs=n_jobs)
        for start in range(0, len(frame), chunksize):
            yield frame.iloc[start:start + chunksize].reset_index(drop=True)
        return
    given = _given_options(fmt, p, encoding=encoding, sql=sql)
    if fmt is not PARQUET_FOLDER:
        check_readable(p)
    yield from fmt.chunks(p, chunksize, **given)


def read_head(path: PathLike, rows: int, *, encoding: str | None = None,
              n_jobs: int | None = None) -> pd.DataFrame:
    """The first ``rows`` rows of a table, with the checks of :func:`iter_table`.

    Text and Parquet files are read only as far as needed (for inferring a spec
    from a file too large to read whole, say); other types are read whole.
    """
    chunks = iter_table(path, chunksize=rows, encoding=encoding, n_jobs=n_jobs)
    try:
        return next(chunks)
    finally:
        chunks.close()
