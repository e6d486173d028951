"""custseg._forked: work in a forked child, and the same value when it is computed here."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest

from custseg import _forked
from custseg.datasets import demo_spec_text, make_customers
from custseg.pipeline import RunOptions, segment
from custseg.spec import parse_spec

linux_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="forking is used on Linux with two or more CPUs only")


def _pid_and(value):
    return os.getpid(), value


def _thread_counts():
    from threadpoolctl import threadpool_info

    return os.getpid(), sorted({(i["user_api"], i["num_threads"]) for i in threadpool_info()})


@pytest.fixture(autouse=True)
def _fork_on(monkeypatch):
    monkeypatch.delenv(_forked.ENV, raising=False)


@linux_two_cpus
def test_the_value_is_computed_in_a_child_and_returned():
    job = _forked.start(_pid_and, {"a": [1.5, np.float64(2.0)]})
    assert job.forked
    pid, value = job.result(timeout=60)
    assert pid != os.getpid()
    assert value == {"a": [1.5, 2.0]} and isinstance(value["a"][1], np.float64)


@linux_two_cpus
def test_the_child_runs_with_one_openmp_and_blas_thread():
    import sklearn.cluster  # noqa: F401 - loads scikit-learn's OpenMP runtime

    here = _thread_counts()[1]
    pid, counts = _forked.start(_thread_counts).result(timeout=60)
    assert pid != os.getpid()
    assert counts and all(n == 1 for _, n in counts), counts
    if any(n > 1 for _, n in here):  # the limit was the child's only
        assert _thread_counts()[1] == here


def _kmeans_labels(X):
    from sklearn.cluster import KMeans

    return os.getpid(), KMeans(4, n_init=2, random_state=0).fit(X).labels_


@linux_two_cpus
def test_a_child_can_fit_kmeans_after_this_process_used_openmp_threads():
    # GNU OpenMP is not fork-safe: a child opening a parallel region of two threads
    # after the parent used OpenMP waits forever (the reason the child is limited to
    # one thread); here the parent surely used OpenMP with two threads first
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    X = np.random.default_rng(0).normal(size=(100_000, 3))
    with threadpool_limits(limits=2, user_api="openmp"):
        KMeans(8, n_init=1, random_state=0).fit(X)
    job = _forked.start(_kmeans_labels, X[:5_000])
    started = time.monotonic()
    pid, labels = job.result(timeout=60)
    assert pid != os.getpid(), "the child did not answer: computed here instead"
    assert time.monotonic() - started < 60
    # the same fit in this process, as a child-less run computes it
    assert np.array_equal(labels, _forked.computed_here(_kmeans_labels, X[:5_000])[1])


def _fails_in_the_child(parent):
    if os.getpid() != parent:
        raise RuntimeError("only in the child")
    return "computed here"


@linux_two_cpus
def test_a_failed_child_means_the_value_is_computed_here():
    job = _forked.start(_fails_in_the_child, os.getpid())
    assert job.forked
    assert job.result(timeout=60) == "computed here"


def _slow_in_the_child(parent):
    if os.getpid() != parent:
        time.sleep(60)
    return os.getpid()


@linux_two_cpus
def test_a_child_that_does_not_answer_in_time_is_killed_and_the_value_computed_here():
    job = _forked.start(_slow_in_the_child, os.getpid())
    child = job._pid
    started = time.monotonic()
    assert job.result(timeout=0.5) == os.getpid()
    assert time.monotonic() - started < 30
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(child, 0)


def _busy_then_stuck_in_the_child(parent):
    if os.getpid() != parent:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # computes for a while...
            pass
        time.sleep(60)  # ...then waits on something that never comes (as a lock would)
    return os.getpid()


@linux_two_cpus
def test_a_child_that_stops_using_the_cpu_is_taken_for_hung():
    job = _forked.start(_busy_then_stuck_in_the_child, os.getpid())
    started = time.monotonic()
    assert job.result(timeout=60, stall=1.0) == os.getpid()  # computed here
    assert 1.0 <= time.monotonic() - started < 30


def _computes(cpu_seconds):
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        pass
    return os.getpid()


@linux_two_cpus
def test_a_child_that_computes_is_not_taken_for_hung():
    job = _forked.start(_computes, 3.0)
    assert job.result(timeout=120, stall=1.0) != os.getpid()  # three stall windows, never idle


def test_without_fork_the_value_is_computed_when_asked(monkeypatch):
    monkeypatch.setenv(_forked.ENV, "0")
    assert not _forked.fork_available()
    job = _forked.start(_thread_counts)
    assert not job.forked
    pid, counts = job.result()
    assert pid == os.getpid()
    assert all(n == 1 for _, n in counts)  # with one thread, as a child would


def test_an_error_of_the_call_reaches_the_caller(monkeypatch):
    monkeypatch.setenv(_forked.ENV, "0")
    with pytest.raises(ZeroDivisionError):
        _forked.start(lambda: 1 / 0).result()


@linux_two_cpus
def test_fork_waits_for_registered_work_first():
    done = Future()

    def later():
        time.sleep(0.3)
        done.set_result(None)

    threading.Thread(target=later, daemon=True).start()
    _forked.finish_before_fork(done)
    job = _forked.start(_pid_and, None)
    assert done.done()  # waited for before the fork
    assert job.result(timeout=60)[0] != os.getpid()


def _analysis_and_selection(n_rows):
    spec = parse_spec(demo_spec_text())
    result = segment(make_customers(n_rows, seed=3), spec, RunOptions(k_range=(2, 5)))
    return (json.dumps(result.analysis, sort_keys=True),
            result.selection.to_csv(index=False), result.segments.to_csv(index=False))


@linux_two_cpus
def test_a_run_gives_the_same_results_with_and_without_child_processes(monkeypatch):
    jobs = []
    start = _forked.start

    def spy(fn, *args, **kwargs):
        jobs.append(start(fn, *args, **kwargs))
        return jobs[-1]

    monkeypatch.setattr(_forked, "start", spy)
    forked = _analysis_and_selection(6_000)
    # the questions and the gap statistic with stability, each in a child
    assert [job.forked for job in jobs] == [True, True]
    monkeypatch.setenv(_forked.ENV, "0")
    assert _analysis_and_selection(6_000) == forked
    assert [job.forked for job in jobs[2:]] == [False]  # the sweep uses a thread instead


def test_the_partial_analysis_holds_the_values_of_the_whole_one():
    from custseg.analysis import answer_questions, partial_analysis

    parts = []
    df = make_customers(6_000, seed=3)
    result = segment(df, parse_spec(demo_spec_text()), RunOptions(k_range=(2, 5)),
                     on_partial_analysis=parts.append)
    assert len(parts) == 3  # after the final fit, the stability refits and the profiles
    whole = result.analysis
    for part in (*parts, partial_analysis(result.segmenter, answer_questions(
            result.spec, result.segmenter.features_.impute(df), int(result.segmenter.random_state)))):
        assert part["selection"] == whole["selection"]
        assert part["charts"]["dendrogram"] == whole["charts"]["dendrogram"]
        if "associations" in part:  # the questions were answered by then
            assert part["associations"] == whole["associations"]
            assert part["charts"]["crosstab"] == whole["charts"]["crosstab"]
    assert "associations" in part
