"""Run one call in a forked child process while this process goes on (Linux).

A forked child starts with every module and array of this process in place
(copy-on-write), so unlike a new Python process it pays for no imports, and
unlike a thread it has its own GIL: pure-Python-heavy work (hundreds of small
k-means fits, pandas bookkeeping) then runs truly beside this process's own
instead of taking turns with it.

The result is the same whichever way it is computed: :meth:`Forked.result`
returns the child's value, or, when the child could not start, failed or did not
answer in time, computes ``fn(*args, **kwargs)`` itself. Either way ``fn`` runs
with OpenMP and BLAS limited to one thread, so numerical results do not depend
on where it ran.

Safety, in order of importance:

* GNU OpenMP (libgomp) is not fork-safe: a child that opens a parallel region of
  more than one thread after its parent used OpenMP waits forever for worker
  threads that only exist in the parent. The child therefore limits OpenMP (and
  BLAS) to one thread before it calls ``fn``.
* The child never returns into the caller's code: it leaves with ``os._exit``
  (no ``atexit`` handlers, no flush of output buffers it shares with the parent).
* The value comes back through a pipe, pickled: only between this process and its
  own child, never from a file or the network.
* Forking is used only on Linux, with at least two CPUs, and not when the
  environment sets ``CUSTSEG_FORK=0``.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["Forked", "computed_here", "fork_available", "finish_before_fork", "start"]

ENV = "CUSTSEG_FORK"
#: Seconds :meth:`Forked.result` waits for a child by default before computing the
#: value itself (a safety net: a child only stops answering if it hangs).
DEFAULT_TIMEOUT_S = 600.0
#: Seconds a child may go without using any CPU while :meth:`Forked.result` waits
#: before it is taken for hung (it computes and never waits on anything but the
#: CPU), killed, and the value computed here.
STALL_S = 10.0


def fork_available() -> bool:
    """Can :func:`start` fork here? (Linux, two or more usable CPUs, not disabled.)"""
    if os.environ.get(ENV, "").strip() == "0":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


_unfinished: list[Any] = []


def finish_before_fork(future: Any) -> Any:
    """Have :func:`start` wait for ``future`` (a thread's work) before it forks.

    For a thread that imports modules: a child forked while another thread holds a
    module's import lock would wait forever for that lock if it imported the same
    module. Returns ``future``.
    """
    _unfinished.append(future)
    return future


def _settle() -> None:
    while _unfinished:
        try:
            _unfinished.pop().result()
        except BaseException:  # noqa: BLE001 - its owner sees the error; only the wait matters
            pass


def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def computed_here(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in this process, with one OpenMP and BLAS thread.

    The same conditions as in a child of :func:`start`, so the same numbers (a
    BLAS dot product's rounding depends on how many threads share it).
    """
    with _one_thread():
        return fn(*args, **kwargs)


class Forked:
    """A call running in a forked child; :meth:`result` gives its value.

    Do not build one directly: use :func:`start`.
    """

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, nice: int = 0) -> None:
        self._call = (fn, args, kwargs)
        self._nice = nice
        self._pid: int | None = None
        self._payload: bytes | None = None
        self._ok = False
        self._reader: threading.Thread | None = None

    def _fork(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns that forking a multi-threaded process may deadlock
                # the child; the child here only computes and exits (see the module notes)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read_fd)
                if self._nice > 0:
                    os.nice(self._nice)
                _one_thread()  # for the child's whole life
                fn, args, kwargs = self._call
                payload = pickle.dumps(fn(*args, **kwargs), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(payload)
                code = 0
            except BaseException:  # noqa: BLE001 - the parent computes the value itself
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        self._pid = pid
        self._reader = threading.Thread(target=self._collect, args=(read_fd,), daemon=True)
        self._reader.start()

    def _collect(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        if os.waitstatus_to_exitcode(status) == 0 and payload:
            self._payload = payload
            self._ok = True

    @property
    def forked(self) -> bool:
        """Is the value being computed in a child process?"""
        return self._pid is not None

    def peek(self) -> Any:
        """The child's value if it has already delivered it, else None (never waits)."""
        if self._reader is not None and not self._reader.is_alive() and self._ok:
            return pickle.loads(self._payload)
        return None

    def result(self, timeout: float | None = DEFAULT_TIMEOUT_S, stall: float = STALL_S) -> Any:
        """The value of the call: the child's, or computed here if the child failed.

        Waits at most ``timeout`` seconds (None: as long as it takes) for the child,
        and at most ``stall`` seconds during which it used no CPU at all (it would be
        stuck: it only computes); a child still running then is killed and the value
        computed here.
        """
        if self._reader is not None:
            self._wait(timeout, stall)
            if self._reader.is_alive():
                self.cancel()
            elif self._ok:
                return pickle.loads(self._payload)
        fn, args, kwargs = self._call
        return computed_here(fn, *args, **kwargs)

    def _wait(self, timeout: float | None, stall: float) -> None:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        used, since = _cpu_ticks(self._pid), time.monotonic()
        while self._reader.is_alive():
            now = time.monotonic()
            if end is not None and now >= end:
                return
            self._reader.join(min(0.25, stall) if end is None else
                              max(0.0, min(0.25, stall, end - now)))
            ticks = _cpu_ticks(self._pid)
            if ticks is None or ticks != used:
                used, since = ticks, time.monotonic()
            elif time.monotonic() - since >= stall:
                return

    def cancel(self) -> None:
        """Stop the child if it still runs (its value is then computed by :meth:`result`)."""
        if self._reader is not None and self._reader.is_alive():
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reader.join()
        self._reader = None


def _cpu_ticks(pid: int | None) -> int | None:
    """User + system CPU ticks of a process so far (``/proc/PID/stat``), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def start(fn: Callable[..., Any], *args: Any, nice: int = 0, **kwargs: Any) -> Forked:
    """Start ``fn(*args, **kwargs)`` in a forked child when :func:`fork_available`.

    Without a child (another platform, one CPU, ``CUSTSEG_FORK=0``, or the fork
    failed) :meth:`Forked.result` computes the value when it is asked for. ``fn``
    and its arguments must not be changed by this process until then, and its
    value must be picklable. ``nice`` (not passed to ``fn``) lowers the child's
    priority by that much: work that is needed later than this process's own
    then takes the CPU time this process leaves.
    """
    job = Forked(fn, args, kwargs, nice)
    if fork_available():
        _settle()
        try:
            job._fork()
        except OSError:  # no process or pipe to spare: compute it on demand
            job._pid = None
    return job
