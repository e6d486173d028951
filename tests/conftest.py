"""Shared test fixtures.

Tests that need data outside the repository (the real data sets under
``<repo>/../shared/data``) skip when it is absent, unless the environment
variable ``CUSTSEG_REQUIRE_ALL=1`` is set (as in CI), in which case they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def require_or_skip(condition: bool, reason: str) -> None:
    """Go on if ``condition`` holds; otherwise skip, or fail under CUSTSEG_REQUIRE_ALL=1.

    Parameters
    ----------
    condition : bool
        Whether what the test needs is available.
    reason : str
        What is missing, shown in the skip or failure message.
    """
    if condition:
        return
    if os.environ.get("CUSTSEG_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (required because CUSTSEG_REQUIRE_ALL=1)")
    pytest.skip(reason)


@pytest.fixture
def real_365_path() -> Path:
    """The real 365 customers CSV (3834 rows), or skip/fail if it is absent."""
    path = SHARED_DATA / "365-customers" / "customer_segmentation_data.csv"
    require_or_skip(path.is_file(), f"real data set not found: {path}")
    return path


@pytest.fixture
def cdnow_path() -> Path:
    """The CDNOW master order log (69659 rows), or skip/fail if it is absent."""
    path = SHARED_DATA / "cdnow" / "CDNOW_master.txt"
    require_or_skip(path.is_file(), f"CDNOW data set not found: {path}")
    return path


def wait_for_healthz(base: str, thread, failures: list, seconds: float = 20.0) -> None:
    """Wait until a server started in ``thread`` answers ``GET base/healthz`` with 200.

    Fails at once if the thread ends (showing ``failures``), or after ``seconds``.
    """
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert thread.is_alive(), f"serve() ended early: {failures!r}"
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the server did not answer /healthz in {seconds:g} s"
        time.sleep(0.02)


def env_without_custseg(bin_dir: Path, **extra: str) -> dict[str, str]:
    """This environment with ``bin_dir`` first on ``PATH`` (then java's folder and the
    system's) and nothing that hands custseg or a Python to Spark's workers (no
    ``PYTHONPATH``, ``PYSPARK_PYTHON``, ``VIRTUAL_ENV``, ``SPARK_HOME``), plus ``extra``."""
    import shutil

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV",
                        "SPARK_HOME", "SPARK_CONF_DIR")}
    java = shutil.which("java")
    env["PATH"] = os.pathsep.join([str(bin_dir), *([str(Path(java).resolve().parent)] if java
                                                   else []), "/usr/bin", "/bin"])
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def python_without_custseg(tmp_path_factory) -> Path:
    """A ``bin`` folder whose ``python3`` has pandas, NumPy, pyarrow and pyspark but cannot
    import custseg: ``python3`` on ``PATH`` outside an activated virtual environment.

    A virtual environment of this Python version whose one path entry is a folder of
    links to the packages of this interpreter's site-packages, leaving out custseg
    and every ``.pth`` file (an editable install's among them). Skips (or fails under
    CUSTSEG_REQUIRE_ALL=1) without pyspark.
    """
    import importlib.util
    import subprocess
    import venv

    require_or_skip(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    root = tmp_path_factory.mktemp("python-without-custseg")
    farm = root / "site"
    farm.mkdir()
    for name in ("pandas", "numpy", "pyarrow", "pyspark", "py4j"):
        site = Path(importlib.util.find_spec(name).origin).resolve().parents[1]
        for entry in site.iterdir():
            lower = entry.name.lower()
            if (lower.startswith(("custseg", "__editable__", "_custseg")) or lower.endswith(".pth")
                    or lower == "__pycache__" or (farm / entry.name).exists()):
                continue
            (farm / entry.name).symlink_to(entry)
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    bin_dir = env_dir / "bin"  # (a link to its python3 elsewhere would not find pyvenv.cfg)
    python = str(bin_dir / "python3")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                            "['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "site-links.pth").write_text(f"{farm}\n")
    env = env_without_custseg(bin_dir)
    assert subprocess.run([python, "-c", "import custseg"], env=env,
                          capture_output=True).returncode != 0, "custseg is importable"
    subprocess.run([python, "-c", "import pandas, pyarrow, pyspark"], env=env, check=True)
    return bin_dir


# ------------------------------------------- models of every kind, for the assignment paths
VARIED_SPEC = '''
kind = "customers"
id = "customer_id"
cluster_on = ["minutes_watched", "CLV", "tier"]
describe = ["region", "plan"]

[columns.minutes_watched]
kind = "numeric"
role = "engagement"
missing = "zero"
transform = "log"

[columns.CLV]
kind = "numeric"
role = "value"
missing = "median"

[columns.tier]
kind = "categorical"
missing = "mode"

[columns.region]
kind = "categorical"
missing = "unknown"
labels = { 0 = "North", 1 = "South", 2 = "Elsewhere" }

[columns.plan]
kind = "categorical"
missing = "unknown"
'''
"""A spec for the assignment-path tests: missing values filled three ways, a categorical
clustering column and a describing one without labels (codes never seen make a customer
unfamiliar, no warning) and one with labels (a code outside them is a warning)."""

VARIED_ALGORITHMS = ("kmeans", "gmm", "hdbscan", "kprototypes")


def varied_customers(n: int, seed: int, *, missing: bool = False, unseen: bool = False,
                     unlabelled: bool = False):
    """Customers for :data:`VARIED_SPEC`: ``missing`` empties cells of every fillable column,
    ``unseen`` puts codes the model never saw in ``tier`` and ``plan``, ``unlabelled`` a
    region code outside its labels (a warning)."""
    import numpy as np

    from custseg.datasets import make_customers

    rng = np.random.default_rng(seed)
    df = make_customers(n, seed=seed).drop(columns=["channel"])
    df.insert(0, "customer_id", [f"v{seed}-{i}" for i in range(n)])
    df["tier"] = rng.choice(["basic", "plus", "pro"], n).astype(object)
    df["plan"] = rng.choice(["monthly", "yearly"], n).astype(object)
    df["region"] = df["region"].astype(object)
    if missing:
        for col, every in (("minutes_watched", 5), ("CLV", 7), ("tier", 6), ("plan", 4),
                           ("region", 9)):
            df.loc[df.index[1::every], col] = None
    if unseen:
        df.loc[df.index[2::8], "tier"] = "gold"
        df.loc[df.index[3::5], "plan"] = "weekly"
    if unlabelled:
        df.loc[df.index[4], "region"] = 7
    return df


@pytest.fixture(scope="session")
def varied_models() -> dict:
    """{algorithm: SegmentModel} fitted on :func:`varied_customers` with :data:`VARIED_SPEC`."""
    import custseg

    spec = custseg.parse_spec(VARIED_SPEC)
    train = varied_customers(600, seed=1)
    return {algo: custseg.CustomerSegmenter(spec, algorithm=algo, k=None if algo == "hdbscan" else 3,
                                            stability_runs=0).fit(train).model_
            for algo in VARIED_ALGORITHMS}
