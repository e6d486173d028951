"""Reading data files and writing outputs atomically: the file-system edge.

Everything that touches files lives here, so the core modules stay pure.

Reading
    :func:`read_table` dispatches on the file suffix through one registry,
    :data:`READERS`. Text files get their encoding and delimiter detected; only
    truly empty cells become missing (``"NaN"``, ``"inf"``, ``"-"`` and ``"n/a"``
    stay text for the validator to report). :func:`read_text` reads small text
    files such as ``spec.toml``. Every failure a user can fix raises
    :class:`~custseg.errors.InputError` with a one-line message: the problem,
    the file, and the fix.

Writing
    :func:`atomic_output_dir` builds a run directory under a hidden temporary
    name and renames it into place only when the run completes, so a killed or
    failed run never leaves a half-written directory behind and an old run is
    replaced only by a complete new one (:func:`check_output_dir` runs its
    checks early, before a long computation). :func:`atomic_file` and
    :func:`atomic_write_file` do the same for single files; :func:`write_csv`,
    :func:`write_parquet` and :func:`write_json` use them. Failures raise
    :class:`~custseg.errors.OutputError`.

CSV exports pass through :func:`neutralise_formulas` once, at write time, so a
cell such as ``=HYPERLINK(...)`` is not run as a formula by a spreadsheet.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import errno
import hashlib
import inspect
import itertools
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, OutputError

__all__ = [
    "READERS",
    "read_table",
    "read_text",
    "check_output_dir",
    "neutralise_cell",
    "neutralise_formulas",
    "write_csv",
    "csv_quoting",
    "format_floats",
    "csv_text_cells",
    "csv_header",
    "csv_lines",
    "write_parquet",
    "write_json",
    "atomic_output_dir",
    "atomic_file",
    "atomic_write_file",
    "file_sha256",
    "source_sha256",
    "data_files",
    "iter_table",
    "read_head",
    "is_url",
    "unreadable_parquet_error",
]

PathLike = str | os.PathLike[str]

# How much of a text file is decoded to sniff its delimiter.
_SAMPLE_BYTES = 64 * 1024
# How much of a text file is searched for NUL bytes.
_BINARY_PROBE_BYTES = 8 * 1024
# Chunk size when streaming a whole file (decoding checks, hashing).
_CHUNK_BYTES = 1024 * 1024

_DELIMITERS = ",;\t|"
_WHITESPACE_SEP = r"\s+"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

# Only an empty cell is missing; "NaN", "inf", "-", "n/a" stay as text.
_NA_OPTIONS: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}

_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at byte offset 8
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other old Office files)

# What a binary file probably is, to make the "looks binary" message useful.
_MAGIC_HINTS = (
    (b"PAR1", "a Parquet file; rename it to .parquet"),
    (b"PK\x03\x04", "a zip archive such as an Excel workbook; rename it to .xlsx"),
    (_OLE_MAGIC, "an old Excel (.xls) workbook; rename it to .xls"),
    (_SQLITE_MAGIC, "an SQLite database; rename it to .sqlite and pass --sql"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first (gunzip)"),
)


# --------------------------------------------------------------------------- reading


def read_table(
    path: PathLike,
    *,
    encoding: str | None = None,
    sql: str | None = None,
    sheet: str | int | None = None,
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
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    reader = _read_parquet_folder if _is_parquet_folder(path) else READERS.get(suffix)
    if reader is None:
        raise InputError(
            f"cannot read {path}: unsupported file type {suffix or '(no suffix)'!r}",
            fix=f"convert or rename it to one of {', '.join(READERS)}",
        )
    options = {"encoding": encoding, "sql": sql, "sheet": sheet}
    given = {name: value for name, value in options.items() if value is not None}
    for name in given:
        if name not in _reader_options(reader):
            applies_to = [sfx for sfx, fn in READERS.items() if name in _reader_options(fn)]
            raise InputError(
                f"--{name} applies only to {', '.join(applies_to)} files, not to {path}",
                fix=f"remove --{name}",
            )
    if reader is not _read_parquet_folder and _check_readable(path) == 0:
        raise _empty_error(path)
    frame = reader(path, **given)
    _check_unique_columns(frame.columns, path)
    return frame


def _reader_options(reader: Callable[..., pd.DataFrame]) -> set[str]:
    """The keyword options (``encoding``, ``sql``, ``sheet``) a reader accepts."""
    return set(inspect.signature(reader).parameters) - {"path"}


def _check_readable(path: Path) -> int:
    """Raise InputError unless ``path`` is an existing, readable file; return its size."""
    try:
        status = path.stat()
        if stat.S_ISDIR(status.st_mode):
            raise InputError(
                f"{path} is a directory, not a data file", fix="pass the path of a file inside it"
            )
        with path.open("rb") as handle:
            handle.read(1)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if path.is_symlink():
            raise InputError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist",
                fix="point the link at the data file, or pass the file's own path",
            ) from exc
        raise InputError(f"file not found: {path}", fix=_not_found_fix(path)) from exc
    except PermissionError as exc:
        raise InputError(
            f"cannot read {path}: permission denied",
            fix="check the file permissions (e.g. chmod u+r) or copy it somewhere readable",
        ) from exc
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}", fix="check the file and the disk"
        ) from exc
    return status.st_size


def _not_found_fix(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return f"check the path; the folder {parent} does not exist either"
    try:
        siblings = os.listdir(parent)
    except OSError:
        return "check the path"
    siblings = [name for name in siblings if name != path.name]
    close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
    if close:
        return f"check the path; did you mean {parent / close[0]}?"
    return f"check the path (relative paths start at {Path.cwd()})"


def _empty_error(where: object) -> InputError:
    return InputError(f"{where} is empty", fix="check that you picked the right file")


def _no_rows_error(where: object, what: str = "has no data rows") -> InputError:
    return InputError(f"{where} {what}", fix="check that you picked the right file (or sheet)")


def _check_unique_columns(columns: pd.Index, where: object) -> None:
    _raise_on_duplicates([str(c) for c in columns], where)


def _raise_on_duplicates(names: list[str], where: object) -> None:
    """Raise InputError naming the duplicated names (empty names are ignored)."""
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        if name != "":
            positions.setdefault(name, []).append(number)
    duplicated = {name: pos for name, pos in positions.items() if len(pos) > 1}
    if duplicated:
        listed = ", ".join(
            f"{name!r} (columns {', '.join(map(str, pos))})" for name, pos in duplicated.items()
        )
        raise InputError(
            f"{where} has duplicate column names: {listed}",
            fix="rename the columns so that each name is unique",
        )


def iter_table(path: PathLike, *, chunksize: int = 500_000, encoding: str | None = None,
               sql: str | None = None) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of at most ``chunksize`` rows, with bounded memory.

    Text files are parsed chunk by chunk and Parquet files batch by batch, so files
    larger than memory work; other types are read whole and then sliced. The
    checks of :func:`read_table` (existence, encoding, delimiter, empty file)
    apply.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if _is_parquet_folder(p) and sql is None and encoding is None:
        dataset = _parquet_folder(p)
        yield from _parquet_chunks(
            p, lambda: dataset.scanner(batch_size=chunksize, use_threads=False).to_batches(),
            _unreadable_part_error)
        return
    if suffix in (".csv", ".tsv", ".txt"):
        _check_readable(p)
        codec, sep, _ = sniff_text(p, encoding)
        options: dict[str, Any] = {"sep": sep, "encoding": codec, **_NA_OPTIONS}
        try:
            reader = pd.read_csv(p, chunksize=chunksize, low_memory=False, **options)
            rows = 0
            for number, chunk in enumerate(reader):
                if not len(chunk):  # a header-only file still gives one empty chunk
                    continue
                if number == 0:
                    _check_first_text_chunk(chunk, p, options)
                rows += len(chunk)
                chunk = _keep_infinity_as_text_in_chunk(chunk.reset_index(drop=True), p, options,
                                                        chunksize, number)
                yield chunk
            if not rows:
                raise _no_rows_error(p, "has a header but no data rows")
        except pd.errors.EmptyDataError as exc:
            raise _empty_error(p) from exc
        except pd.errors.ParserError as exc:
            raise _parser_error(p, exc, sep) from exc
        return
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        _check_readable(p)
        yield from _parquet_chunks(
            p, lambda: pq.ParquetFile(p).iter_batches(batch_size=chunksize),
            unreadable_parquet_error)
        return
    frame = read_table(p, encoding=encoding, sql=sql)
    for start in range(0, len(frame), chunksize):
        yield frame.iloc[start:start + chunksize].reset_index(drop=True)


def is_url(source: PathLike) -> bool:
    """Whether ``source`` is a URL with a scheme (``hdfs://``, ``s3a://``, ``file://``, ...)."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(source)) is not None


def _parquet_chunks(path: Path, open_batches: Callable[[], Iterator[Any]],
                    unreadable: Callable[[Path], InputError]) -> Iterator[pd.DataFrame]:
    """The non-empty Arrow batches ``open_batches()`` gives (opened here, so that a
    file that cannot be opened fails the same way as one that breaks midway) as
    DataFrames; ``unreadable(path)`` is raised for a broken file, and a table with no
    rows fails. (An empty chunk, from an empty part or row group, would fail a
    consumer's per-chunk checks as "no rows".)"""
    import pyarrow as pa

    any_rows = False
    try:
        for batch in open_batches():
            if batch.num_rows:
                any_rows = True
                yield batch.to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise unreadable(path) from exc
    if not any_rows:
        raise _no_rows_error(path)


def read_head(path: PathLike, rows: int, *, encoding: str | None = None) -> pd.DataFrame:
    """The first ``rows`` rows of a table, with the checks of :func:`iter_table`.

    Text and Parquet files are read only as far as needed (for inferring a spec
    from a file too large to read whole, say); other types are read whole.
    """
    chunks = iter_table(path, chunksize=rows, encoding=encoding)
    try:
        return next(chunks)
    finally:
        chunks.close()


def read_text(path: PathLike, *, encoding: str | None = None) -> str:
    """Read a small text file such as ``spec.toml`` (UTF-8, a BOM is dropped).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    encoding : str, optional
        Its encoding; default UTF-8 (what TOML requires).

    Returns
    -------
    str
        The whole text, with universal newlines (``\r\n`` becomes ``\n``).

    Raises
    ------
    InputError
        The file is missing, a directory, unreadable or not valid in ``encoding``.
    """
    path = Path(path).expanduser()
    _check_readable(path)
    codec = encoding or "utf-8-sig"
    try:
        error = _first_decode_error(path, codec)
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r} for {path}", fix="pass utf-8 or latin-1") from exc
    if error is not None:
        raise InputError(
            f"{path} is not valid {encoding or 'UTF-8'} text at {_describe_position(error, codec)}",
            fix="re-save it as UTF-8",
        )
    with path.open(encoding=codec, newline=None) as handle:
        return handle.read()


