"""Assign new customers from files, in chunks, and export audiences (an I/O edge).

:func:`assign_file` streams a data file through a :class:`~custseg.model.SegmentModel`
chunk by chunk, so files larger than memory work with memory bounded by the
chunk size. CSV and Parquet files go through pyarrow end to end (read, check,
assign, write); whenever the data holds anything that the checks of
:func:`custseg.validate.validate` would report (an error or a warning), or a
value whose reading by pandas could differ, the file is done again by the
pandas path, so messages, warnings and output are the same either way. Both
paths assign with the same kernel, :meth:`SegmentModel.assign_arrays
<custseg.model.SegmentModel.assign_arrays>`. With ``n_jobs`` of one (the
default) chunks are read, assigned and written in turn, in this thread; with
two or more, the next chunk is read on a joblib thread while this one is
assigned and written (the output is the same).
:func:`export_segments` writes the customer list of chosen segments
from a run directory, ready for a CRM or ad-platform upload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import io
from ._parallel import check_n_jobs, effective_n_jobs, thread_backend
from .errors import InputError, ParameterError
from .model import SegmentModel
from .validate import MAX_ABS_NUMBER, MAX_CELL_CHARS

__all__ = ["assign_file", "export_segments", "OUTPUT_TYPES"]

OUTPUT_TYPES = (".csv", ".parquet", ".pq")


def _append_parquet(out, table) -> None:
    """Append ``table`` to ``out.writer`` (a ParquetWriter opened on ``out.path`` with the
    first table's schema; later tables are cast to it)."""
    import pyarrow.parquet as pq

    if out.writer is None:
        out.schema = table.schema
        out.writer = pq.ParquetWriter(out.path, out.schema)
    else:
        table = table.cast(out.schema)
    out.writer.write_table(table)


def _output_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_TYPES:
        raise ParameterError(f"cannot write {path.name!r}: unknown output type {suffix or '(none)'!r}",
                             fix="name the output .csv or .parquet")
    return "csv" if suffix == ".csv" else "parquet"


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise ParameterError(f"{str(path)!r} already exists",
                             fix="pass --overwrite or choose another output")


class _Writer:
    """Appends chunks to a CSV (neutralised) or Parquet (raw) temporary file."""

    def __init__(self, path: Path, kind: str):
        self.path = path
        self.kind = kind
        self.schema = None
        self.writer = None
        self.handle = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            safe = io.neutralise_formulas(frame)
            text = safe.to_csv(index=False, header=self.handle is None, lineterminator="\n",
                               quoting=io.csv_quoting(safe))
            if self.handle is None:
                self.handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self.handle.write(text)
            return
        import pyarrow as pa

        _append_parquet(self, pa.Table.from_pandas(frame, preserve_index=False))

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.writer is not None:
            self.writer.close()


def assign_file(model: SegmentModel, data: str | Path, out: str | Path, *,
                chunksize: int = 500_000, overwrite: bool = False, encoding: str | None = None,
                sql: str | None = None, n_jobs: int | None = None, as_of: str | None = None) -> dict:
    """Assign every customer of ``data`` and write the result to ``out`` atomically.

    Returns a summary: rows, counts per segment, unfamiliar customers, warnings.
    Every chunk is validated before anything is kept; a chunk with errors stops
    the run, and nothing is written. ``n_jobs`` (None: one job) of two or more
    reads the next chunk on a joblib thread while this one is assigned and
    written; with one job no thread is started. The output is the same either way.
    A model with date columns counts days to ``as_of`` (YYYY-MM-DD), by default the
    newest date in ``data`` (found in a first pass over its date columns).
    """
    if not isinstance(chunksize, int) or chunksize < 1:
        raise ParameterError(f"--chunk-size must be a positive integer, got {chunksize!r}")
    n_jobs = check_n_jobs(n_jobs)
    out = Path(out)
    kind = _output_kind(out)
    _check_target(out, overwrite)
    with io.atomic_file(out) as tmp:
        tally = None
        if model.has_derived:
            as_of = _newest_date(model, data, chunksize, encoding, sql) if as_of is None else as_of
        if (encoding is None and sql is None and Path(data).suffix.lower() in _ARROW_INPUTS
                and not model.has_derived):
            try:
                tally = _assign_arrow(model, Path(data), Path(tmp), kind, chunksize, n_jobs)
            except _Fallback:
                tally = None
        if tally is None:
            tally = _assign_pandas(model, data, Path(tmp), kind, chunksize, encoding, sql, n_jobs,
                                   as_of)
        if tally.rows == 0:
            raise InputError(f"{data} has no rows to assign")
    counts = tally.counts
    return {
        "rows": tally.rows,
        "segments": [{"segment": s, "name": model.names[s], "count": int(counts[s])}
                     for s in range(model.k)],
        "left_out": int(counts[model.k]),
        "unfamiliar": tally.unfamiliar,
        "warnings": tally.warnings,
        "output": str(out),
    }


def _newest_date(model: SegmentModel, data, chunksize: int, encoding: str | None,
                 sql: str | None) -> str | None:
    """The newest date in the model's date columns of ``data`` (YYYY-MM-DD), or None."""
    from .dates import newest_date
    from .derive import date_formats

    formats = date_formats(model.input_spec)
    found = [newest_date(chunk, formats) for chunk in
             io.iter_table(data, chunksize=chunksize, encoding=encoding, sql=sql)]
    return max((d for d in found if d is not None), default=None)  # (ISO days sort as text)


class _Tally:
    """What assign_file counts while it goes."""

    def __init__(self, k: int):
        self.counts = np.zeros(k + 1, dtype=np.int64)  # last slot: left out (-1)
        self.unfamiliar = 0
        self.rows = 0
        self.warnings: list[dict] = []

    def add(self, segments: np.ndarray, unfamiliar: np.ndarray, k: int) -> None:
        self.counts += np.bincount(np.where(segments < 0, k, segments), minlength=k + 1)
        self.unfamiliar += int(unfamiliar.sum())
        self.rows += len(segments)


def _assign_pandas(model: SegmentModel, data, tmp: Path, kind: str, chunksize: int,
                   encoding: str | None, sql: str | None, n_jobs: int | None = None,
                   as_of: str | None = None) -> _Tally:
    """The reference path: pandas chunks, :meth:`SegmentModel.assign`, pandas or pyarrow writing."""
    tally = _Tally(model.k)
    writer = _Writer(tmp, kind)

    def work(chunk: pd.DataFrame) -> None:
        result, found = model.assign(chunk, row_offset=tally.rows, as_of=as_of)
        writer.write(result)
        tally.add(result["segment"].to_numpy(), result["unfamiliar"].to_numpy(), model.k)
        tally.warnings.extend(p.to_dict() for p in found)

    try:
        _in_turn(io.iter_table(data, chunksize=chunksize, encoding=encoding, sql=sql), work,
                n_jobs=n_jobs)
    finally:
        writer.close()
    return tally


def _in_turn(chunks: Iterator[Any], work: Callable[[Any], None], *, n_jobs: int | None = None) -> None:
    """``work(chunk)`` for every chunk of ``chunks``, in order.

    With one job (``n_jobs`` None or 1): read a chunk, work on it, read the next,
    in this thread. With two or more: two joblib threads, one working on this
    chunk while the other reads the next, so at most two chunks are held. The
    pool is made once per call (a pool per chunk cost ~10% of a 10M-row run); the
    work is done in the same order either way, one call at a time, hence the same
    output. An exception of either call is raised here once both calls have ended
    (the work's first: it came first in order), and the chunks iterator is then
    closed, so no thread outlives the call.
    """
    try:
        if effective_n_jobs(n_jobs) < 2:
            for chunk in chunks:
                work(chunk)
            return
        from joblib import Parallel, delayed

        end = object()
        with Parallel(n_jobs=2, backend=thread_backend()) as pool:
            current = next(chunks, end)
            while current is not end:
                did, read = pool([delayed(_outcome)(work, current), delayed(_outcome)(next, chunks, end)])
                for failed in (did[1], read[1]):
                    if failed is not None:
                        raise failed
                current = read[0]
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _outcome(fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    """(value, None) or (None, exception) of ``fn(*args)``: a joblib task that never raises,
    so that :func:`_in_turn` waits for both calls of a step before raising."""
    try:
        return fn(*args), None
    except BaseException as exc:  # handed to the caller, in its thread
        return None, exc


# ------------------------------------------------------------------ the Arrow path
_ARROW_INPUTS = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_CSV_BLOCK_BYTES = 2**20  # pyarrow reads ~36 blocks ahead: ~40 MiB, whatever the chunk size
_INTEGER_TEXT = re.compile(r"0|-?[1-9][0-9]{0,17}")  # what pandas reads back as the same text
_NUMERIC_LOOKING = r"^[\s0-9+\-.eE]*$"
#: integer ids pandas gives back as the same text: plain integers, and any integer text with
#: a leading zero (which io's readers keep as text)
_ID_INTEGER_TEXT = rf"^(?:{_INTEGER_TEXT.pattern}|-?0[0-9]+)$"
_BOOL_LOOKING = r"(?i)^\s*(true|false)\s*$"
_LEADING_ZERO = r"^-?0[0-9]"  # (the rule of custseg.io's readers)


class _Fallback(Exception):
    """The Arrow path cannot promise pandas' result for this file: take the pandas path."""


def _assign_arrow(model: SegmentModel, data: Path, tmp: Path, kind: str, chunksize: int,
                  n_jobs: int | None = None) -> _Tally:
    """assign_file with pyarrow from reading to writing; raises _Fallback to hand over."""
    import pyarrow as pa

    plan = _Plan(model)
    if data.suffix.lower() in (".parquet", ".pq"):
        chunks = _parquet_chunks(data, chunksize, plan)
    else:
        chunks = _csv_chunks(data, chunksize, plan)
    tally = _Tally(model.k)
    writer = _ArrowWriter(tmp, kind, model)

    def work(table) -> None:
        segments, unfamiliar, columns = plan.assign(table, tally.rows)
        writer.write(columns)
        tally.add(segments, unfamiliar, model.k)

    try:
        _in_turn(chunks, work, n_jobs=n_jobs)
    except (pa.ArrowException, ValueError) as exc:  # unreadable or not as inferred: pandas decides
        raise _Fallback(str(exc)) from exc
    finally:
        writer.close()
    if tally.rows == 0:
        raise _Fallback("no rows")
    return tally


def _rechunk(batches: Iterator[Any], chunksize: int) -> Iterator[Any]:
    """Tables of exactly ``chunksize`` rows (the last one fewer) from record batches."""
    import pyarrow as pa

    pending: list = []
    held = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= chunksize:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunksize)
            rest = table.slice(chunksize)
            pending = rest.to_batches()
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def _csv_chunks(path: Path, chunksize: int, plan: _Plan) -> Iterator[Any]:
    import csv
    import io as _io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # the same checks, in the same order, as io.iter_table: the same errors
    io.check_readable(path)
    codec, sep, sample = io.sniff_text(path)
    if codec not in ("utf-8", "utf-8-sig", "ascii") or sep not in io.DELIMITERS:
        raise _Fallback("encoding or delimiter")
    try:
        header = next(csv.reader(_io.StringIO(sample.lstrip("\ufeff")), delimiter=sep))
    except (StopIteration, csv.Error) as exc:
        raise _Fallback("header") from exc
    columns = plan.columns_in(header)
    types = {name: (pa.float64() if plan.numeric[name] else pa.dictionary(pa.int32(), pa.string()))
             for name in columns if name in plan.numeric}
    if plan.id:  # the id as written (00123 stays 00123); see _Plan._ids
        types[plan.id] = pa.string()
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES, use_threads=True),
            parse_options=pa_csv.ParseOptions(delimiter=sep),
            convert_options=pa_csv.ConvertOptions(
                column_types=types, include_columns=columns, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True))
    except (pa.ArrowException, ValueError) as exc:
        raise _Fallback(str(exc)) from exc
    if reader.schema.names != columns:
        raise _Fallback("columns")
    plan.from_text = True
    yield from _rechunk(reader, chunksize)


