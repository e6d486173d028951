"""Parallelism by the caller's choice, as scikit-learn does it: ``n_jobs`` and joblib.

Every function of custseg that can do work in parallel takes ``n_jobs``:
``None`` (the default) or ``1`` means one job, and then custseg starts no
process and no thread of its own; ``-1`` means all CPUs (``joblib.cpu_count``,
which respects container limits), ``-2`` all but one, and so on. The work is
handed to joblib: threads for work that releases the GIL (numpy, Arrow, file
I/O), loky worker processes for work that is mostly Python or that must run
beside the caller's own. Results never depend on ``n_jobs``: each call is
deterministic and results come back in the order of the calls.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from .errors import ParameterError

__all__ = ["check_n_jobs", "effective_n_jobs", "map_ordered", "Later", "beside", "beside_many",
           "thread_backend"]

Prefer = Literal["threads", "processes"]

#: Seconds a joblib worker process may wait for work before it ends. Within a run the
#: gaps between tasks are a few seconds; a command killed (SIGKILL) cannot stop its
#: workers itself, so they end this long after their last task instead of joblib's
#: default 300 s (holding memory and the command's output pipes meanwhile).
IDLE_WORKER_SECONDS = 10


def check_n_jobs(n_jobs: Any, name: str = "n_jobs") -> int | None:
    """``n_jobs`` if it is None or a non-zero integer, else a :class:`ParameterError`."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ParameterError(f"The {name!r} parameter must be None or a non-zero integer "
                             f"(-1 for all CPUs). Got {n_jobs!r} instead.",
                             fix="pass e.g. 1, 2 or -1")
    return int(n_jobs)


def effective_n_jobs(n_jobs: int | None) -> int:
    """How many jobs ``n_jobs`` means here: None -> 1; -1 -> every CPU; -2 -> all but one."""
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs is None or n_jobs == 1:
        return 1
    import joblib

    return max(1, int(joblib.effective_n_jobs(n_jobs)))


def map_ordered(fn: Callable[..., Any], items: Iterable[Any], *, n_jobs: int | None = None,
                prefer: Prefer = "threads") -> list[Any]:
    """``[fn(item) for item in items]``, on up to ``n_jobs`` joblib workers.

    With one job (or one item) it is exactly that list comprehension, in this
    thread. ``prefer="threads"`` suits work that releases the GIL;
    ``"processes"`` (loky) suits Python-heavy work on picklable arguments.
    """
    items = list(items)
    jobs = min(effective_n_jobs(n_jobs), len(items))
    if jobs <= 1:
        return [fn(item) for item in items]
    from joblib import Parallel, delayed

    if prefer == "processes":
        return Parallel(n_jobs=jobs, prefer=prefer, **_worker_options())(
            delayed(fn)(item) for item in items)
    return [_unwrapped(value) for value in Parallel(n_jobs=jobs, backend=thread_backend())(
        delayed(_catching)(fn, item) for item in items)]


def thread_backend() -> Any:
    """joblib's threading backend, whose pool's threads have ended when the pool is done.

    joblib ends its thread pool with the standard library ``ThreadPool.terminate``,
    which tells the threads to stop but does not wait for them (it joins only
    processes): for a moment after a call, its threads are still alive. A library
    call must leave no thread behind, so this backend joins them.
    """
    from joblib._parallel_backends import ThreadingBackend

    class JoiningThreadingBackend(ThreadingBackend):
        def terminate(self) -> None:
            pool = self._pool
            super().terminate()
            for worker in getattr(pool, "_pool", None) or ():  # ThreadPool's threads
                worker.join()

    return JoiningThreadingBackend()


def _worker_options() -> dict[str, Any]:
    """joblib's options for custseg's worker processes: a short idle life, and no life after
    the process that started them (:func:`custseg._workers.end_with_parent`)."""
    from ._workers import end_with_parent

    return {"idle_worker_timeout": IDLE_WORKER_SECONDS, "initializer": end_with_parent,
            "initargs": (os.getpid(),)}


