"""The run directory: write a :class:`~custseg.pipeline.RunResult` atomically, read it back.

Layout::

    segments.csv    id (or row, from 1), segment, segment_name, distance
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
from pathlib import Path

from . import io
from .errors import InputError
from .modelfile import load_model, model_to_json
from .pipeline import RunResult, profiles_table

__all__ = ["write_run", "read_run", "RUN_FILES"]

RUN_FILES = ("segments.csv", "profiles.csv", "profiles.json", "selection.csv", "model.json",
             "spec.toml", "manifest.json")


def write_run(result: RunResult, out: str | Path, *, overwrite: bool = False,
              extra_files: dict[str, bytes] | None = None) -> Path:
    """Write every output of ``result`` to ``out`` atomically and return its path."""
    out = Path(out)
    spec = result.spec
    with io.atomic_output_dir(out, overwrite=overwrite) as tmp:
        for name, data in (extra_files or {}).items():
            (tmp / name).write_bytes(data)
        io.write_csv(result.segments, tmp / "segments.csv")
        io.write_csv(profiles_table(result.profiles, spec), tmp / "profiles.csv")
        io.write_json({"k": len(result.profiles), "segments": result.profiles},
                      tmp / "profiles.json")
        io.write_csv(result.selection, tmp / "selection.csv")
        (tmp / "model.json").write_text(model_to_json(result.segmenter.model_), encoding="utf-8")
        header = ("The effective data dictionary of this run (custseg).\n"
                  + ("It was inferred from the data: review it, edit it and pass it with --spec."
                     if result.spec_inferred else ""))
        (tmp / "spec.toml").write_text(spec.to_toml(header=header), encoding="utf-8")
        manifest = dict(result.manifest)
        manifest["outputs"] = sorted([*RUN_FILES, *(extra_files or {})])
        io.write_json(manifest, tmp / "manifest.json")
    return out


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
