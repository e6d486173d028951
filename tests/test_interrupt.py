"""Interrupt safety: a run killed at any moment leaves its output absent or complete."""

import os
import signal
import subprocess
import sys
import time

import pytest

from custseg.datasets import demo_spec_text, make_customers
from custseg.rundir import RUN_FILES

COMPLETE = set(RUN_FILES) | {"analysis.json", "report.html", "report.md"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("interrupt")
    data = d / "data.csv"
    make_customers(6_000, seed=1).to_csv(data, index=False)
    spec = d / "spec.toml"
    spec.write_text(demo_spec_text())
    return data, spec


def start(data, spec, out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "custseg", "run", str(data), "--spec", str(spec), "--out", str(out),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(out) -> str:
    if not out.exists():
        return "absent"
    files = {p.name for p in out.iterdir()}
    assert COMPLETE <= files, f"partial output: {sorted(files)}"
    return "complete"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_run_leaves_nothing_partial(inputs, tmp_path, sig):
    """Killed at several moments (start-up, validation, choice of k, writing), a run
    leaves its output absent or complete; the next run cleans up and completes."""
    data, spec = inputs
    out = tmp_path / "run"
    for delay in (0.3, 1.0, 2.0, 3.0, 4.0):
        # on a fast machine a run may finish before the signal: the next one then
        # replaces it (the old output stays until the new one is complete)
        again = ["--overwrite"] if out.exists() else []
        proc = start(data, spec, out, "--quiet", "--k-range", "2-5", *again)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        state(out)  # absent or complete, never partial
        if sig == signal.SIGINT and proc.returncode not in (0, None):
            # 130 from custseg's handler; -2 when the interrupt lands while the
            # interpreter itself is starting or shutting down
            assert proc.returncode in (130, -signal.SIGINT), err
            assert "Traceback" not in err
            if proc.returncode == 130 and err:
                assert "interrupted: nothing was written" in err
            assert [p for p in tmp_path.iterdir() if p.name.startswith(".run.")] == []
    proc = start(data, spec, out, "--quiet", "--overwrite", "--k", "3")
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert state(out) == "complete"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".run.")] == []


def test_overwrite_replaces_the_old_run_only_when_the_new_one_is_complete(inputs, tmp_path):
    data, spec = inputs
    out = tmp_path / "run"
    first = start(data, spec, out, "--quiet", "--k", "3")
    assert first.wait(timeout=180) == 0
    before = (out / "manifest.json").read_bytes()
    proc = start(data, spec, out, "--quiet", "--overwrite", "--k", "4")
    time.sleep(2.0)
    assert (out / "manifest.json").read_bytes() == before  # old run intact meanwhile
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert state(out) == "complete"
