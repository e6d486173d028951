"""The Spark engine on a real standalone cluster, from an environment that is not activated.

Issue #16: ``custseg run ... --engine spark`` from a virtual environment's console
script called by its path (as ``pipx`` installs it) failed, because Spark's Python
workers ran ``python3`` from ``PATH``, which had no custseg. Here a master and a
worker (one core, on 127.0.0.1, free ports, logs in a temporary folder) are
started from pyspark's own ``bin/spark-class``; ``python3`` on every ``PATH`` (the
driver's, the master's, the worker's and so the executors') is a Python with
pandas, NumPy, pyarrow and pyspark but without custseg, and the driver finds
custseg only through its own ``sys.path``, as a console script does. The
executors import the custseg zip that the engine ships to them. (Local mode from
such an environment: ``test_spark.py``'s subprocess run.)

Skipped without pyspark or Java, except under CUSTSEG_REQUIRE_ALL=1, where that
is a failure. The cluster is module-scoped; its process groups (with the
executors and their Python workers) are killed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import custseg
from conftest import env_without_custseg, require_or_skip
from custseg.datasets import demo_spec_text, make_customers
from custseg.io import read_table
from custseg.pipeline import RunOptions, segment
from custseg.spec import parse_spec

SRC = Path(custseg.__file__).resolve().parents[1]  # the custseg under test, for the driver
READY_SECONDS = 180  # the JVMs start slowly on a busy 2-core machine
RUN = """
import sys
sys.path.insert(0, sys.argv.pop(1))  # custseg for this process only, as a console script has it
from custseg._entry import main

sys.argv = ["custseg", *sys.argv[1:]]
main()
"""


def _spark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while text not in (log.read_text(errors="replace") if log.exists() else ""):
        if process.poll() is not None:
            pytest.fail(f"the {what} ended (exit {process.returncode}):\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the {what} was not ready in {READY_SECONDS} s:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """End ``process`` and everything it started (its own process group): TERM, then KILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):  # executors, Python workers left in it
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def cluster(python_without_custseg, tmp_path_factory):
    """``spark://127.0.0.1:PORT`` of a master and a worker (1 core, 2 GB at most) started
    from pyspark's ``bin/spark-class``; both killed with all they started at the end."""
    require_or_skip(_spark_available(), "pyspark or java is not installed (pip install "
                                        "'custseg[spark]'; Java 17)")
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    spark_class = home / "bin" / "spark-class"
    require_or_skip(spark_class.is_file(), f"pyspark has no {spark_class}")
    logs = tmp_path_factory.mktemp("cluster")
    env = env_without_custseg(python_without_custseg, SPARK_HOME=str(home),
                              SPARK_LOCAL_IP="127.0.0.1")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    commands = {
        "master": ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                   "--port", str(port), "--webui-port", str(_free_port())],
        "worker": ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                   "--port", str(_free_port()), "--webui-port", str(_free_port()),
                   "--cores", "1", "--memory", "2g", "--work-dir", str(logs / "work")],
    }
    ready = {"master": "I have been elected leader", "worker": "Successfully registered with master"}
    started: list[subprocess.Popen] = []
    try:
        for name, args in commands.items():
            log = logs / f"{name}.log"
            with log.open("wb") as out:
                started.append(subprocess.Popen(
                    ["bash", str(spark_class), *args], env=env, stdout=out,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
            _wait_for(log, ready[name], started[-1], f"Spark {name}")
        yield url
    finally:
        for process in reversed(started):
            _stop(process)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    make_customers(600, seed=11).to_csv(folder / "customers.csv", index=False)
    (folder / "spec.toml").write_text(demo_spec_text())
    # on a cluster Spark's default is 200 shuffle partitions: a few for 600 rows
    conf = folder / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 2\n")
    return folder


def test_a_standalone_cluster_runs_the_engine_with_custseg_shipped(cluster, inputs,
                                                                   python_without_custseg,
                                                                   tmp_path):
    """``custseg run --engine spark --master spark://...`` in a new process whose ``PATH``'s
    ``python3`` (the driver's, the master's, the worker's, so the executors') cannot import
    custseg: the executors validate the rows with the custseg zip the engine ships them."""
    out = tmp_path / "run"
    env = env_without_custseg(python_without_custseg, SPARK_LOCAL_IP="127.0.0.1",
                              CUSTSEG_SPARK_LOG=str(tmp_path / "jvm.log"),
                              CUSTSEG_SPARK_DRIVER_MEMORY="1g",
                              SPARK_CONF_DIR=str(inputs / "conf"))
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(SRC), "run", str(inputs / "customers.csv"), "--spec",
         str(inputs / "spec.toml"), "--engine", "spark", "--master", cluster, "--k", "3",
         "--k-range", "3-3", "--n-init", "1", "--out", str(out), "-q"],  # (one MLlib fit)
        env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["master"] == cluster
    assert manifest["input"]["rows"] == 600
    # the same customers in the same segments as with the local engine
    local = segment(read_table(inputs / "customers.csv"),
                    parse_spec((inputs / "spec.toml").read_text()),
                    RunOptions(k=3, k_range=(3, 3), analysis=False)).segments
    seg = pd.read_csv(out / "segments.csv")
    assert seg["row"].tolist() == local["row"].tolist()
    assert adjusted_rand_score(local["segment"], seg["segment"]) >= 0.95
