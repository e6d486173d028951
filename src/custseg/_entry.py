"""The console entry point: the CLI, with Ctrl+C handled even while it loads."""

import gc
import sys
import time


def _cpu_jiffies() -> tuple[int, int, int] | None:
    """(idle, total, number of CPUs) from the first lines of ``/proc/stat`` (Linux), else None."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = f.read(65536).split(b"\n")
        fields = [int(x) for x in lines[0].split()[1:]]
        cpus = sum(1 for line in lines[1:] if line.startswith(b"cpu"))
    except (OSError, ValueError, IndexError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields), cpus


# when this module was first imported: the start of the command, for the console script
_STARTED = (time.monotonic(), _cpu_jiffies())


def idle_cpus_since_start(min_seconds: float = 0.2,
                          max_seconds: float = 5.0) -> float | None:
    """How many CPUs were idle, on average, since the command started (Linux).

    Counts the whole machine's idle time (``/proc/stat``) between the import of
    this module (the console script's first step) and now; this process's own
    work counts as busy. None when it cannot tell: no ``/proc/stat``, or a window
    under ``min_seconds`` (too few clock ticks) or over ``max_seconds`` (no longer
    about the start).
    """
    began, first = _STARTED
    elapsed = time.monotonic() - began
    if first is None or not min_seconds <= elapsed <= max_seconds:
        return None
    now = _cpu_jiffies()
    if now is None or now[1] <= first[1]:
        return None
    return (now[0] - first[0]) / (now[1] - first[1]) * now[2]


_gc_paused = False


def resume_gc() -> None:
    """Turn garbage collection back on, if :func:`main` paused it, freezing what exists.

    A command calls this once its modules are imported. The objects the imports
    made (about a million for ``custseg run``: pandas, scikit-learn, scipy) live as
    long as the process, so they are frozen out of every later collection
    (:func:`gc.freeze`) instead of being walked by each full one.
    """
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.freeze()
        gc.enable()


def _interrupted() -> None:
    sys.stderr.write("interrupted: nothing was written\n")
    sys.exit(130)


def main() -> None:
    global _gc_paused
    # Importing the CLI and then a command's libraries creates objects that are never
    # garbage; collecting while they pile up took 0.3-0.4 s of a 1M-customer run (four
    # full collections). The command resumes collection once they are loaded.
    if gc.isenabled():
        gc.disable()
        _gc_paused = True
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        _interrupted()
    try:
        cli_main()
    except KeyboardInterrupt:  # outside a command's own handler (start-up, shutdown)
        _interrupted()
