"""Native thread limits (OpenMP, BLAS) around one computation, with threadpoolctl.

Used only as a context entered in the thread that computes, around the
computation that needs it: many small k-means fits, thin matrix products and the
statistical answers run on one native thread, where more threads cost more than
they give (and BLAS's thread count changes the last bits of some results). The
limits are restored when the context ends. Work that runs beside the caller's own
does so in joblib worker processes, each with limits of its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["one_thread", "one_blas_thread"]

_CONTROLLER: list[Any] = []  # built on first use: it scans the loaded libraries (~10 ms)


def _controller() -> Any:
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def one_thread() -> Any:
    """Context: OpenMP and BLAS limited to one thread (nests safely)."""
    return _controller().limit(limits=1)


def one_blas_thread() -> Any:
    """Context: BLAS limited to one thread; OpenMP as it is."""
    return _controller().limit(limits=1, user_api="blas")
