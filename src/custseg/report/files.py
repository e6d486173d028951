"""The report's files in a folder: ``report.html``, ``report.md`` and ``figures/*.png``.

:func:`write_report` renders them from a run's analysis dict (a run directory
being written, see :func:`custseg.workflow.save_run`); :func:`rerender_report`
renders them again for a finished run directory from its ``analysis.json``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .._parallel import Later
from ..errors import InputError

__all__ = ["write_report", "rerender_report"]


def write_report(analysis: dict, run_dir: Path, *, n_jobs: int | None = None,
                 figures: Mapping[str, Later] | None = None) -> list[str]:
    """Render report.html, report.md and figures/*.png from an analysis into ``run_dir``.

    With ``n_jobs`` of two or more the figures are drawn by worker processes while
    this thread renders the HTML and Markdown; ``figures`` are figures already
    started from a part of the analysis.
    """
    from .figures import write_figures
    from .html import render_html
    from .markdown import render_markdown

    folder = run_dir / "figures"
    folder.mkdir(exist_ok=True)

    def documents() -> None:  # rendered while the figures are drawn
        (run_dir / "report.html").write_text(render_html(analysis), encoding="utf-8")
        (run_dir / "report.md").write_text(render_markdown(analysis), encoding="utf-8")

    written = [f"figures/{f}" for f in write_figures(analysis, folder, n_jobs=n_jobs,
                                                      meanwhile=documents, drawn=figures)]
    return ["report.html", "report.md", *written]


def rerender_report(path: str | Path, *, n_jobs: int | None = None) -> Path:
    """Re-render the report of a run directory from its analysis.json, without refitting.

    The new files replace the old ones only once all of them are rendered.
    """
    p = Path(path)
    src = p / "analysis.json"
    if not src.is_file():
        raise InputError(f"{str(p)!r} has no analysis.json, so its report cannot be rendered",
                         fix="pass the --out directory of a custseg run (custseg 0.1 or newer)")
    try:
        analysis = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {str(src)!r}: {exc}", fix="re-run custseg run") from None
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=p))
    try:
        files = write_report(analysis, tmp, n_jobs=n_jobs)
        for name in files:
            target = p / name
            target.parent.mkdir(exist_ok=True)
            (tmp / name).replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return p / "report.html"


