"""Writing tables and JSON: CSV (formulas defused), Parquet (raw values), JSON; all atomic.

CSV exports pass through :func:`neutralise_formulas` once, at write time, so a
cell such as ``=HYPERLINK(...)`` is not run as a formula by a spreadsheet.
:func:`write_csv` writes the bytes pandas' ``to_csv`` writes, through pyarrow
when the columns allow it (:func:`format_floats`, :func:`csv_text_cells`,
:func:`csv_lines`). Failures raise :class:`~custseg.errors.OutputError`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import atomic_file, atomic_write_file
from .sources import PathLike

__all__ = ["FORMULA_PREFIXES", "neutralise_cell", "neutralise_formulas", "format_floats",
           "csv_text_cells", "csv_header", "csv_lines", "write_csv", "csv_quoting", "write_parquet",
           "write_json"]

# ------------------------------------------------------------------ neutralisation

#: What makes a spreadsheet read a cell as a formula (``-`` only when not a plain number).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
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
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
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