# ------------------------------------------------------------------ text: encoding


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _is_wide(encoding: str) -> bool:
    """True for encodings whose text contains NUL bytes (UTF-16, UTF-32)."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _bom_encoding(head: bytes) -> str | None:
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _first_decode_error(path: Path, encoding: str) -> tuple[int, int, int] | None:
    """Decode the whole file in chunks.

    Returns (byte offset from 0, line from 1, byte column from 1) of the first
    undecodable byte, or None if the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0  # bytes fed to the decoder so far
    newlines = 0  # b"\n" seen before ``offset``
    line_start = 0  # offset of the byte after the last b"\n" before ``offset``
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK_BYTES)
            final = not chunk
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                base = offset - len(pending)  # absolute offset of data[0]
                start = base + exc.start
                line = newlines - pending.count(b"\n") + data[: exc.start].count(b"\n") + 1
                last = data.rfind(b"\n", 0, exc.start)
                column = start - (base + last + 1 if last >= 0 else line_start) + 1
                return start, line, column
            if final:
                return None
            last = chunk.rfind(b"\n")
            if last >= 0:
                line_start = offset + last + 1
            offset += len(chunk)
            newlines += chunk.count(b"\n")


def _describe_position(error: tuple[int, int, int], encoding: str) -> str:
    offset, line, column = error
    if _is_wide(encoding):  # counting b"\n" does not count lines of UTF-16 text
        return f"byte offset {offset}"
    return f"line {line}, column {column} (byte offset {offset})"


def _binary_error(path: Path, head: bytes) -> InputError:
    hint = next((text for magic, text in _MAGIC_HINTS if head.startswith(magic)), None)
    if hint is None and head[8:12] == _DUCKDB_MAGIC:
        hint = "a DuckDB database; rename it to .duckdb and pass --sql"
    if hint is not None:
        fix = f"it looks like {hint}"
    else:
        fix = (
            "check that it is the data file you meant; if it is UTF-16 text without a "
            "byte-order mark, pass --encoding utf-16-le"
        )
    return InputError(f"{path} looks binary, not text", fix=fix)


def _resolve_encoding(path: Path, forced: str | None) -> str:
    """Return the codec to read ``path`` with, checking that the whole file decodes."""
    head = _read_head(path, _SAMPLE_BYTES)
    if forced is not None:
        try:
            encoding = codecs.lookup(forced).name
        except LookupError as exc:
            raise InputError(
                f"unknown encoding {forced!r} for {path}",
                fix="pass --encoding utf-8, latin-1, cp1252 or utf-16",
            ) from exc
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"  # do not glue the BOM to the first column name
        if not _is_wide(encoding) and b"\x00" in head[:_BINARY_PROBE_BYTES]:
            raise _binary_error(path, head)
        error = _first_decode_error(path, encoding)
        if error is not None:
            first, second = [e for e in ("latin-1", "cp1252", "utf-8") if e != encoding][:2]
            raise InputError(
                f"cannot decode {path} as {forced} at {_describe_position(error, encoding)}",
                fix=f"pass --encoding {first} (or {second}), or omit --encoding to detect it",
            )
        return encoding

    encoding = _bom_encoding(head)
    if encoding is not None:
        error = _first_decode_error(path, encoding)
        if error is not None:
            raise InputError(
                f"{path} starts with a {encoding} byte-order mark but is not valid {encoding} "
                f"at {_describe_position(error, encoding)}",
                fix="re-save it as UTF-8, or pass --encoding latin-1",
            )
        return encoding
    if b"\x00" in head[:_BINARY_PROBE_BYTES] or head.startswith(b"\x1f\x8b"):
        raise _binary_error(path, head)
    for candidate in ("utf-8", "cp1252"):
        if _first_decode_error(path, candidate) is None:
            return candidate
    return "latin-1"  # decodes any byte sequence


def _decode_text(path: Path, encoding: str, limit: int | None = None) -> tuple[str, bool]:
    """Decode the first ``limit`` bytes (all if None); also say whether that was all."""
    with path.open("rb") as handle:
        raw = handle.read() if limit is None else handle.read(limit)
        complete = limit is None or not handle.read(1)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    return decoder.decode(raw, final=complete), complete


# ------------------------------------------------------------------ text: delimiter


