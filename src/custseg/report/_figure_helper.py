"""The helper process of :func:`custseg.report.figures.write_figures`.

Run as ``python -m custseg.report._figure_helper``; lowers its priority, imports
matplotlib and loads its fonts first (so a helper started early, by
:func:`custseg.report.figures.warm_up`, is ready when the jobs come), then reads
JSON jobs from stdin, one per line, ``{"out_dir": str, "names": [file name, ...],
"claims": str or null, "analysis": {...}}`` (the analysis, or the part of it those
figures need), draws each job's figures into its ``out_dir`` exactly as the parent
would (same functions, same style), skipping those another process has claimed
first when ``claims`` is given (:func:`custseg.report.figures.claim`), and, once
the parent closes stdin, exits 0 (at once,
without the interpreter's teardown); any error (no job at all too: the parent
ended without one) exits non-zero with the traceback on stderr, and the parent
then draws the figures itself.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

_NICENESS = 10


def main() -> int:
    # Background work: yield the CPUs to the parent, whose imports and clustering come
    # first (on two cores, two helpers importing matplotlib at full priority delayed
    # the end of the parent's own imports by 0.2-0.3 s at 1M customers).
    if hasattr(os, "nice"):
        os.nice(_NICENESS)
    # as the CLI does (custseg._entry): no collection while matplotlib loads, and its
    # objects frozen out of the collections that drawing triggers
    gc.disable()
    from .figures import _warm_matplotlib, claim, draw_figure

    _warm_matplotlib()
    gc.freeze()
    gc.enable()
    jobs = 0
    for line in sys.stdin.buffer:  # one job per line, until the parent closes stdin
        job = json.loads(line)
        out_dir = Path(job["out_dir"])
        for name in job["names"]:
            if claim(job.get("claims"), name):
                draw_figure(job["analysis"], out_dir, name)
        jobs += 1
    return 0 if jobs else 1


if __name__ == "__main__":
    code = main()
    if code == 0:
        # Every figure is written and closed: skip the interpreter's teardown (about
        # 0.2 s with matplotlib loaded), which the parent would wait for.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    sys.exit(code)