def _parquet_chunks(path: Path, chunksize: int, plan: _Plan) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    io.check_readable(path)
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _Fallback(str(exc)) from exc
    meta = schema.pandas_metadata or {}
    if any(isinstance(c, str) for c in meta.get("index_columns", [])):
        raise _Fallback("a stored index")  # pandas makes it the index, not a column
    columns = plan.columns_in(schema.names)
    plan.from_text = False
    for batch in pf.iter_batches(batch_size=chunksize, columns=columns):
        yield pa.Table.from_batches([batch])


class _Plan:
    """What the Arrow path reads and checks for a model, and how it assigns one table."""

    def __init__(self, model: SegmentModel):
        self.model = model
        self.spec = model.spec
        self.needed = list(model.features.columns_)
        self.numeric = {name: col.kind == "numeric" for name, col in model.spec.columns.items()}
        self.from_text = False
        self.id: str | None = None
        self.extra: list[str] = []

    def columns_in(self, names: list[str]) -> list[str]:
        """The columns to read from a file with these column names (or _Fallback)."""
        if len(set(names)) != len(names) or "" in names:
            raise _Fallback("duplicate or empty column names")
        if any(c not in names for c in self.needed):
            raise _Fallback("missing columns")
        if any(self.spec.columns[c].number_format for c in self.needed):
            raise _Fallback("numbers written in a format")  # (read by validation's parser)
        self.extra = [c for c in self.spec.used if c not in self.needed and c in names]
        self.id = self.spec.id if self.spec.id and self.spec.id in names else None
        columns = ([self.id] if self.id else []) + self.needed + self.extra
        return list(dict.fromkeys(columns))

    # -------------------------------------------------------------- checks
    def _numbers(self, name: str, array) -> np.ndarray:
        import pyarrow as pa

        col = self.spec.columns[name]
        if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
            raise _Fallback(f"{name}: {array.type}")
        values = np.asarray(array.to_numpy(), dtype=np.float64)
        missing = np.isnan(values)
        n_missing = int(missing.sum())
        if n_missing != array.null_count:
            raise _Fallback(f"{name}: NaN text")
        with np.errstate(invalid="ignore"):
            if not np.isfinite(values[~missing]).all() or (np.abs(values) > MAX_ABS_NUMBER).any():
                raise _Fallback(f"{name}: out of range")
            if col.role in ("value", "engagement") and (values < 0).any():
                raise _Fallback(f"{name}: negative")
        if n_missing and col.missing in ("error", "drop"):
            raise _Fallback(f"{name}: missing values")
        return values

    def _code_of(self, value) -> str | None:
        """The code pandas' reading and :func:`coerce_codes` give this distinct value, or _Fallback."""
        if isinstance(value, bool):
            raise _Fallback("boolean code")
        if isinstance(value, int):
            return str(value)
        if not isinstance(value, str) or len(value) > MAX_CELL_CHARS:
            raise _Fallback("code type")
        if not self.from_text:  # Parquet text: stripped, empty is missing
            return value.strip() or None
        if value != value.strip() or not value:
            raise _Fallback("code with spaces")
        if _INTEGER_TEXT.fullmatch(value):
            return value
        try:
            float(value)
        except ValueError:
            pass
        else:
            raise _Fallback("numeric-looking code")
        if value.lower() in ("true", "false"):
            raise _Fallback("boolean-looking code")
        return value

    def _codes(self, name: str, array) -> tuple[np.ndarray, list]:
        """(index into the distinct codes per row, -1 for missing; the distinct codes)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        col = self.spec.columns[name]
        if not pa.types.is_dictionary(array.type):
            if not (pa.types.is_integer(array.type) or pa.types.is_string(array.type)
                    or pa.types.is_large_string(array.type)):
                raise _Fallback(f"{name}: {array.type}")
            array = pc.dictionary_encode(array)
        array = pa.chunked_array(array.chunks, array.type).unify_dictionaries() \
            if isinstance(array, pa.ChunkedArray) else array
        chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
        if not chunks:
            return np.empty(0, dtype=np.int64), []
        values = chunks[0].dictionary.to_pylist()
        if not pa.types.is_integer(chunks[0].dictionary.type) and not (
                pa.types.is_string(chunks[0].dictionary.type)
                or pa.types.is_large_string(chunks[0].dictionary.type)):
            raise _Fallback(f"{name}: {chunks[0].dictionary.type}")
        index = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False)
                                for c in chunks]).astype(np.int64)
        codes = [self._code_of(v) for v in values]
        # distinct values with the same code, or that are empty: one index per code
        unique = list(dict.fromkeys(c for c in codes if c is not None))
        where = {c: i for i, c in enumerate(unique)}
        remap = np.array([where[c] if c is not None else -1 for c in codes] + [-1], dtype=np.int64)
        index = remap[index]
        missing = index < 0
        if missing.any() and col.missing in ("error", "drop"):
            raise _Fallback(f"{name}: missing values")
        if col.labels:
            used = np.bincount(index[~missing], minlength=len(unique)) > 0
            if any(u and c not in col.labels for u, c in zip(used, unique, strict=True)):
                raise _Fallback(f"{name}: codes not in the labels")
        return index, unique

    def _ids(self, array):
        import pyarrow as pa
        import pyarrow.compute as pc

        t = array.type
        if not (pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
            raise _Fallback(f"id: {t}")
        if array.null_count:
            raise _Fallback("id: missing")
        if pc.count_distinct(array).as_py() != len(array):
            raise _Fallback("id: duplicates")
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        if not self.from_text or pa.types.is_integer(t) or not len(array):
            return array
        if pc.all(pc.match_substring_regex(array, _ID_INTEGER_TEXT)).as_py():
            if pc.any(pc.match_substring_regex(array, _LEADING_ZERO)).as_py():
                return array  # 00123: io's readers keep such a column as the text it is
            return pc.cast(array, pa.int64())  # plain integers: pandas reads them as numbers
        if (pc.all(pc.match_substring_regex(array, _NUMERIC_LOOKING)).as_py()
                or pc.all(pc.match_substring_regex(array, _BOOL_LOOKING)).as_py()):
            raise _Fallback("id: pandas would read these as numbers or booleans")
        return array

    # -------------------------------------------------------------- assign
    def assign(self, table, row_offset: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """Segments, unfamiliar flags and the output columns of one table.

        The checks above make the table's typed columns (numbers as float64, codes
        as a ``pandas.Categorical`` of their text); the assignment is the core's
        (:meth:`SegmentModel.assign_arrays` and
        :meth:`~custseg.model.SegmentModel.unseen_describing`), as on the pandas path.
        """
        import pyarrow as pa

        model = self.model
        n = table.num_rows
        typed: dict[str, Any] = {}
        for name in list(dict.fromkeys(self.needed + self.extra)):
            array = table.column(name)
            if self.numeric[name]:
                typed[name] = self._numbers(name, array)
            else:
                index, codes = self._codes(name, array)
                typed[name] = pd.Categorical.from_codes(index, categories=codes, validate=False)
        ids = self._ids(table.column(self.id)) if self.id else None
        segments, dist, unfamiliar = model.assign_arrays({name: typed[name] for name in self.needed})
        unfamiliar |= model.unseen_describing(typed, self.extra)
        columns = {
            (self.id if self.id else "row"):
                ids if ids is not None else pa.array(np.arange(row_offset + 1, row_offset + n + 1)),
            "segment": segments,
            "distance": np.round(dist, 6),
            "unfamiliar": unfamiliar,
        }
        return segments, unfamiliar, columns


class _ArrowWriter:
    """Writes the Arrow path's columns: CSV as pandas writes it (neutralised), or Parquet."""

    def __init__(self, path: Path, kind: str, model: SegmentModel):
        import pyarrow as pa

        self.path = path
        self.kind = kind
        self.handle = None
        self.writer = None
        self.schema = None
        names = list(model.names) + [""]  # "" for rows left out (segment -1)
        self.names = pa.array(names, pa.string())
        text = [io.neutralise_cell(name) for name in names]
        cells = io.csv_text_cells(pa.array(text, pa.string()))
        if cells is None:  # a carriage return in a name: pandas quotes every text field
            raise _Fallback("carriage return in a segment name")
        # "segment,segment_name" per slot: one field of the line instead of two
        numbers = [str(s) for s in range(model.k)] + ["-1"]
        self.segment_cells = pa.array([f"{num},{cell}" for num, cell in
                                       zip(numbers, cells.to_pylist(), strict=True)], pa.large_string())
        self.flag_cells = (pa.scalar("True\n", pa.large_string()), pa.scalar("False\n", pa.large_string()))

    def write(self, columns: dict) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        first, ids = next(iter(columns.items()))
        segments = columns["segment"]
        slot = pa.array(np.where(segments < 0, len(self.names) - 1, segments))
        if self.kind == "parquet":

            if pa.types.is_large_string(ids.type):
                ids = ids.cast(pa.string())
            elif pa.types.is_integer(ids.type):
                ids = ids.cast(pa.int64())
            table = pa.table({first: ids, "segment": pa.array(segments, pa.int64()),
                              "segment_name": pc.take(self.names, slot),
                              "distance": pa.array(columns["distance"], pa.float64()),
                              "unfamiliar": pa.array(columns["unfamiliar"], pa.bool_())})
            _append_parquet(self, table)
            return
        if pa.types.is_integer(ids.type):
            id_cells = pc.cast(ids, pa.large_string())
        else:
            id_cells = io.csv_text_cells(_neutralise_array(ids))
            if id_cells is None:
                raise _Fallback("carriage return in an id")
        fields = [id_cells, pc.take(self.segment_cells, slot), io.format_floats(columns["distance"]),
                  pc.if_else(pa.array(columns["unfamiliar"]), *self.flag_cells)]
        if self.handle is None:
            self.handle = open(self.path, "wb")  # noqa: SIM115
            header = [io.neutralise_cell(c) for c in
                      (first, "segment", "segment_name", "distance", "unfamiliar")]
            if any("\r" in c for c in header):
                raise _Fallback("carriage return in a column name")
            self.handle.write(io.csv_header(header).encode("utf-8"))
        self.handle.write(io.csv_lines(fields, terminated=True))

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.writer is not None:
            self.writer.close()