class _Raised:
    """What a call raised in a worker thread, kept whole: joblib would re-raise it with its
    ``__cause__`` replaced by a text of the worker's traceback, and callers read causes."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _catching(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - handed to the caller as it was raised
        return _Raised(exc)


def _unwrapped(value: Any) -> Any:
    if isinstance(value, _Raised):
        raise value.exc
    return value


class _Outputs:
    """joblib's generator of ordered outputs, read as far as asked."""

    def __init__(self, generator: Any, count: int) -> None:
        self._generator = generator
        self._count = count
        self._values: list[Any] = []

    def value(self, i: int) -> Any:
        while len(self._values) <= i:
            self._values.append(next(self._generator))
            if len(self._values) == self._count:  # the last value: run joblib's call to its end,
                for _ in self._generator:      # which ends its pool's threads (closing it would
                    pass                       # abort the call instead)
                self._generator = None
        return self._values[i]

    def close(self) -> None:
        """Stop the work not finished (joblib cancels it), quietly: it is no longer wanted."""
        generator, self._generator = self._generator, None
        if generator is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "tasks ... have been cancelled"
                generator.close()

    def __del__(self) -> None:  # values nobody asked for: cancelled, not warned about
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the modules it needs may be gone
            pass


class Later:
    """The value of one call: computed by a joblib worker meanwhile, or here when asked.

    Made by :func:`beside` and :func:`beside_many`. :meth:`result` returns the
    value (or raises the call's exception); :meth:`cancel` gives up on a value no
    longer wanted.
    """

    def __init__(self, fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any],
                 outputs: _Outputs | None = None, index: int = 0) -> None:
        self._call: tuple | None = (fn, tuple(args), dict(kwargs))
        self._outputs = outputs  # None: computed here, when asked
        self._index = index
        self._done = False
        self._value: Any = None

    @property
    def started(self) -> bool:
        """Is a worker computing the value (rather than :meth:`result` when asked)?"""
        return self._outputs is not None

    def result(self) -> Any:
        if not self._done:
            if self._outputs is not None:
                value = _unwrapped(self._outputs.value(self._index))
            else:
                fn, args, kwargs = self._call
                value = fn(*args, **kwargs)
            self._value, self._done, self._call, self._outputs = value, True, None, None
        return self._value

    def cancel(self) -> None:
        if self._outputs is not None and not self._done:
            self._outputs.close()
        self._call, self._outputs, self._done = None, None, True


Call = tuple[Callable[..., Any], Sequence[Any], dict[str, Any]]


def beside_many(calls: Sequence[Call], *, n_jobs: int | None = None,
                prefer: Prefer = "processes") -> list[Later]:
    """Start each ``fn(*args, **kwargs)`` of ``calls`` on joblib workers, when ``n_jobs`` allows.

    The caller goes on with its own work and collects each value with
    :meth:`Later.result`. With one job nothing starts: each value is computed in
    this thread when it is asked for. With ``prefer="processes"`` (loky) each
    ``fn`` must be a module-level function and the arguments picklable (large
    numpy arrays are memory-mapped by joblib, not copied); with ``"threads"`` the
    calls share this process's memory. Neither the functions' arguments may be
    changed by the caller until the results are taken.
    """
    jobs = effective_n_jobs(n_jobs)
    if jobs < 2 or not calls:
        return [Later(fn, args, kwargs) for fn, args, kwargs in calls]
    from joblib import Parallel, delayed

    # (in threads, what a call raises comes back whole: see _Raised)
    wrap = (lambda fn, args, kwargs: delayed(fn)(*args, **kwargs)) if prefer == "processes" else (
        lambda fn, args, kwargs: delayed(_catching)(fn, *args, **kwargs))
    options = (dict(prefer=prefer, **_worker_options()) if prefer == "processes"
               else {"backend": thread_backend()})
    outputs = _Outputs(Parallel(n_jobs=jobs, return_as="generator", **options)(
        wrap(fn, args, kwargs) for fn, args, kwargs in calls), len(calls))
    return [Later(fn, args, kwargs, outputs, i) for i, (fn, args, kwargs) in enumerate(calls)]


def beside(fn: Callable[..., Any], *args: Any, n_jobs: int | None = None,
           prefer: Prefer = "processes", **kwargs: Any) -> Later:
    """Start ``fn(*args, **kwargs)`` on a joblib worker when ``n_jobs`` allows two jobs.

    One call of :func:`beside_many`: by default in a worker process (loky), so
    that Python-heavy work runs truly beside the caller's own.
    """
    return beside_many([(fn, args, kwargs)], n_jobs=n_jobs, prefer=prefer)[0]
