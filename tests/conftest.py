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