def _neutralise_array(array):
    """:func:`custseg.io.neutralise_cell` on every value of a pyarrow string array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    risky = None
    for prefix in io.FORMULA_PREFIXES:
        starts = pc.starts_with(array, prefix)
        risky = starts if risky is None else pc.or_(risky, starts)
    risky = pc.fill_null(risky, False).to_numpy(zero_copy_only=False)
    if not risky.any():
        return array
    rows = np.flatnonzero(risky)
    changed = [io.neutralise_cell(v) != v for v in array.take(pa.array(rows)).to_pylist()]
    mask = np.zeros(len(array), dtype=bool)
    mask[rows[np.asarray(changed, dtype=bool)]] = True
    if not mask.any():
        return array
    prefixed = pc.binary_join_element_wise(pa.scalar("'", array.type), array, pa.scalar("", array.type))
    return pc.if_else(pa.array(mask), prefixed, array)


def _resolve_segments(wanted: list[str], names: list[str]) -> list[int]:
    chosen = []
    for w in wanted:
        text = str(w).strip()
        if text.lower() == "all":
            return list(range(len(names)))
        if text.lstrip("-").isdigit():
            s = int(text)
            if not 0 <= s < len(names):
                raise ParameterError(f"--segment {s} does not exist: the run has segments "
                                     f"0 to {len(names) - 1}", fix="pick one of those ids")
            chosen.append(s)
            continue
        lowered = [n.lower() for n in names]
        if text.lower() not in lowered:
            import difflib

            close = difflib.get_close_matches(text, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"--segment {text!r} is not a segment name of this run{hint}",
                                 fix="use a name or id from profiles.csv")
        chosen.append(lowered.index(text.lower()))
    return sorted(set(chosen))


def export_segments(run_dir: str | Path, segments: list[str], out: str | Path, *,
                    overwrite: bool = False, data: str | Path | None = None,
                    columns: list[str] | None = None) -> dict:
    """Write the customers of the chosen segments (names, ids or ``all``) to ``out``.

    CSV output is neutralised against spreadsheet formula injection (as
    segments.csv is, so ids match between files); Parquet keeps raw values.
    ``data`` and ``columns``: columns of the customer file joined by id (for a CRM
    upload); ``["all"]`` is every column but the id and the personal ones (``pii``),
    which are added only when named. Customers missing from ``data`` get empty cells
    and a warning.
    """
    from .rundir import segments_path

    run = Path(run_dir)
    src = segments_path(run)
    if not segments:
        raise ParameterError("no --segment given", fix="pass --segment NAME, --segment ID or "
                                                       "--segment all")
    if (data is None) != (columns is None):
        raise ParameterError("--data and --columns go together",
                             fix="pass both: --data customers.csv --columns email,first_name")
    out = Path(out)
    kind = _output_kind(out)
    _check_target(out, overwrite)
    profiles = json.loads((run / "profiles.json").read_text(encoding="utf-8"))["segments"]
    names = [p["name"] for p in profiles]
    table = pd.read_parquet(src)
    chosen = _resolve_segments(segments, names)
    picked = table[table["segment"].isin(chosen)].reset_index(drop=True)
    warnings: list[dict] = []
    if data is not None:
        picked, warnings = _join_columns(run, picked, Path(data), list(columns or []))
    if kind == "csv":
        io.write_csv(picked, out)
    else:
        io.write_parquet(picked, out)
    return {"rows": len(picked), "segments": [{"segment": s, "name": names[s]} for s in chosen],
            "output": str(out), "warnings": warnings}


def _join_columns(run: Path, picked: pd.DataFrame, data: Path, columns: list[str]
                  ) -> tuple[pd.DataFrame, list[dict]]:
    """``picked`` with ``columns`` of the customer file ``data`` joined by the run's id."""
    from ._messages import count_text, did_you_mean
    from .modelfile import load_model
    from .validate import close_column

    spec = load_model(run).input_spec
    if not spec.id or spec.id not in picked.columns:
        raise ParameterError(f"the run {run} has no id column, so --data cannot be joined",
                             fix="run with a spec naming the id (id = \"customer_id\")")
    frame = io.read_table(data)
    if spec.id not in frame.columns:
        raise InputError(f"{data} has no column {spec.id!r}, the run's id"
                         + did_you_mean(spec.id, [str(c) for c in frame.columns]),
                         fix="export the customer file with its id column")
    if [c.strip() for c in columns] == ["all"]:
        columns = [str(c) for c in frame.columns if c != spec.id and c not in spec.personal]
    for name in columns:
        if name not in frame.columns:
            close = close_column(name, [str(c) for c in frame.columns])
            raise ParameterError(f"--columns names {name!r}, which {data} does not have"
                                 + (f"; did you mean {close!r}?" if close else ""),
                                 fix=f"use columns of {data}")
        if name == spec.id or name in picked.columns:
            raise ParameterError(f"--columns names {name!r}, which the export has already",
                                 fix=f"leave {name!r} out of --columns")
    ids = frame[spec.id]
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0]) + 1
        raise InputError(f"{data} has {int(dup.sum())} rows sharing an id in {spec.id!r} (row "
                         f"{first}: {ids.iloc[first - 1]!r})", fix="remove the duplicate rows")
    key, their = picked[spec.id], frame[spec.id]
    if key.dtype != their.dtype:  # e.g. integer ids in the run, text in a spreadsheet
        key, their = key.astype(str), their.astype(str)
    extra = frame[list(columns)].set_axis(their.to_numpy()).reindex(key.to_numpy())
    absent = int((~pd.Index(key.to_numpy()).isin(their.to_numpy())).sum())
    out = pd.concat([picked, extra.reset_index(drop=True)], axis=1)
    warnings = []
    if absent:
        warnings.append({"code": "not-in-data", "message": f"{count_text(absent, 'customer')} "
                         f"of the export {'is' if absent == 1 else 'are'} not in {data}: their "
                         f"{', '.join(columns)} cells are empty"})
    return out, warnings