def _sniff_delimiter(sample: str, complete: bool) -> str:
    """Choose the separator: one of ``, ; TAB |``, or ``\\s+`` for padded columns.

    ``csv.Sniffer`` (restricted to the four delimiters) goes first; its answer is
    kept if the header line contains it. Otherwise the delimiter most frequent in
    the header line wins; failing that, lines that split on runs of whitespace into
    the same number (>= 2) of fields, with padding (leading blanks or a run of two
    or more) somewhere, mean a whitespace-padded file; else comma (one column).
    """
    if not complete and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # drop the cut-off last line
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and sniffed in header:
        return sniffed
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])  # ties: first in _DELIMITERS
    if counts[best] > 0:
        return best
    head = lines[:50]
    widths = {len(line.split()) for line in head}
    padded = any(line[:1].isspace() or "  " in line for line in head)
    if padded and len(widths) == 1 and widths.pop() >= 2:
        return _WHITESPACE_SEP
    return sniffed or ","


def _delimiter_name(sep: str) -> str:
    if sep == _WHITESPACE_SEP:
        return "whitespace"
    return f"{_DELIMITER_NAMES.get(sep, 'delimiter')} {sep!r}"


# ------------------------------------------------------------------------ text reader

_EXPECTED_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_IN_STRING = re.compile(r"EOF inside string starting at row (\d+)")


def sniff_text(path: Path, encoding: str | None = None) -> tuple[str, str, str]:
    """Encoding, delimiter and a decoded sample of a delimited text file.

    The one place the readers (and ``assign``'s and ``rfm``'s fast paths) look at a
    text file's start: an empty file is an error here, so they all say the same.
    """
    codec = _resolve_encoding(path, encoding)
    sample, complete = _decode_text(path, codec, _SAMPLE_BYTES)
    if complete and not sample.strip():
        raise _empty_error(path)
    return codec, _sniff_delimiter(sample, complete), sample


def _read_text(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read delimited text (``.csv``, ``.tsv``, ``.txt``)."""
    codec, sep, sample = sniff_text(path, encoding)
    frame = _read_text_arrow(path, codec, sep, sample)
    if frame is not None:
        return frame
    options: dict[str, Any] = {"sep": sep, "encoding": codec, **_NA_OPTIONS}
    try:
        # low_memory=False: each column is typed as a whole, so a column with
        # stray text is text throughout instead of a mix of numbers and strings.
        frame = pd.read_csv(path, low_memory=False, **options)
    except pd.errors.EmptyDataError as exc:
        raise _empty_error(path) from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc, sep) from exc
    _check_first_text_chunk(frame, path, options)
    if frame.empty and len(frame.columns):
        raise _no_rows_error(path, "has a header but no data rows")
    return _keep_infinity_as_text(frame, path, options)


# How the pyarrow reader types a text column (read as text) as pandas would: these
# exact forms are converted; a column of values that merely look numeric or boolean
# (blanks, "+", "_", "inf", "nan", other spellings) is left to pandas.
_INT_TEXT = r"^-?[0-9]{1,18}$"
_FLOAT_TEXT = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
_LONG_INT_TEXT = r"^-?[0-9]{19,}$"
_BOOL_TEXT = r"^(?:True|TRUE|true|False|FALSE|false)$"
_MAYBE_NUMBER_OR_BOOL = (r"(?i)^\s*[-+]?(?:[0-9_]*\.?[0-9_]*(?:e[-+]?[0-9_]+)?"
                         r"|inf|infinity|nan|true|false)\s*$")


def _read_text_arrow(path: Path, codec: str, sep: str, sample: str) -> pd.DataFrame | None:
    """The table pandas would read, read by pyarrow's multi-threaded CSV reader; or None.

    Every column is read as text, then typed the way pandas types it: integers
    (``-?digits``), floats (plain decimal or exponent forms), booleans
    (``True``/``true``/``TRUE`` and the same for false, no gaps), an empty column as
    float NaN, else text. None (read with pandas instead, which also words the
    errors) unless the file is UTF-8 with one of the four delimiters, has unique
    non-empty column names and at least one data row, and no column is made only of
    values that pandas might read as numbers or booleans in another way.
    """
    import io as _io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if codec not in ("utf-8", "utf-8-sig") or sep not in _DELIMITERS:
        return None
    try:
        header = next(csv.reader(_io.StringIO(sample.lstrip("\ufeff")), delimiter=sep))
    except (StopIteration, csv.Error):
        return None
    if "" in header or len(set(header)) != len(header):
        return None
    try:
        table = pa_csv.read_csv(
            path, parse_options=pa_csv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header}, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True))
    except (pa.ArrowException, ValueError, OSError):
        return None
    if table.schema.names != header or table.num_rows == 0:
        return None
    # the columns are typed in threads: Arrow's regular expressions release the GIL
    with ThreadPoolExecutor(max_workers=min(4, len(header))) as pool:
        typed = list(pool.map(_typed_text_column, table.columns))
    if any(c is None for c in typed):
        return None
    columns: dict[str, Any] = dict(zip(header, typed, strict=True))
    return pd.DataFrame(columns)


def _typed_text_column(column: Any) -> Any:
    """A text column typed as pandas types it (see :func:`_read_text_arrow`); or None.

    Each pattern is tried on the first values before the whole column, so a column
    is usually scanned once: a float column skips the integer scan.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):  # an empty column: pandas gives float NaN
        return np.full(len(column), np.nan)
    head = column.slice(0, 1_000)

    def every(pattern: str) -> bool:
        return (bool(pc.all(pc.match_substring_regex(head, pattern)).as_py())
                and bool(pc.all(pc.match_substring_regex(column, pattern)).as_py()))

    if every(_INT_TEXT):
        converted = pc.cast(column, pa.int64())
        return (converted.to_numpy() if not column.null_count
                else converted.to_numpy().astype(np.float64))
    if every(_FLOAT_TEXT):
        longest = pc.max(pc.utf8_length(column)).as_py() or 0
        if longest >= 19 and pc.any(pc.match_substring_regex(column, _LONG_INT_TEXT)).as_py():
            return None  # pandas may read integers beyond int64 as uint64 or objects
        values = pc.cast(column, pa.float64()).to_numpy()
        if np.isinf(values).any():
            return None  # 1e400: pandas keeps the text
        return values
    if every(_BOOL_TEXT) and not column.null_count:
        return pc.is_in(column, pa.array(["True", "TRUE", "true"])).to_numpy()
    if every(_MAYBE_NUMBER_OR_BOOL):
        return None
    return pd.Series(pd.array(column, dtype="str"))


def _check_first_text_chunk(frame: pd.DataFrame, path: Path, options: dict[str, Any]) -> None:
    """What pandas does silently to a delimited file, as errors (the whole file or its first chunk)."""
    start = frame.index[0] if len(frame) and isinstance(frame.index, pd.RangeIndex) else 0
    if not frame.index.equals(pd.RangeIndex(start, start + len(frame))):
        # More fields in the data than in the header: pandas silently used the
        # extra leading field(s) as the index.
        header_fields = frame.shape[1]
        raise InputError(
            f"line 2 of {path} has {header_fields + frame.index.nlevels} fields "
            f"but the header has {header_fields}",
            fix=_ragged_fix(options["sep"]),
        )
    if _looks_mangled(frame.columns):  # pandas renamed a repeated name "a" to "a.1"
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
        _raise_on_duplicates(["" if pd.isna(v) else str(v) for v in raw.iloc[0]], path)


def _keep_infinity_as_text(frame: pd.DataFrame, path: Path, options: dict[str, Any]) -> pd.DataFrame:
    """Re-read as text the float columns where pandas turned a word into infinity.

    pandas' float parser reads ``inf``, ``-Infinity`` and overflowing numbers
    such as ``1e500`` as infinite; like ``"NaN"`` (which it keeps as text) they
    must reach the validator as the text the file holds.
    """
    positions = _infinite_columns(frame)
    if not positions:
        return frame
    text = pd.read_csv(path, usecols=positions, dtype=str, low_memory=False, **options)
    for index, position in enumerate(positions):
        frame.isetitem(position, text.iloc[:, index])
    return frame


