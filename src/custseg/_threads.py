"""Native thread limits (OpenMP, BLAS) around one computation, with threadpoolctl.

Used only as a context around the computation that needs it: many small k-means
fits, thin matrix products and the statistical answers run on one native thread,
where more threads cost more than they give (and BLAS's thread count changes the
last bits of some results). The limits are restored when the context ends.

OpenMP's limit belongs to the thread that sets it (its ICV is per thread), so a
worker thread may set its own; BLAS's limit is process-wide, so only the thread
that runs the computation's caller sets it, around the whole time its workers
compute (see :func:`custseg.cluster.selection.consensus_beside`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["one_thread", "one_blas_thread", "one_openmp_thread"]

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


def one_openmp_thread() -> Any:
    """Context: OpenMP limited to one thread for the calling thread only; BLAS as it is."""
    return _controller().limit(limits=1, user_api="openmp")
