"""The run directory: write a :class:`~custseg.pipeline.RunResult` atomically, read it back.

Layout::

    segments.csv    id (or row, from 1), segment, segment_name, distance (text cells
                    neutralised against spreadsheet formulas); not written for a Spark
                    run of more than 20 million customers
    segments.parquet  the same with raw values (for a Spark run of a million customers
                    or more: a partitioned folder written by Spark)
    profiles.csv    one row per segment
    profiles.json   the same, nested, with category shares and lifts
    selection.csv   one row per k: the metrics behind the choice of k
    model.json      everything needed to assign new customers (custseg.modelfile)
    spec.toml       the effective spec
    manifest.json   k and its reason, warnings, input checksum, seed, versions, timings

Everything is written into a hidden temporary directory beside the target and
renamed into place at the end, so a failed or interrupted run leaves nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from . import io
from ._parallel import beside_many
from .errors import InputError
from .modelfile import load_model, model_to_json
from .pipeline import RunResult, profiles_table

__all__ = ["write_run", "read_run", "read_segments", "segments_path", "RUN_FILES"]

RUN_FILES = ("segments.csv", "segments.parquet", "profiles.csv", "profiles.json", "selection.csv",
             "model.json", "spec.toml", "manifest.json")


def write_run(result: RunResult, out: str | Path, *, overwrite: bool = False,
              extra_files: dict[str, bytes] | None = None,
              finish: Callable[[Path], None] | None = None, n_jobs: int | None = None,
              report: Callable[[Path], object] | None = None) -> Path:
    """Write every output of ``result`` to ``out`` atomically and return its path.

    ``report(tmp)``, if given, renders the report from the analysis into the
    temporary directory (:func:`custseg.report.files.write_report`; see
    :func:`custseg.workflow.save_run`, which writes a run with its report).
    ``finish(tmp)``, if given, adds engine-specific outputs to the temporary
    directory before the manifest is written and the directory renamed into place
    (e.g. :func:`custseg.engines.finish_run`'s partitioned ``segments.parquet/``).
    With ``n_jobs`` of two or more the per-customer tables are written in other
    threads (Arrow's writers release the GIL) while this one writes the small
    files and the report.
    """
    out = Path(out)
    spec = result.spec
    timings = result.manifest.setdefault("timings", {})
    with io.atomic_output_dir(out, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        big = [] if result.segments is None else beside_many([  # (None: the engine's finish)
            (io.write_csv, (result.segments, tmp / "segments.csv"), {}),
            (io.write_parquet, (result.segments, tmp / "segments.parquet"), {})],
            n_jobs=n_jobs, prefer="threads")
        failure: BaseException | None = None
        t1 = t2 = t0
        try:
            for name, data in (extra_files or {}).items():
                (tmp / name).write_bytes(data)
            io.write_csv(profiles_table(result.profiles, spec), tmp / "profiles.csv")
            io.write_json({"k": len(result.profiles), "segments": result.profiles},
                          tmp / "profiles.json")
            io.write_csv(result.selection, tmp / "selection.csv")
            t1 = time.perf_counter()
            if result.analysis is not None:
                # compact: the report's data (megabytes of chart points), read by programs
                io.write_json(result.analysis, tmp / "analysis.json", indent=None)
                if report is not None:
                    report(tmp)
            t2 = time.perf_counter()
        except BaseException as exc:  # reported after the segment tables' own errors
            failure = exc
        # Errors surface in file order whatever the threads' timing: the segment
        # tables' first (they come first in the layout), then this thread's.
        for job in big:
            job.result()
        if failure is not None:
            raise failure
        (tmp / "model.json").write_text(model_to_json(result.segmenter.model_), encoding="utf-8")
        header = ("The effective data dictionary of this run (custseg).\n"
                  + ("It was inferred from the data: review it, edit it and pass it with --spec."
                     if result.spec_inferred else ""))
        (tmp / "spec.toml").write_text(result.input_spec.to_toml(header=header), encoding="utf-8")
        timings["report"] = round(t2 - t1, 4)
        # the segment tables' writing overlaps the report: "write" is what is left
        timings["write"] = round(t1 - t0 + time.perf_counter() - t2, 4)
        if finish is not None:
            finish(tmp)
        manifest = dict(result.manifest)
        if (tmp / "segments.parquet").is_dir():
            manifest["segments_partitioned"] = True
        manifest["outputs"] = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*")
                                     if f.is_file()) + ["manifest.json"]
        io.write_json(manifest, tmp / "manifest.json")
    return out


def segments_path(run_dir: str | Path) -> Path:
    """``segments.parquet`` of a run directory: a file or, for a large Spark run, a
    partitioned folder (``pandas.read_parquet`` reads either).

    Raises
    ------
    InputError
        When there is none: ``run_dir`` is not a run directory.
    """
    path = Path(run_dir) / "segments.parquet"
    if not path.exists():
        raise InputError(f"{str(Path(run_dir))!r} is not a custseg run directory (no "
                         "segments.parquet)", fix="pass the --out directory of custseg run")
    return path


def read_segments(run_dir: str | Path, *, required: bool = True):
    """The segments table of a run directory (see :func:`segments_path`), or None when
    it has none and not ``required``."""
    import pandas as pd

    if not required and not (Path(run_dir) / "segments.parquet").exists():
        return None
    return pd.read_parquet(segments_path(run_dir))


def read_run(path: str | Path) -> dict:
    """Read a run directory back: manifest, profiles, model (verified) and its path."""
    p = Path(path)
    if not (p / "manifest.json").is_file():
        raise InputError(f"{str(p)!r} is not a custseg run directory (no manifest.json)",
                         fix="pass the --out directory of a custseg run")
    manifest = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
    profiles = json.loads((p / "profiles.json").read_text(encoding="utf-8"))
    return {"path": p, "manifest": manifest, "profiles": profiles["segments"],
            "model": load_model(p / "model.json")}
