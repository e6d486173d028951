"""Code that runs inside custseg's joblib worker processes (never in the caller's process)."""

from __future__ import annotations

import os

__all__ = ["end_with_parent"]


def end_with_parent(parent: int) -> None:
    """Worker initializer: end this worker process as soon as ``parent`` is gone.

    joblib's loky workers outlive a parent that was killed (SIGKILL): they wait for
    work until their idle timeout, and then for the dead parent's lock, holding
    memory and the parent's standard output and error (so whatever reads those
    never sees them close). A thread of the worker checks every half second that
    its parent is still the one that started it, and ends the worker otherwise.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="custseg-parent-watch", daemon=True).start()