def _infinite_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the float columns holding an infinity."""
    return [
        position
        for position, dtype in enumerate(frame.dtypes.tolist())
        if dtype == np.float64 and np.isinf(frame.iloc[:, position].to_numpy()).any()
    ]


def _keep_infinity_as_text_in_chunk(chunk: pd.DataFrame, path: Path, options: dict[str, Any],
                                    chunksize: int, number: int) -> pd.DataFrame:
    """:func:`_keep_infinity_as_text` for chunk ``number`` of a chunked read.

    Only a chunk with an infinity pays: the file is read again as text, up to
    that chunk (such a value is an error the validator reports, so this happens
    at most once per run).
    """
    positions = _infinite_columns(chunk)
    if not positions:
        return chunk
    text_chunks = pd.read_csv(path, usecols=positions, dtype=str, chunksize=chunksize,
                              low_memory=False, **options)
    with text_chunks:
        text = next(itertools.islice(text_chunks, number, None))
    for index, position in enumerate(positions):
        chunk.isetitem(position, text.iloc[:, index].to_numpy())
    return chunk


def _ragged_fix(sep: str) -> str:
    if sep == _WHITESPACE_SEP:
        return 'quote values that contain spaces (e.g. "New York")'
    example = "" if sep == "\t" else f' (e.g. "Smith{sep} John")'
    return f"quote fields that contain the {_delimiter_name(sep)}{example}, or remove the extra delimiter"


def _parser_error(path: Path, exc: pd.errors.ParserError, sep: str) -> InputError:
    text = str(exc)
    match = _EXPECTED_FIELDS.search(text)
    if match:
        expected, line, saw = match.groups()
        return InputError(
            f"line {line} of {path} has {saw} fields but the header has {expected}",
            fix=_ragged_fix(sep),
        )
    match = _EOF_IN_STRING.search(text)
    if match:
        return InputError(
            f"{path} has an unclosed quote starting at line {int(match.group(1)) + 1}",
            fix='close the quote, and double any quote inside a quoted field ("")',
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return InputError(f"cannot parse {path}: {first}", fix="check the file is delimited text")


def _looks_mangled(columns: pd.Index) -> bool:
    """Whether pandas may have renamed duplicate names (``a``, ``a.1``)."""
    names = {str(c) for c in columns}
    for name in names:
        base, dot, number = name.rpartition(".")
        if dot and number.isdigit() and base in names:
            return True
    return False


# ------------------------------------------------------------------ parquet, Excel


def _read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file (``.parquet``, ``.pq``)."""
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise unreadable_parquet_error(path) from exc
    return _checked_parquet_frame(frame, path)


def _checked_parquet_frame(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A table read from Parquet, refused when empty, with a stored index made plain."""
    if not len(frame.columns):
        raise _empty_error(path)
    if frame.empty:
        raise _no_rows_error(path)
    if frame.index.equals(pd.RangeIndex(len(frame))):
        return frame
    # A stored index: keep named levels (e.g. customer_id) as columns.
    named = [name for name in frame.index.names if name is not None]
    return frame.reset_index(level=named or None, drop=not named).reset_index(drop=True)


def data_files(folder: Path) -> list[Path]:
    """The data files of a folder data set, sorted by relative path: every file below
    it but those whose name or folder starts with ``.`` or ``_`` (``_SUCCESS``,
    ``.part-0.crc``), which Spark, Hive and Arrow also pass over."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and not any(
        part.startswith((".", "_")) for part in f.relative_to(folder).parts))


def _is_parquet_folder(path: Path) -> bool:
    """A folder named like a Parquet file or with no suffix (``customers/``,
    ``segments.parquet/``); a folder named ``data.csv`` is taken for a mistake."""
    return path.suffix.lower() in ("", ".parquet", ".pq") and path.is_dir()


def _parquet_folder(path: Path):
    """A pyarrow data set of the Parquet parts under ``path`` in sorted order, with
    Hive-style partition folders (``region=1/``) as columns."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    parts = data_files(path)
    if not parts:
        raise InputError(f"{path} is a folder with no data files",
                         fix="pass a data file, or a folder of Parquet parts")
    try:
        return ds.dataset([str(f) for f in parts], format="parquet", partitioning="hive",
                          partition_base_dir=str(path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a folder of readable Parquet parts ({exc})",
                         fix="pass a data file, or a folder that holds only Parquet parts") \
            from exc


def _read_parquet_folder(path: Path) -> pd.DataFrame:
    """Read a folder of Parquet parts (as Spark writes ``name.parquet/``) as one table."""
    import pyarrow as pa

    dataset = _parquet_folder(path)
    try:
        frame = dataset.to_table(use_threads=True).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable_part_error(path) from exc
    return _checked_parquet_frame(frame, path)


def unreadable_parquet_error(path: object) -> InputError:
    """The error for a Parquet file that cannot be read (every reader raises this one)."""
    return InputError(f"{path} is not a readable Parquet file (truncated or corrupted?)",
                      fix="write it again, or check that it was copied completely")


def _unreadable_part_error(path: Path) -> InputError:
    return InputError(f"{path} holds a Parquet part that cannot be read (truncated or "
                      "corrupted?)", fix="write it again, or check that it was copied completely")


def _read_excel(path: Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read one sheet of an Excel workbook (``.xlsx``, ``.xlsm``, ``.xls``)."""
    head = _read_head(path, 8)
    try:
        book = pd.ExcelFile(path)
    except ImportError as exc:
        raise InputError(
            f"reading {path} needs an optional package: {str(exc).splitlines()[0]}",
            fix="pip install xlrd (for .xls), or save the workbook as .xlsx or .csv",
        ) from exc
    except Exception as exc:  # a corrupt workbook raises whatever the parser trips on
        kind = "old-style .xls" if head.startswith(_OLE_MAGIC) else path.suffix
        raise InputError(
            f"{path} is not a readable Excel file (truncated, corrupted, "
            f"password-protected, or not really {kind}?)",
            fix="open it in Excel and save it again as .xlsx, or export the sheet as .csv",
        ) from exc
    with book:
        names = list(book.sheet_names)
        chosen = names[0] if sheet is None else sheet
        if isinstance(chosen, str) and chosen not in names and chosen.isdigit():
            chosen = int(chosen)  # "--sheet 1" from the command line
        if isinstance(chosen, int):
            if not 0 <= chosen < len(names):
                raise InputError(
                    f"{path} has no sheet number {chosen} (it has {len(names)}: "
                    f"{', '.join(map(repr, names))})",
                    fix="pass --sheet with a sheet name, or a number from 0",
                )
        elif chosen not in names:
            raise InputError(
                f"{path} has no sheet named {chosen!r} (sheets: {', '.join(map(repr, names))})",
                fix="pass --sheet with one of these names",
            )
        try:
            frame = pd.read_excel(book, sheet_name=chosen, **_NA_OPTIONS)
            header = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1)
        except Exception as exc:  # as above: corrupt sheet XML
            raise InputError(
                f"cannot read sheet {chosen!r} of {path}: {str(exc).splitlines()[0]}",
                fix="open it in Excel and save it again, or export the sheet as .csv",
            ) from exc
    where = f"sheet {chosen!r} of {path}"  # used in messages
    if not len(frame.columns):
        raise InputError(f"{where} is empty", fix="pass --sheet to pick the sheet with the data")
    if len(header):
        _raise_on_duplicates(["" if pd.isna(v) else str(v) for v in header.iloc[0]], where)
    if frame.empty:
        raise _no_rows_error(where, "has a header but no data rows")
    return frame


# ---------------------------------------------------------------------------- JSON


