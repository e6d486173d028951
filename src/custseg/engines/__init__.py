"""Engines: where a segmentation run is computed.

A registry from an engine name to the function that runs the pipeline and returns
a :class:`~custseg.pipeline.RunResult`, so :func:`custseg.rundir.write_run`, and
with it ``assign``, ``serve``, ``compare`` and ``report``, work the same whichever
engine made the run:

``local``
    :func:`custseg.pipeline.segment` in this process (pandas, scikit-learn).
``spark``
    :func:`custseg.engines.spark.segment` on Apache Spark (the ``custseg[spark]``
    extra), ``local[*]`` by default or a cluster given by its master URL.

Every engine function has the signature ``engine(df, spec, options, *, progress,
input_info, source, master, encoding, on_partial_analysis)``: ``source`` is the
input file when the engine can read it itself (``df`` may then be None, or a head
of the data for inferring a spec), ``master`` a Spark master URL, ``encoding`` a
text encoding the user forced, ``on_partial_analysis`` a callback given the parts
of the analysis known before the run ends (see :func:`custseg.pipeline.segment`;
an engine may never call it). :func:`reads_itself` tells whether an engine reads a given source
itself, so that the CLI does not read it first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, ParameterError
from ..pipeline import RunOptions, RunResult
from ..spec import Spec

__all__ = ["ENGINES", "get_engine", "run_engine", "reads_itself", "finish_run"]


def _local(df: pd.DataFrame | None, spec: Spec | None, options: RunOptions, *,
           progress=None, input_info: dict | None = None, source: str | Path | None = None,
           master: str | None = None, encoding: str | None = None,
           on_partial_analysis=None) -> RunResult:
    """The in-process engine: :func:`custseg.pipeline.segment`."""
    from .. import io
    from ..pipeline import segment

    if master is not None:
        raise ParameterError("--master only applies to --engine spark",
                             fix="add --engine spark, or leave --master out")
    if df is None:
        if source is None:
            raise InputError("no data was given to the local engine",
                             fix="pass a DataFrame or a file path")
        df = io.read_table(Path(source), encoding=encoding, n_jobs=options.n_jobs)
    return segment(df, spec, options, progress=progress, input_info=input_info,
                   on_partial_analysis=on_partial_analysis)


def _spark(df, spec, options, *, on_partial_analysis=None, **kwargs) -> RunResult:
    from .spark import segment

    return segment(df, spec, options, **kwargs)


def _spark_reads(source: str | Path) -> bool:
    from .spark import can_read

    return can_read(source)


ENGINES: dict[str, Callable[..., RunResult]] = {"local": _local, "spark": _spark}
_READS: dict[str, Callable[[str | Path], bool]] = {"local": lambda source: False,
                                                   "spark": _spark_reads}


def get_engine(name: str) -> Callable[..., RunResult]:
    """The engine function registered as ``name``.

    Raises
    ------
    ParameterError
        For an unknown name, listing the known ones.
    """
    try:
        return ENGINES[name]
    except KeyError:
        raise ParameterError(f"unknown engine {name!r}",
                             fix=f"use one of {', '.join(ENGINES)}") from None


def reads_itself(name: str, source: str | Path) -> bool:
    """Whether the engine ``name`` reads ``source`` itself (the caller then need not)."""
    get_engine(name)
    return _READS[name](source)


def run_engine(name: str, df: pd.DataFrame | None, spec: Spec | None,
               options: RunOptions | None = None, **kwargs: Any) -> RunResult:
    """Run the segmentation with the engine ``name``; see the module docstring."""
    return get_engine(name)(df, spec, options or RunOptions(), **kwargs)


def finish_run(result: RunResult, out: str | Path) -> None:
    """Engine-specific outputs after :func:`custseg.rundir.write_run` (a no-op for local).

    For a large Spark run, replaces ``segments.parquet`` by a Spark-partitioned
    Parquet directory of the same rows and columns.
    """
    if getattr(result, "spark_segments", None) is not None:
        from .spark import write_partitioned_segments

        write_partitioned_segments(result, out)
