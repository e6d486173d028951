"""custseg._parallel: n_jobs as scikit-learn reads it, values in call order, errors whole."""

from __future__ import annotations

import os

import pytest

from custseg._parallel import beside, beside_many, check_n_jobs, effective_n_jobs, map_ordered
from custseg.errors import ParameterError


def _square(x: int) -> int:
    return x * x


def _fails(x: int = 0) -> None:
    try:
        raise OSError(28, "No space left on device")
    except OSError as exc:
        raise ValueError(f"cannot write {x}") from exc


@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (1, 1), (2, 2), (-1, None)])
def test_n_jobs_is_read_as_scikit_learn_reads_it(n_jobs, expected):
    import joblib

    assert effective_n_jobs(n_jobs) == (expected or joblib.cpu_count())


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_a_bad_n_jobs_is_refused_with_one_message(bad):
    with pytest.raises(ParameterError, match=r"The 'n_jobs' parameter must be None or a non-zero "
                                             r"integer \(-1 for all CPUs\)\. Got .* instead"):
        check_n_jobs(bad)


@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("prefer", ["threads", "processes"])
def test_values_come_back_in_call_order(n_jobs, prefer):
    assert map_ordered(_square, range(7), n_jobs=n_jobs, prefer=prefer) == [0, 1, 4, 9, 16, 25, 36]
    laters = beside_many([(_square, (i,), {}) for i in range(5)], n_jobs=n_jobs, prefer=prefer)
    assert [later.started for later in laters] == [n_jobs == 2] * 5
    assert [later.result() for later in reversed(laters)] == [16, 9, 4, 1, 0]


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_an_error_in_a_thread_comes_back_whole(n_jobs):
    # joblib would replace the cause by a text of the worker's traceback; custseg's writers
    # read the cause (an OSError from a full disk) to name the file that failed
    for run in (lambda: beside(_fails, 3, n_jobs=n_jobs, prefer="threads").result(),
                lambda: map_ordered(_fails, [3], n_jobs=n_jobs),
                lambda: map_ordered(_fails, [1, 3], n_jobs=n_jobs)):
        with pytest.raises(ValueError, match="cannot write") as info:
            run()
        assert isinstance(info.value.__cause__, OSError)
        assert info.value.__cause__.errno == 28


def test_no_thread_outlives_the_values():
    # joblib's thread pool tells its threads to stop but does not wait for them
    import threading

    before = set(threading.enumerate())
    for _ in range(20):
        assert map_ordered(_square, range(5), n_jobs=2) == [0, 1, 4, 9, 16]
        assert set(threading.enumerate()) <= before
        laters = beside_many([(_square, (i,), {}) for i in range(3)], n_jobs=2, prefer="threads")
        assert [later.result() for later in laters] == [0, 1, 4]
        assert set(threading.enumerate()) <= before


def test_one_job_computes_when_asked_and_a_cancelled_value_is_never_computed():
    calls = []
    later = beside(lambda: calls.append("computed") or 42)
    assert not later.started and calls == []
    assert later.result() == 42 and later.result() == 42 and calls == ["computed"]
    cancelled = beside(lambda: calls.append("cancelled"))
    cancelled.cancel()
    assert calls == ["computed"]


def test_a_worker_process_computes_beside_the_caller():
    later = beside(os.getpid, n_jobs=2)
    assert later.started and later.result() != os.getpid()


KILLED_PARENT = """
import os, sys, time
from custseg._parallel import beside
later = beside(os.getpid, n_jobs=2)
print(later.result(), flush=True)
time.sleep(60)
"""


def test_worker_processes_end_with_a_killed_parent():
    # loky's workers would wait for work (and for the dead parent's lock) for minutes,
    # holding the parent's output pipes: a killed command's reader would never see EOF
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdout=subprocess.PIPE,
                              text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its killed parent by 20 s")
    assert parent.stdout.read() == ""  # and the pipe it shared is closed
