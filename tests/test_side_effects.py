"""A library has no side effects: with one job (the default) custseg starts no process
and no thread of its own, and n_jobs changes no result.

People embed custseg in Jupyter kernels, web servers and Airflow workers: a fork
without exec of a multi-threaded process can deadlock there, and a helper process
outlives a killed parent. Parallelism is the caller's choice (``n_jobs``, joblib).
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.datasets import demo_spec_text, make_customers
from custseg.pipeline import RunOptions, compare_algorithms

PACKAGE = str(Path(custseg.__file__).resolve().parent)
STDLIB = str(Path(os.__file__).resolve().parent)


def _started_by_custseg() -> bool:
    """Is the code asking for a process or thread custseg's own (directly or through joblib)?

    The innermost frame outside the standard library decides; joblib counts as what
    called it. A dependency's own choice (scikit-learn asking joblib how many cores
    there are, pyarrow converting a large DataFrame on its threads) is not custseg's.
    """
    through_joblib = False
    for frame in inspect.stack()[2:]:
        where = str(Path(frame.filename).resolve())
        if where.startswith(STDLIB) and "site-packages" not in where:
            continue
        if f"{os.sep}joblib{os.sep}" in where:
            through_joblib = True
            continue
        return where.startswith(PACKAGE)
    return through_joblib


@pytest.fixture
def refuse_processes_and_threads(monkeypatch):
    """os.fork, subprocess.Popen, multiprocessing's and threading's start raise for custseg."""
    started = []

    def refuse(what, real):
        def start(*args, **kwargs):
            if _started_by_custseg():
                started.append(what)
                raise AssertionError(f"custseg started {what} with one job")
            return real(*args, **kwargs)
        return start

    monkeypatch.setattr(os, "fork", refuse("os.fork", os.fork))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen", subprocess.Popen))
    monkeypatch.setattr(multiprocessing.Process, "start",
                        refuse("a multiprocessing process", multiprocessing.Process.start))
    monkeypatch.setattr(threading.Thread, "start", refuse("a thread", threading.Thread.start))
    yield started
    assert started == []


def test_the_refusal_tells_custseg_from_its_dependencies(refuse_processes_and_threads):
    # the check itself: a thread started here (a test in custseg's place) is refused
    import custseg._parallel as parallel

    with pytest.raises(AssertionError, match="started a thread"):
        parallel.map_ordered(abs, [-1, -2], n_jobs=2)
    refuse_processes_and_threads.clear()


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return make_customers(3_000, seed=3)


@pytest.fixture(scope="module")
def spec():
    return custseg.parse_spec(demo_spec_text())


def test_segment_starts_nothing_with_one_job(refuse_processes_and_threads, customers, spec, tmp_path):
    from custseg.workflow import save_run

    result = custseg.segment(customers, spec)
    assert result.analysis is not None and result.segmenter.k_ >= 2
    save_run(result, tmp_path / "run")  # the report and its figures too
    assert (tmp_path / "run" / "figures" / "selection.png").is_file()


def test_the_fast_path_starts_nothing_with_one_job(refuse_processes_and_threads, spec):
    df = make_customers(25_000, seed=4)  # above the fast path's threshold
    result = custseg.segment(df, spec, RunOptions(selection_max=20_000, stability_runs=1))
    assert result.segmenter.fast_ and result.manifest["selection_sample_size"] == 20_000


def test_the_estimator_starts_nothing_with_one_job(refuse_processes_and_threads, customers, spec):
    seg = custseg.CustomerSegmenter(spec).fit(customers)
    assert seg.labels_.shape == (len(customers),)


def test_comparing_algorithms_starts_nothing_with_one_job(refuse_processes_and_threads, customers,
                                                          spec):
    table = compare_algorithms(customers, spec, RunOptions(stability_runs=1),
                               ["kmeans", "gmm", "ward"])
    assert [r["algorithm"] for r in table["rows"]] == ["kmeans", "gmm", "ward"]


def _comparable(result) -> dict:
    manifest = {k: v for k, v in result.manifest.items() if k != "timings"}
    return {"segments": result.segments.to_csv(index=False), "manifest": manifest,
            "analysis": json.dumps(result.analysis, sort_keys=True)}


def test_n_jobs_changes_no_result(customers, spec):
    from custseg.modelfile import model_to_json

    one = custseg.segment(customers, spec)
    two = custseg.segment(customers, spec, n_jobs=2)
    assert _comparable(one) == _comparable(two)
    assert model_to_json(one.segmenter.model_) == model_to_json(two.segmenter.model_)
    np.testing.assert_array_equal(one.segmenter.labels_, two.segmenter.labels_)


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_a_bad_n_jobs_is_refused(customers, spec, n_jobs):
    with pytest.raises(custseg.ParameterError, match="'n_jobs' parameter"):
        custseg.CustomerSegmenter(spec, n_jobs=n_jobs).fit(customers)