def _json_records(path: Path, items: list[Any], labels: list[str]) -> pd.DataFrame:
    """Build the frame from JSON records; ``labels`` say where each one is."""
    for item, label in zip(items, labels, strict=True):
        if not isinstance(item, dict):
            raise InputError(
                f"{label} of {path} is a JSON {type(item).__name__}, not an object",
                fix='make every record an object such as {"customer_id": 1, "CLV": 9.5}',
            )
    if not items:
        raise _no_rows_error(path)
    return pd.DataFrame(items)


def _read_json_lines(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read JSON lines (``.jsonl``, ``.ndjson``): one JSON object per line."""
    text, _ = _decode_text(path, _resolve_encoding(path, encoding))
    if not text.strip():
        raise _empty_error(path)
    return _parse_json_lines(path, text)


def _parse_json_lines(path: Path, text: str) -> pd.DataFrame:
    records: list[Any] = []
    labels: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            _raise_if_single_object(path, text)
            raise InputError(
                f"line {number} of {path} is not valid JSON: {exc.msg} at column {exc.colno}",
                fix="write one JSON object per line (JSON lines), or a JSON array of objects",
            ) from exc
        labels.append(f"line {number}")
    return _json_records(path, records, labels)


def _raise_if_single_object(path: Path, text: str) -> None:
    """Explain a file holding one multi-line JSON object instead of records."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return
    if isinstance(document, dict):
        keys = ", ".join(map(str, list(document)[:5]))
        raise InputError(
            f"{path} holds a single JSON object (keys: {keys}), not one record per line",
            fix="write a JSON array of records, or one JSON object per line (JSON lines)",
        )


def _read_json(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read ``.json``: a JSON array of objects, or JSON lines."""
    text, _ = _decode_text(path, _resolve_encoding(path, encoding))
    stripped = text.lstrip()
    if not stripped:
        raise _empty_error(path)
    if not stripped.startswith("["):
        return _parse_json_lines(path, text)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            fix="fix the JSON syntax there (a missing comma or quote?)",
        ) from exc
    if not isinstance(items, list):
        items = [items]
    return _json_records(path, items, [f"item {number}" for number in range(len(items))])


# ------------------------------------------------------------------------ databases

_QUERY_START = re.compile(r"\A(?:\s|--[^\n]*|/\*.*?\*/)*(\w+)", re.DOTALL)
_QUERY_WORDS = {"select", "with", "from", "values", "table"}


def _read_database(path: Path, *, sql: str | None = None) -> pd.DataFrame:
    """Run a SELECT query on a DuckDB or SQLite file (sniffed from its first bytes).

    DuckDB files are opened read-only with file-system access disabled, so a
    query cannot read other files; SQLite files are opened read-only with
    python's ``sqlite3`` (duckdb's sqlite extension needs a download) and run
    SQLite's SQL dialect.
    """
    head = _read_head(path, 16)
    if head.startswith(_SQLITE_MAGIC):
        engine = "SQLite"
    elif head[8:12] == _DUCKDB_MAGIC:
        engine = "DuckDB"
    else:
        raise InputError(
            f"{path} is not a DuckDB or SQLite database",
            fix="check the file; for a text export use the .csv suffix",
        )
    run, tables = _SQL_ENGINES[engine]
    if sql is None or not sql.strip():
        listed = ", ".join(tables(path)) or "none"
        raise InputError(
            f"{path} is a {engine} database, so it needs a query (tables: {listed})",
            fix='pass --sql "SELECT * FROM <table>"',
        )
    match = _QUERY_START.match(sql)
    if match is None or match.group(1).lower() not in _QUERY_WORDS:
        raise InputError(
            f"--sql must be a SELECT query, got {sql.strip()[:60]!r}",
            fix='pass a query such as "SELECT * FROM customers"',
        )
    frame = run(path, sql)
    if frame.empty:
        raise InputError(f"the query returned no rows from {path}", fix="check the table and WHERE clause")
    return frame


def _sql_problem(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # Keep duckdb's "Did you mean ...?" hint, drop the echoed query and caret.
    hints = [line for line in lines[1:2] if line.startswith("Did you mean")]
    return " ".join([lines[0], *hints])


def _duckdb_connect(path: Path) -> Any:
    import duckdb

    config = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "enable_external_access": False,
    }
    try:
        return duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise InputError(
            f"cannot open DuckDB database {path}: {_sql_problem(exc)}",
            fix="check that no other program holds it open for writing, and the duckdb version",
        ) from exc


def _duckdb_query(path: Path, sql: str) -> pd.DataFrame:
    import duckdb

    with _duckdb_connect(path) as con:
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            raise InputError(
                f"the query on {path} failed: {_sql_problem(exc)}",
                fix="correct the --sql query",
            ) from exc


def _duckdb_tables(path: Path) -> list[str]:
    with _duckdb_connect(path) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()
    return [row[0] for row in rows]


@contextlib.contextmanager
def _sqlite_connect(path: Path) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open SQLite database {path}: {exc}", fix="check the file") from exc
    try:
        con.execute("PRAGMA query_only = ON")
        yield con
    finally:
        con.close()


def _sqlite_query(path: Path, sql: str) -> pd.DataFrame:
    with _sqlite_connect(path) as con:
        try:
            cursor = con.execute(sql)
            rows = cursor.fetchall()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise InputError(
                f"the query on {path} failed: {_sql_problem(exc)}",
                fix="correct the --sql query (SQLite dialect)",
            ) from exc
        names = [column[0] for column in cursor.description or []]
    return pd.DataFrame.from_records(rows, columns=names)


def _sqlite_tables(path: Path) -> list[str]:
    with _sqlite_connect(path) as con:
        try:
            rows = con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            ).fetchall()
        except sqlite3.Error as exc:
            raise InputError(
                f"{path} is not a readable SQLite database: {exc}", fix="check the file"
            ) from exc
    return [row[0] for row in rows]


_SQL_ENGINES: dict[str, tuple[Callable[[Path, str], pd.DataFrame], Callable[[Path], list[str]]]]
_SQL_ENGINES = {
    "DuckDB": (_duckdb_query, _duckdb_tables),
    "SQLite": (_sqlite_query, _sqlite_tables),
}

#: File suffix -> reader. A reader takes the path plus the keyword options it
#: supports (``encoding``, ``sql``, ``sheet``); :func:`read_table` rejects the rest.
READERS: dict[str, Callable[..., pd.DataFrame]] = {
    ".csv": _read_text,
    ".tsv": _read_text,
    ".txt": _read_text,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
    ".xlsx": _read_excel,
    ".xlsm": _read_excel,
    ".xls": _read_excel,
    ".jsonl": _read_json_lines,
    ".ndjson": _read_json_lines,
    ".json": _read_json,
    ".duckdb": _read_database,
    ".ddb": _read_database,
    ".db": _read_database,
    ".sqlite": _read_database,
    ".sqlite3": _read_database,
}


# ------------------------------------------------------------------ neutralisation

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"  # the same prefixes as one regular expression
_NEGATIVE_NUMBER = re.compile(r"-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """Defuse one cell against spreadsheet formula injection.

    A string starting with ``=``, ``+``, ``@``, tab or carriage return, or with
    ``-`` unless the whole string is a plain number such as ``-12.5`` or
    ``-1e3``, gets a leading single quote, which spreadsheets show as text.

    Parameters
    ----------
    value : object
        The cell. Anything that is not a ``str`` is returned unchanged.

    Returns
    -------
    object
        The cell, with ``'`` prepended if needed. A neutralised cell starts with
        ``'``, so applying this twice gives the same result as applying it once.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        if value[0] == "-" and _NEGATIVE_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with string cells and column names neutralised.

    Applied once, at write time, by :func:`write_csv`; the data in memory and
    Parquet outputs keep the raw values. Numbers, missing values and other
    non-string cells are untouched; see :func:`neutralise_cell` for the rule.

    Parameters
    ----------
    df : pandas.DataFrame
        The table to export.

    Returns
    -------
    pandas.DataFrame
        A new frame; ``df`` itself is not modified.
    """
    out = df.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categories = [neutralise_cell(c) for c in dtype.categories]
            if len(set(categories)) == len(categories):
                out.isetitem(position, column.cat.rename_categories(categories))
            else:  # "=a" and "'=a" both present: fall back to plain objects
                out.isetitem(position, column.astype(object).map(neutralise_cell))
        elif isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
            if isinstance(dtype, pd.StringDtype):  # vectorised pre-filter, one pass
                starts = column.str.contains(_FORMULA_START, regex=True, na=False)
                candidates = np.flatnonzero(starts.to_numpy(dtype=bool))
                if not candidates.size:
                    continue  # nothing to defuse: no copy of the column to Python objects
            else:
                candidates = range(len(column))
            values = column.to_numpy(dtype=object, copy=True)
            changed = False
            for index in candidates:
                new = neutralise_cell(values[index])
                if new is not values[index]:
                    values[index] = new
                    changed = True
            if changed:
                out.isetitem(position, pd.Series(values, index=column.index, dtype=dtype))
    out.columns = [neutralise_cell(name) for name in out.columns]
    return out


# ------------------------------------------------------------------------- writing


# Floats with at most this many decimals, within _FIXED_RANGE, are formatted by
# integer arithmetic (see format_floats); the rest by numpy (Python's repr).
_FIXED_DECIMALS = 6
_FIXED_RANGE = (1e-4, 1e9)  # where repr uses fixed notation and 15 digits suffice
_CSV_SLICE_ROWS = 1_000_000  # rows formatted at once by the Arrow CSV writer
_NEEDS_QUOTES = '[,"\n]'  # what makes Python's csv writer quote a field (QUOTE_MINIMAL, "\n")


def _digits(values: np.ndarray, width: int, out: np.ndarray) -> None:
    """ASCII digits of non-negative integers below 2**32 into rows of ``out`` (one per digit)."""
    v = values.astype(np.uint32)
    for j in range(width - 1, -1, -1):  # division by a scalar: numpy's fast path
        q = v // 10
        np.subtract(v, q * 10, out=v)
        out[j] = v
        out[j] += 48
        v = q


def _ragged_strings(chars: np.ndarray, first: np.ndarray, stop: np.ndarray,
                    valid: np.ndarray | None = None) -> Any:
    """A pyarrow string array of ``chars[i, first[i]:stop[i]]`` for each row i (null where not valid)."""
    import pyarrow as pa

    columns = np.arange(chars.shape[1], dtype=np.int16)[None, :]
    keep = columns >= first.astype(np.int16)[:, None]
    keep &= columns < stop.astype(np.int16)[:, None]
    data = chars[keep]
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(stop - first, out=offsets[1:])
    mask = None if valid is None or valid.all() else pa.array(valid).buffers()[1]
    return pa.LargeStringArray.from_buffers(len(first), pa.py_buffer(offsets), pa.py_buffer(data),
                                            mask, (len(first) - int(valid.sum())) if mask else 0)


def format_floats(values: np.ndarray) -> Any:
    """Float64 values as text, exactly as ``repr`` (and pandas' ``to_csv``) writes them.

    Returns a pyarrow string array, null where a value is NaN. Values with at most
    6 decimals between 1e-4 and 1e9 in size (money, counts, rounded distances) are
    formatted with integer arithmetic on whole arrays; the others (and infinities)
    with numpy, whose shortest round-trip form is Python's ``repr``.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    nan = np.isnan(x)
    a = np.abs(x)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.rint(a * 10.0 ** _FIXED_DECIMALS)
        fixed = (a >= _FIXED_RANGE[0]) & (a < _FIXED_RANGE[1])
        fixed &= scaled / 10.0 ** _FIXED_DECIMALS == a
        fixed |= x == 0
    k = np.where(fixed, scaled, 0).astype(np.int64)
    whole, frac = np.divmod(k, 10 ** _FIXED_DECIMALS)
    whole = whole.astype(np.uint32)
    frac = frac.astype(np.uint32)
    other = np.flatnonzero(~fixed & ~nan)
    texts = x[other].astype(str) if other.size else np.array([], dtype="U1")
    width = 9  # digits of the whole part below 1e9
    cells = max(1 + width + 1 + _FIXED_DECIMALS, texts.dtype.itemsize // 4)
    columns = np.empty((cells, n), dtype=np.uint8)  # one row per character position
    _digits(whole, width, columns[1:1 + width])
    columns[1 + width] = ord(".")
    _digits(frac, _FIXED_DECIMALS, columns[2 + width:2 + width + _FIXED_DECIMALS])
    chars = np.ascontiguousarray(columns.T)
    # digits of the whole part (at least 1), decimals without trailing zeros (at least 1)
    n_whole = np.ones(n, dtype=np.int64)
    for d in range(1, width):
        n_whole += whole >= 10 ** d
    n_frac = np.full(n, _FIXED_DECIMALS, dtype=np.int64)
    for d in range(1, _FIXED_DECIMALS):
        n_frac -= frac % np.uint32(10 ** d) == 0
    first = 1 + width - n_whole
    stop = 2 + width + n_frac
    minus = np.flatnonzero(np.signbit(x) & fixed)  # the sign goes just before the first digit
    first[minus] -= 1
    chars[minus, first[minus]] = ord("-")
    if other.size:  # numpy's (repr's) text for the rest
        encoded = np.char.encode(texts, "ascii")
        raw = encoded.view(np.uint8).reshape(other.size, -1)
        chars[other, :raw.shape[1]] = raw
        first[other] = 0
        stop[other] = np.char.str_len(encoded)
    stop[nan] = first[nan]
    return _ragged_strings(chars, first, stop, valid=~nan)


def _bool_text(values: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(values), "True", "False")


def csv_text_cells(array: Any) -> Any | None:
    """A pyarrow string array made into CSV fields as Python's csv writer makes them.

    Fields holding a comma, a double quote or a newline are quoted (quotes
    doubled), missing values are empty. Returns None when a value holds a
    carriage return: then every text field must be quoted (see :func:`csv_quoting`).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pc.any(pc.match_substring(array, "\r")).as_py():
        return None
    needs = pc.match_substring_regex(array, _NEEDS_QUOTES)
    if pc.any(needs).as_py():
        quote, empty = pa.scalar('"', array.type), pa.scalar("", array.type)
        quoted = pc.binary_join_element_wise(quote, pc.replace_substring(array, '"', '""'), quote, empty)
        array = pc.if_else(needs, quoted, array)
    return pc.fill_null(array, "")


def csv_header(names: list[str]) -> str:
    """The header line Python's csv writer (and pandas) writes for ``names``."""
    import io as _io

    buffer = _io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    return buffer.getvalue()


def csv_lines(fields: list[Any], *, terminated: bool = False) -> Any:
    """The bytes of CSV lines (``\n``-terminated) from columns of ready-made text fields.

    With ``terminated``, the last field already ends with ``"\n"``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    fields = [pc.fill_null(f.cast(text) if f.type != text else f, pa.scalar("", text)) for f in fields]
    if not terminated:
        fields[-1] = pc.binary_join_element_wise(fields[-1], pa.scalar("", text), pa.scalar("\n", text))
    lines = pc.binary_join_element_wise(*fields, pa.scalar(",", text)) if len(fields) > 1 else fields[0]
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def _csv_fields(column: pd.Series) -> Any | None:
    """The CSV text of one column as pyarrow strings, or None if only pandas writes it exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iu":
            return pc.cast(pa.array(column.to_numpy()), pa.large_string())
        if dtype == np.float64:
            return format_floats(column.to_numpy())
        if dtype.kind == "b":
            return _bool_text(column.to_numpy())
        return None
    if isinstance(dtype, pd.StringDtype):
        array = pa.array(column, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):  # e.g. a column read from Parquet row groups
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array)
        if len(encoded.dictionary) * 4 <= len(array):  # few distinct texts (segment names):
            cells = csv_text_cells(encoded.dictionary)  # quote each once, then spread them
            return None if cells is None else cells.take(encoded.indices)
        return csv_text_cells(array)
    return None


def _write_csv_arrow(df: pd.DataFrame, target: Path) -> bool:
    """Write ``df`` as pandas' ``to_csv`` would, with pyarrow; False (nothing written) if it cannot.

    Handles int, bool, float64 and string columns under string column names, two
    or more columns (a lone empty field is quoted by the csv module).
    """
    if df.shape[1] < 2 or isinstance(df.columns, pd.MultiIndex):
        return False
    names = list(df.columns)
    if not all(isinstance(name, str) and "\r" not in name for name in names):
        return False
    for position in range(df.shape[1]):
        dtype = df.iloc[:, position].dtype
        if not (isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and (
                dtype.kind in "iub" or dtype == np.float64))):
            return False
    for position in range(df.shape[1]):  # a carriage return anywhere: quote every text field
        column = df.iloc[:, position]
        if isinstance(column.dtype, pd.StringDtype) and column.str.contains("\r", regex=False).any():
            return False
    with target.open("wb") as handle:  # OS errors surface as OSError with errno
        handle.write(csv_header(names).encode("utf-8"))
        for start in range(0, len(df), _CSV_SLICE_ROWS):
            piece = df.iloc[start:start + _CSV_SLICE_ROWS]
            handle.write(csv_lines([_csv_fields(piece.iloc[:, p]) for p in range(piece.shape[1])]))
    return True


def write_csv(df: pd.DataFrame, path: PathLike, *, neutralise: bool = True) -> None:
    """Write ``df`` as UTF-8 CSV with ``\\n`` line ends and no index, atomically.

    Floats are written in their shortest round-trip form (``0.1``, ``1e-07``,
    ``5.0``), missing values as empty cells, fields holding a comma, a quote or a
    newline quoted. Frames of two or more int, bool, float64 and string columns go
    through pyarrow for speed (see :func:`format_floats`, :func:`csv_lines`); the
    rest, and text with a carriage return (see :func:`csv_quoting`), through
    pandas. Both give the same bytes, and the same input always gives the same bytes.

    Parameters
    ----------
    df : pandas.DataFrame
        The table. Its index is not written; ``reset_index()`` first to keep it.
    path : str or os.PathLike
        The CSV file to create or replace.
    neutralise : bool, default True
        Apply :func:`neutralise_formulas` first (to cells and column names).

    Raises
    ------
    OutputError
        The file cannot be written.
    """
    frame = neutralise_formulas(df) if neutralise else df
    with atomic_file(path) as temporary:
        if not _write_csv_arrow(frame, temporary):
            frame.to_csv(temporary, index=False, encoding="utf-8", lineterminator="\n",
                         quoting=csv_quoting(frame))


def csv_quoting(frame: pd.DataFrame) -> int:
    """The ``quoting`` for ``DataFrame.to_csv(lineterminator="\\n")`` that keeps ``frame`` intact.

    Python's CSV writer quotes a field holding a line terminator, and with
    ``"\\n"`` as the terminator a lone carriage return is not one: a cell such
    as ``"a\\rb"`` would be written bare and read back as two rows. When a name
    or text cell holds ``"\\r"``, every text field is quoted instead
    (``csv.QUOTE_NONNUMERIC``); otherwise only those that need it.
    """
    if any(isinstance(name, str) and "\r" in name for name in frame.columns):
        return csv.QUOTE_NONNUMERIC
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            values = dtype.categories
        elif isinstance(dtype, pd.StringDtype):
            if column.str.contains("\r", regex=False).fillna(False).any():
                return csv.QUOTE_NONNUMERIC
            continue
        elif isinstance(dtype, np.dtype) and dtype.kind == "O":
            values = column.to_numpy()
        else:
            continue
        if any(isinstance(v, str) and "\r" in v for v in values):
            return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


def write_parquet(df: pd.DataFrame, path: PathLike) -> None:
    """Write ``df`` as Parquet with raw values (no neutralisation), atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        The table. Its index is not written; ``reset_index()`` first to keep it.
    path : str or os.PathLike
        The Parquet file to create or replace.

    Raises
    ------
    OutputError
        The file cannot be written.
    """
    with atomic_file(path) as temporary:
        df.to_parquet(temporary, index=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):  # datetime.date, datetime.time
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _find_non_finite(obj: Any, where: str = "$") -> str | None:
    """JSON path of the first NaN or infinity in ``obj``, if any."""
    if isinstance(obj, (float, np.floating)):
        return None if math.isfinite(obj) else where
    if isinstance(obj, dict):
        for key, value in obj.items():
            found = _find_non_finite(value, f"{where}.{key}")
            if found:
                return found
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            found = _find_non_finite(value, f"{where}[{index}]")
            if found:
                return found
    elif isinstance(obj, np.ndarray) and obj.dtype.kind == "f" and not np.isfinite(obj).all():
        return where
    return None


def write_json(obj: Any, path: PathLike, *, indent: int | None = 2) -> None:
    """Write ``obj`` as UTF-8 JSON (``indent=2``, keys in order, final newline), atomically.

    NumPy scalars and arrays, timestamps and paths are converted. NaN and
    infinity are not valid JSON: convert them (usually to ``None``) before.

    Parameters
    ----------
    obj : object
        JSON-compatible data.
    path : str or os.PathLike
        The file to create or replace.
    indent : int or None, default 2
        None writes compact JSON: about five times faster on large data, as
        Python's encoder is in C only without indentation.

    Raises
    ------
    ValueError
        ``obj`` contains NaN or infinity; the message names where (``$.a[2]``).
    OutputError
        The file cannot be written.
    """
    try:
        text = json.dumps(
            obj,
            indent=indent,
            sort_keys=False,
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        )
    except ValueError as exc:
        where = _find_non_finite(obj)
        if where is None:
            raise
        raise ValueError(
            f"cannot write {path}: {where} is NaN or infinite, which JSON does not allow; "
            "convert it to None first"
        ) from exc
    atomic_write_file(path, text + "\n")


# -------------------------------------------------------------------- atomic files

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _output_error(path: Path, exc: OSError, inner: str | None = None) -> OutputError:
    """One-line OutputError for an OS failure while writing ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno or 0)
    if code:
        reason += f" [{code}]"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free some disk space, or write the output to a disk with room"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"check that you may write to {path.parent}, or write the output elsewhere"
    elif exc.errno == errno.EROFS:
        fix = "write the output to a writable disk"
    else:
        fix = "check the path, or write the output elsewhere"
    where = f"{path} (file {inner})" if inner else f"{path}"
    error = OutputError(f"cannot write {where}: {reason}", fix=fix)
    error.path = path  # type: ignore[attr-defined]
    return error


def _temp_name(name: str, kind: str) -> str:
    return f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(path, exc) from exc


@contextlib.contextmanager
def atomic_file(path: PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The temporary file (``.{name}.tmp-{pid}-{random}``, created empty) is in the
    same directory, so the final ``os.replace`` is atomic: readers see the old
    file or the complete new one, never a partial one. On any exception the
    temporary file is removed and the exception re-raised (an ``OSError`` from
    writing as :class:`OutputError`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Missing parent directories are created.
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`OutputError`.

    Yields
    ------
    pathlib.Path
        Where to write the content.
    """
    target = Path(path)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise OutputError(f"{target} already exists", fix="remove it, or choose another name")
    _make_parent(target)
    while True:
        temporary = target.with_name(_temp_name(target.name, "tmp"))
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _output_error(target, exc) from exc
    try:
        yield temporary
        _fsync(temporary)
        if overwrite:
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, OSError) and _is_write_failure(exc, temporary):
            raise _output_error(target, exc) from exc
        raise


