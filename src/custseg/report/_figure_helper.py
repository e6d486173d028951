"""The helper process of :func:`custseg.report.figures.write_figures`.

Run as ``python -m custseg.report._figure_helper``; imports matplotlib and
loads its fonts first (so a helper started early, by
:func:`custseg.report.figures.warm_up`, is ready when the job comes), then reads
one JSON job from stdin, ``{"out_dir": str, "names": [file name, ...],
"analysis": {...}}``, draws those figures into ``out_dir`` exactly as the parent
would (same functions, same style) and exits 0; any error (an empty stdin too:
the parent ended without a job) exits non-zero with the traceback on stderr,
and the parent then draws the figures itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    from .figures import _warm_matplotlib, draw_figure

    _warm_matplotlib()
    job = json.load(sys.stdin.buffer)
    out_dir = Path(job["out_dir"])
    for name in job["names"]:
        draw_figure(job["analysis"], out_dir, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
