"""Assign new customers from files, in chunks, and export audiences (an I/O edge).

:func:`assign_file` streams a data file through a :class:`~custseg.model.SegmentModel`
chunk by chunk, so files larger than memory work with memory bounded by the
chunk size. :func:`export_segments` writes the customer list of chosen segments
from a run directory, ready for a CRM or ad-platform upload.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import io
from .errors import InputError, ParameterError
from .model import SegmentModel

__all__ = ["assign_file", "export_segments", "OUTPUT_TYPES"]

OUTPUT_TYPES = (".csv", ".parquet", ".pq")


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
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        else:
            table = table.cast(self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.writer is not None:
            self.writer.close()


def assign_file(model: SegmentModel, data: str | Path, out: str | Path, *,
                chunksize: int = 500_000, overwrite: bool = False, encoding: str | None = None,
                sql: str | None = None) -> dict:
    """Assign every customer of ``data`` and write the result to ``out`` atomically.

    Returns a summary: rows, counts per segment, unfamiliar customers, warnings.
    Every chunk is validated before anything is kept; a chunk with errors stops
    the run, and nothing is written.
    """
    if not isinstance(chunksize, int) or chunksize < 1:
        raise ParameterError(f"--chunk-size must be a positive integer, got {chunksize!r}")
    out = Path(out)
    kind = _output_kind(out)
    _check_target(out, overwrite)
    counts = np.zeros(model.k + 1, dtype=np.int64)  # last slot: left out (-1)
    unfamiliar = 0
    rows = 0
    warnings: list[dict] = []
    with io.atomic_file(out) as tmp:
        writer = _Writer(Path(tmp), kind)
        try:
            for chunk in io.iter_table(data, chunksize=chunksize, encoding=encoding, sql=sql):
                result, found = model.assign(chunk, row_offset=rows)
                writer.write(result)
                seg = result["segment"].to_numpy()
                counts += np.bincount(np.where(seg < 0, model.k, seg), minlength=model.k + 1)
                unfamiliar += int(result["unfamiliar"].sum())
                rows += len(chunk)
                warnings.extend(p.to_dict() for p in found)
        finally:
            writer.close()
        if rows == 0:
            raise InputError(f"{data} has no rows to assign")
    return {
        "rows": rows,
        "segments": [{"segment": s, "name": model.names[s], "count": int(counts[s])}
                     for s in range(model.k)],
        "left_out": int(counts[model.k]),
        "unfamiliar": unfamiliar,
        "warnings": warnings,
        "output": str(out),
    }


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
                    overwrite: bool = False) -> dict:
    """Write the customers of the chosen segments (names, ids or ``all``) to ``out``.

    CSV output is neutralised against spreadsheet formula injection (as
    segments.csv is, so ids match between files); Parquet keeps raw values.
    """
    run = Path(run_dir)
    src = run / "segments.parquet"
    if not src.is_file():
        raise InputError(f"{str(run)!r} is not a custseg run directory (no segments.parquet)",
                         fix="pass the --out directory of custseg run")
    if not segments:
        raise ParameterError("no --segment given", fix="pass --segment NAME, --segment ID or "
                                                       "--segment all")
    out = Path(out)
    kind = _output_kind(out)
    _check_target(out, overwrite)
    profiles = json.loads((run / "profiles.json").read_text(encoding="utf-8"))["segments"]
    names = [p["name"] for p in profiles]
    table = pd.read_parquet(src)
    chosen = _resolve_segments(segments, names)
    picked = table[table["segment"].isin(chosen)].reset_index(drop=True)
    if kind == "csv":
        io.write_csv(picked, out)
    else:
        io.write_parquet(picked, out)
    return {"rows": len(picked), "segments": [{"segment": s, "name": names[s]} for s in chosen],
            "output": str(out)}

