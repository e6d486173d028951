"""Reading delimited text (``.csv``, ``.tsv``, ``.txt``) as pandas reads it, errors as one line.

:func:`read_delimited` reads a whole file: with pyarrow's multi-threaded CSV
parser when the file allows it (:func:`read_text_arrow`: every column read as
text, then typed exactly as pandas types it), else with pandas.
:func:`iter_delimited` reads it in chunks with pandas, for files larger than
memory. What pandas does silently (extra leading fields taken for an index,
repeated names renamed ``a.1``, words such as ``inf`` read as infinity) is
caught or undone, and parser errors become one-line :class:`InputError` s.
A row with more or fewer fields than the header stops the reading, whichever
the path (see :mod:`custseg.io.ragged`).
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._parallel import map_ordered
from ..errors import InputError
from .ragged import (
    RaggedRow,
    RaggedRowHandler,
    RowLengthCheck,
    find_ragged_row,
    ragged_row_error,
)
from .sources import NA_OPTIONS, empty_error, no_rows_error, raise_on_duplicates
from .text import DELIMITERS, sniff_text

__all__ = ["read_delimited", "iter_delimited", "read_text_arrow", "keep_text_as_written"]

_EXPECTED_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_IN_STRING = re.compile(r"EOF inside string starting at row (\d+)")


def read_delimited(path: Path, *, encoding: str | None = None, n_jobs: int | None = None) -> pd.DataFrame:
    """Read delimited text (``.csv``, ``.tsv``, ``.txt``).

    ``n_jobs`` threads type the columns read by pyarrow (None: one, in this thread).
    """
    codec, sep, sample = sniff_text(path, encoding)
    table, ragged = _read_text_table(path, codec, sep, sample)
    if ragged:  # pyarrow refused a row: unless pandas words it otherwise (an unclosed quote), say where
        row = find_ragged_row(path, codec, sep)
        if row is not None:
            raise ragged_row_error(path, row, sep)
    if table is not None:
        frame = _typed_frame(table, n_jobs)
        if frame is not None:
            return frame
    options: dict[str, Any] = {"sep": sep, "encoding": codec, **NA_OPTIONS}
    try:
        # low_memory=False: each column is typed as a whole, so a column with
        # stray text is text throughout instead of a mix of numbers and strings.
        frame = pd.read_csv(path, low_memory=False, **options)
    except pd.errors.EmptyDataError as exc:
        raise empty_error(path) from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc, options) from exc
    _check_first_text_chunk(frame, path, options)
    if frame.empty and len(frame.columns):
        raise no_rows_error(path, "has a header but no data rows")
    if table is None and _short_row_possible(frame):  # (a table from pyarrow: no row is short)
        RowLengthCheck(path, codec, sep).through()
    return keep_text_as_written(frame, path, options, _may_hold_leading_zeros(path, options))


def _short_row_possible(frame: pd.DataFrame) -> bool:
    """Whether pandas may have filled a row with fewer fields than the header with empty cells.

    It fills the last fields of such a row, so the last column has a missing value.
    """
    return frame.shape[1] > 1 and bool(frame.iloc[:, -1].isna().any())


def iter_delimited(path: Path, chunksize: int, *, encoding: str | None = None) -> Iterator[pd.DataFrame]:
    """Read delimited text in chunks of at most ``chunksize`` rows, with pandas."""
    codec, sep, _ = sniff_text(path, encoding)
    options: dict[str, Any] = {"sep": sep, "encoding": codec, **NA_OPTIONS}
    row_lengths = RowLengthCheck(path, codec, sep)
    # a file with a field such as 00123 is also read as text, chunk by chunk beside the
    # typed reading, so that such columns keep the text (see keep_text_as_written)
    texts = None
    try:
        if _may_hold_leading_zeros(path, options):
            texts = pd.read_csv(path, chunksize=chunksize, dtype=str, low_memory=False, **options)
        reader = pd.read_csv(path, chunksize=chunksize, low_memory=False, **options)
        rows = 0
        for number, chunk in enumerate(reader):
            text = next(texts) if texts is not None else None
            if not len(chunk):  # a header-only file still gives one empty chunk
                continue
            if number == 0:
                _check_first_text_chunk(chunk, path, options)
            rows += len(chunk)
            if _short_row_possible(chunk):
                row_lengths.through(rows)
            chunk = _keep_text_as_written_in_chunk(chunk.reset_index(drop=True), path, options,
                                                   chunksize, number, text)
            yield chunk
        if not rows:
            raise no_rows_error(path, "has a header but no data rows")
    except pd.errors.EmptyDataError as exc:
        raise empty_error(path) from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc, options) from exc
    finally:
        if texts is not None:
            texts.close()


# How the pyarrow reader types a text column (read as text) as pandas would: these
# exact forms are converted; a column of values that merely look numeric or boolean
# (blanks, "+", "_", "inf", "nan", other spellings) is left to pandas.
_INT_TEXT = r"^-?[0-9]{1,18}$"
_FLOAT_TEXT = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
_LONG_INT_TEXT = r"^-?[0-9]{19,}$"
_BOOL_TEXT = r"^(?:True|TRUE|true|False|FALSE|false)$"
#: an integer written with leading zeros (``00123``, a zip code, an account number): both
#: paths keep such a column as the text the file holds, so the identifier survives
_LEADING_ZERO = r"^-?0[0-9]"
_MAYBE_NUMBER_OR_BOOL = (r"(?i)^\s*[-+]?(?:[0-9_]*\.?[0-9_]*(?:e[-+]?[0-9_]+)?"
                         r"|inf|infinity|nan|true|false)\s*$")


def read_text_arrow(path: Path, codec: str, sep: str, sample: str, *,
                    n_jobs: int | None = None) -> pd.DataFrame | None:
    """The table pandas would read, read by pyarrow's multi-threaded CSV reader; or None.

    Every column is read as text, then typed the way pandas types it: integers
    (``-?digits``), floats (plain decimal or exponent forms), booleans
    (``True``/``true``/``TRUE`` and the same for false, no gaps), an empty column as
    float NaN, else text. None (read with pandas instead, which also words the
    errors) unless the file is UTF-8 with one of the four delimiters, has unique
    non-empty column names and at least one data row, and no column is made only of
    values that pandas might read as numbers or booleans in another way. The
    columns are typed by ``n_jobs`` joblib threads (None: one job, in this thread);
    the result does not depend on it.
    """
    table, _ = _read_text_table(path, codec, sep, sample)
    return None if table is None else _typed_frame(table, n_jobs)


def _read_text_table(path: Path, codec: str, sep: str, sample: str) -> tuple[Any | None, bool]:
    """The file as a pyarrow table of text columns (see :func:`read_text_arrow`), or None;
    and whether pyarrow refused a row with more or fewer fields than the header."""
    import io as _io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if codec not in ("utf-8", "utf-8-sig") or sep not in DELIMITERS:
        return None, False
    try:
        header = next(csv.reader(_io.StringIO(sample.lstrip("\ufeff")), delimiter=sep))
    except (StopIteration, csv.Error):
        return None, False
    if "" in header or len(set(header)) != len(header):
        return None, False
    ragged = RaggedRowHandler()  # a ragged row stops the parse; and so does a blank one, for pandas
    try:
        table = pa_csv.read_csv(
            path, parse_options=pa_csv.ParseOptions(delimiter=sep, newlines_in_values=True,
                                                    invalid_row_handler=ragged),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header}, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True))
    except (pa.ArrowException, ValueError, OSError):
        return None, ragged.seen
    if table.schema.names != header or table.num_rows == 0:
        return None, False
    return table, False


def _typed_frame(table: Any, n_jobs: int | None) -> pd.DataFrame | None:
    """The text columns of ``table`` typed as pandas types them, or None (see :func:`read_text_arrow`)."""
    # with n_jobs, the columns are typed in threads: Arrow's regular expressions release the GIL
    typed = map_ordered(_typed_text_column, table.columns, n_jobs=n_jobs, prefer="threads")
    if any(c is None for c in typed):
        return None
    columns: dict[str, Any] = dict(zip(table.schema.names, typed, strict=True))
    return pd.DataFrame(columns)


def _typed_text_column(column: Any) -> Any:
    """A text column typed as pandas types it (see :func:`read_text_arrow`); or None.

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
        if pc.any(pc.match_substring_regex(column, _LEADING_ZERO)).as_py():
            return pd.Series(pd.array(column, dtype="str"))  # 00123: an identifier, as written
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
        raise _ragged_error(path, options, RaggedRow(2, header_fields + frame.index.nlevels, header_fields))
    if _looks_mangled(frame.columns):  # pandas renamed a repeated name "a" to "a.1"
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
        raise_on_duplicates(["" if pd.isna(v) else str(v) for v in raw.iloc[0]], path)


