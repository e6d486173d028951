"""Reading Parquet: a file, or a folder of parts as Spark and Hive write them.

A folder is read in the sorted order of its parts' relative paths
(:func:`data_files`), ``key=value`` folders becoming columns; a stored index is
made plain columns. Both can be read whole or in chunks of bounded size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .sources import empty_error, no_rows_error

__all__ = ["read_parquet", "parquet_file_chunks", "read_parquet_folder", "parquet_folder_chunks",
           "is_parquet_folder", "data_files", "unreadable_parquet_error"]


def read_parquet(path: Path) -> pd.DataFrame:
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
        raise empty_error(path)
    if frame.empty:
        raise no_rows_error(path)
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


def is_parquet_folder(path: Path) -> bool:
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


def read_parquet_folder(path: Path) -> pd.DataFrame:
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


def parquet_file_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    """A Parquet file in chunks of at most ``chunksize`` rows (its record batches)."""
    import pyarrow.parquet as pq

    yield from _parquet_chunks(
        path, lambda: pq.ParquetFile(path).iter_batches(batch_size=chunksize),
        unreadable_parquet_error)


def parquet_folder_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    """A folder of Parquet parts in chunks of at most ``chunksize`` rows, part after part."""
    dataset = _parquet_folder(path)
    yield from _parquet_chunks(
        path, lambda: dataset.scanner(batch_size=chunksize, use_threads=False).to_batches(),
        _unreadable_part_error)


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
        raise no_rows_error(path)