def _link_new(temporary: Path, target: Path) -> None:
    """Move ``temporary`` to ``target`` without ever replacing an existing file."""
    try:
        os.link(temporary, target)  # fails if target exists, atomically
    except FileExistsError:
        raise OutputError(f"{target} already exists", fix="remove it, or choose another name") from None
    except OSError:  # no hard links on this file system
        if target.exists():
            raise OutputError(f"{target} already exists", fix="remove it, or choose another name") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def atomic_write_file(path: PathLike, data: bytes | str, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    data : bytes or str
        The content; a ``str`` is encoded as UTF-8 and written verbatim
        (no newline translation).
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`OutputError`.

    Raises
    ------
    OutputError
        The file exists (``overwrite=False``) or cannot be written.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_file(path, overwrite=overwrite) as temporary:
        temporary.write_bytes(payload)


def _is_write_failure(exc: OSError, temporary: Path) -> bool:
    """Whether an OSError came from writing the output (not, say, reading an input)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
        return True
    names = [name for name in (exc.filename, exc.filename2) if name is not None]
    if not names:
        return exc.errno in _WRITE_ERRNOS or exc.errno is None
    return any(_inside(Path(os.fsdecode(name)), temporary) for name in names)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.absolute().relative_to(root.absolute())
    except ValueError:
        return False
    return True


# --------------------------------------------------------------- atomic run folder


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this machine). Unknown counts as alive."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _clean_stale(target: Path) -> None:
    """Remove ``.{name}.partial-*`` / ``.{name}.old-*`` left by dead processes.

    If a run died between moving the old directory aside and moving the new one
    in, the target is missing: the old directory is put back instead.
    """
    parent, name = target.parent, target.name
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for kind in ("old", "partial"):
        prefix = f".{name}.{kind}-"
        for entry in entries:
            if not entry.name.startswith(prefix):
                continue
            pid_text = entry.name[len(prefix) :].split("-", 1)[0]
            if not pid_text.isdigit() or _pid_alive(int(pid_text)):
                continue
            if kind == "old" and not (target.exists() or target.is_symlink()):
                with contextlib.suppress(OSError):  # if it fails, leave it be
                    os.rename(entry, target)
                continue
            _remove_tree(entry)


def _is_empty_dir(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        return next(os.scandir(path), None) is None
    except OSError:
        return False


def check_output_dir(path: PathLike, *, overwrite: bool = False) -> None:
    """Fail early, before a long run, if :func:`atomic_output_dir` would refuse ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The intended run directory.
    overwrite : bool, default False
        Whether an existing non-empty directory (or file) may be replaced.

    Raises
    ------
    OutputError
        ``path`` has no name, exists and is not empty (without ``overwrite``),
        or sits below a file.
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise OutputError(f"output directory {str(path)!r} has no name", fix="pass --out with a new folder")
    exists = target.exists() or target.is_symlink()
    if exists and not overwrite and not _is_empty_dir(target):
        raise _exists_error(target)
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(
                    f"cannot create output directory {target}: {parent} is a file",
                    fix="choose another --out",
                )
            break


def _exists_error(target: Path) -> OutputError:
    what = "is a file" if target.is_file() else "already exists and is not empty"
    return OutputError(
        f"output directory {target} {what}",
        fix="pass --overwrite to replace it, or choose another --out",
    )


@contextlib.contextmanager
def atomic_output_dir(path: PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a run directory under a temporary name; move it into place on success.

    On entry the stale temporary directories of killed runs are removed, and a
    hidden ``.{name}.partial-{pid}-{random}`` directory is created beside
    ``path`` (same file system, so the final rename is atomic). On normal exit
    an existing ``path`` (``overwrite=True``) is moved aside to
    ``.{name}.old-{pid}-{random}``, the new directory renamed to ``path`` and
    the old one deleted: the old run is replaced only by a complete new one.
    On any exception (including ``KeyboardInterrupt``) the temporary directory
    is removed and the exception re-raised; an ``OSError`` from writing
    (disk full, permission denied) becomes :class:`OutputError`.

    Parameters
    ----------
    path : str or os.PathLike
        The run directory. Missing parent directories are created. An empty
        existing directory is replaced without ``overwrite``.
    overwrite : bool, default False
        Replace an existing non-empty directory (or file) at ``path``.

    Yields
    ------
    pathlib.Path
        The temporary directory to write the run into.

    Raises
    ------
    OutputError
        ``path`` exists and is not empty (without ``overwrite``), or the
        directory cannot be created or written.

    Notes
    -----
    Staleness is judged with ``os.kill(pid, 0)`` on this machine. On a folder
    shared between machines, a run still going on elsewhere can lose its
    temporary directory if its pid is unused here. On Windows nothing is
    treated as stale.
    """
    target = Path(path)
    check_output_dir(target, overwrite=True)  # a name, and no file in the way
    _make_parent(target)
    _clean_stale(target)
    check_output_dir(target, overwrite=overwrite)
    while True:
        temporary = target.with_name(_temp_name(target.name, "partial"))
        try:
            os.mkdir(temporary)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _output_error(target, exc) from exc
    try:
        yield temporary
    except BaseException as exc:
        _remove_tree(temporary)
        # An OSError from writing, raw or already wrapped by atomic_file inside
        # the temporary directory: report it against the real target.
        cause: BaseException | None = exc
        if isinstance(exc, OutputError) and hasattr(exc, "path"):
            cause = exc.__cause__
        if isinstance(cause, OSError) and _is_write_failure(cause, temporary):
            # atomic_file records the real name; the OSError may carry its temporary name
            name = getattr(exc, "path", None) or cause.filename
            raise _output_error(target, cause, _relative_inside(name, temporary)) from cause
        raise
    try:
        _install(temporary, target, overwrite)
    except OutputError:
        _remove_tree(temporary)
        raise
    except OSError as exc:
        _remove_tree(temporary)
        raise _output_error(target, exc) from exc


def _relative_inside(name: Any, root: Path) -> str | None:
    """``name`` relative to ``root`` if it is a path strictly inside it, else None."""
    if name is None:
        return None
    path = Path(os.fsdecode(name))
    if not _inside(path, root):
        return None
    relative = str(path.absolute().relative_to(root.absolute()))
    return None if relative == "." else relative


def _install(temporary: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished ``temporary`` directory to ``target``."""
    if not (target.exists() or target.is_symlink()) or _is_empty_dir(target):
        try:
            os.replace(temporary, target)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                # Something appeared at the target while the run was writing.
                raise _exists_error(target) from exc
            raise
        return
    if not overwrite:
        raise _exists_error(target)
    old = target.with_name(_temp_name(target.name, "old"))
    os.rename(target, old)
    try:
        os.rename(temporary, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove_tree(old)


def file_sha256(path: PathLike) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def source_sha256(path: PathLike) -> str:
    """The SHA-256 of a file, or of a folder's files (a partitioned Parquet data set).

    For a folder, its :func:`data_files` are taken in sorted order of their
    relative paths; the digest covers each path and its contents' digest, so
    renaming a part changes it too.
    """
    p = Path(path)
    if not p.is_dir():
        return file_sha256(p)
    digest = hashlib.sha256()
    for f in data_files(p):
        digest.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        digest.update(file_sha256(f).encode("ascii") + b"\n")
    return digest.hexdigest()