def keep_text_as_written(frame: pd.DataFrame, path: Path, options: dict[str, Any],
                         leading_zeros: bool = True) -> pd.DataFrame:
    """Re-read as text the number columns pandas typed where the file's text must stay.

    Two cases: pandas' float parser reads ``inf``, ``-Infinity`` and overflowing
    numbers such as ``1e500`` as infinite (like ``"NaN"``, which it keeps as text,
    they must reach the validator as written); and an integer column with leading
    zeros (``00123``) is an identifier or a code, kept exactly as written as the
    pyarrow path keeps it. ``leading_zeros`` False: the file has none (see
    :func:`_may_hold_leading_zeros`), only infinities are looked for.
    """
    positions = _number_columns(frame) if leading_zeros else _infinite_columns(frame)
    if not positions:
        return frame
    text = pd.read_csv(path, usecols=positions, dtype=str, low_memory=False, **options)
    return _put_back_text(frame, text, positions)


def _put_back_text(frame: pd.DataFrame, text: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """Replace the columns at ``positions`` by their text where it must stay text."""
    infinite = set(_infinite_columns(frame))
    for index, position in enumerate(positions):
        column = text.iloc[:, index]
        if position in infinite or _leading_zero_integers(column):
            frame.isetitem(position, column.to_numpy())
    return frame


def _leading_zero_integers(text: pd.Series) -> bool:
    """Whether every value is integer text and one has a leading zero (the pyarrow path's rule)."""
    values = text.dropna()
    return (bool(values.str.match(_LEADING_ZERO, na=False).any())
            and bool(values.str.match(_INT_TEXT, na=False).all()))


def _number_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the integer and float columns."""
    return [position for position, dtype in enumerate(frame.dtypes.tolist())
            if pd.api.types.is_integer_dtype(dtype) or dtype == np.float64]


#: a field that starts with a zero followed by a digit, anywhere in the file
_LEADING_ZERO_FIELD = r'(?:^|[{sep}])"?-?0[0-9]'


def _may_hold_leading_zeros(path: Path, options: dict[str, Any]) -> bool:
    """Whether some field of the file starts with ``0`` and a digit (one scan of the bytes).

    False for most files, which then pay no second reading of their number columns.
    """
    sep, encoding = options["sep"], options["encoding"]
    if "0,".encode(encoding) != b"0,":  # UTF-16 and the like: look at every column
        return True
    fields = re.escape(sep) if len(sep) == 1 else r"\s"  # (whitespace-aligned: "\s+")
    pattern = re.compile(_LEADING_ZERO_FIELD.format(sep=fields).encode(encoding), re.MULTILINE)
    with open(path, "rb") as handle:
        tail = b""
        while block := handle.read(1 << 24):
            if pattern.search(tail + block):
                return True
            tail = block[-8:]
    return False


def _infinite_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the float columns holding an infinity."""
    return [
        position
        for position, dtype in enumerate(frame.dtypes.tolist())
        if dtype == np.float64 and np.isinf(frame.iloc[:, position].to_numpy()).any()
    ]


def _keep_text_as_written_in_chunk(chunk: pd.DataFrame, path: Path, options: dict[str, Any],
                                   chunksize: int, number: int, text: pd.DataFrame | None
                                   ) -> pd.DataFrame:
    """:func:`keep_text_as_written` for chunk ``number`` of a chunked read.

    ``text``: the same chunk read as text, when the file may hold leading zeros (read
    beside the typed chunks, once). Otherwise only a chunk with an infinity pays: the
    file is read again as text, up to that chunk (such a value is an error the
    validator reports, so this happens at most once per run).
    """
    if text is not None:
        positions = _number_columns(chunk)
        return _put_back_text(chunk, text.iloc[:, positions].reset_index(drop=True), positions)
    positions = _infinite_columns(chunk)
    if not positions:
        return chunk
    text_chunks = pd.read_csv(path, usecols=positions, dtype=str, chunksize=chunksize,
                              low_memory=False, **options)
    with text_chunks:
        text = next(itertools.islice(text_chunks, number, None))
    return _put_back_text(chunk, text.reset_index(drop=True), positions)


def _ragged_error(path: Path, options: dict[str, Any], guess: RaggedRow) -> InputError:
    """The error for the first ragged row of ``path``, which pandas met around ``guess``.

    pandas' line numbers do not count the newlines inside quoted fields, so the
    row is looked up; ``guess`` is said if the lookup finds none.
    """
    found = find_ragged_row(path, options["encoding"], options["sep"])
    return ragged_row_error(path, found or guess, options["sep"])


def _parser_error(path: Path, exc: pd.errors.ParserError, options: dict[str, Any]) -> InputError:
    text = str(exc)
    match = _EXPECTED_FIELDS.search(text)
    if match:
        expected, line, saw = map(int, match.groups())
        return _ragged_error(path, options, RaggedRow(line, saw, expected))
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
