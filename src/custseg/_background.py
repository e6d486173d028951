"""Run one call in a second thread while this one goes on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["in_background"]


def in_background(fn: Callable[..., Any], *args: Any) -> Future:
    """Start ``fn(*args)`` in a daemon thread; ``.result()`` waits for it (or re-raises).

    Worth it for work that releases the GIL (numpy sorts, pandas hashing, Arrow
    readers, hashing a file) beside other work.
    """
    future: Future = Future()

    def work() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=work, daemon=True).start()
    return future
