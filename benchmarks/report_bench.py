"""Time of the analysis and of the report at 1M customers, and the size of report.html.

Usage::

    PYTHONPATH=src python benchmarks/report_bench.py --rows 1000000
        [--repeat 3] [--out benchmarks/out/report] [--json FILE]

What it measures and how:

1. Data (not timed): ``custseg.datasets.make_customers(ROWS, seed=0)`` and the spec
   ``custseg.parse_spec(custseg.datasets.demo_spec_text())``.
2. Everything below runs in one fresh Python subprocess (``PYTHONPATH`` = this
   checkout's ``src``) under a tiny wrapper that records its peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).
3. Analysis: ``custseg.pipeline.segment(df, spec)`` with the default options (as
   ``custseg run`` does: fit with stability refits, then
   ``custseg.analysis.build_analysis``); the analysis time is custseg's own
   ``result.manifest["timings"]["analysis"]`` (``time.perf_counter()`` around
   ``build_analysis``). The fit's stage times are recorded too, for context.
4. Report: ``custseg.rundir.write_report(result.analysis, DIR)`` (report.html,
   report.md and figures/*.png) timed with ``time.perf_counter()``, first into a
   fresh directory in a process that has not rendered anything yet ("cold": it
   pays the imports of matplotlib, jinja2 and plotly, as ``custseg run`` does),
   then ``--repeat`` more times into fresh directories ("warm", median). A last
   pass times the three parts of ``write_report`` separately
   (``custseg.report.figures.write_figures``, ``custseg.report.html.render_html``,
   ``custseg.report.markdown.render_markdown``) to show what dominates.
5. Sizes: report.html, report.md, figures/ and the analysis as JSON
   (``analysis.json`` as ``custseg run`` writes it would be about that size).

Targets at 1M rows: analysis + report (cold) under 5 s; report.html under 10 MB
(1e7 bytes). Before measuring, the script waits until no other benchmark
(``benchmarks/run.py``, ``benchmarks/api_bench.py``) is running. Results go to
``OUT/results.json`` (or ``--json``) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _bench

TARGET_S = 5.0
TARGET_HTML_BYTES = 10_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time build_analysis and write_report at 1M customers.")
    p.add_argument("--rows", type=_bench.parse_rows, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3, help="warm write_report repetitions")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/report"))
    p.add_argument("--json", type=Path, default=None, help="default OUT/results.json")
    p.add_argument("--child", nargs=2, metavar=("WORKDIR", "RESULT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def child(rows: int, repeat: int, work: Path, result_file: Path) -> None:
    """Runs in the measured subprocess."""
    import custseg
    from custseg.datasets import demo_spec_text, make_customers
    from custseg.pipeline import segment
    from custseg.rundir import write_report

    df = make_customers(rows, seed=0)
    spec = custseg.parse_spec(demo_spec_text())
    t0 = time.perf_counter()
    result = segment(df, spec)
    segment_s = time.perf_counter() - t0
    analysis = result.analysis
    out: dict[str, Any] = {"segment_s": segment_s, "timings": result.manifest["timings"],
                           "k": result.manifest["k"],
                           "analysis_s": result.manifest["timings"]["analysis"]}
    t0 = time.perf_counter()
    text = json.dumps(analysis, ensure_ascii=False, allow_nan=False)
    out["analysis_json_dumps_s"] = time.perf_counter() - t0
    out["analysis_json_bytes"] = len(text.encode("utf-8"))
    del text

    times = []
    for i in range(1 + repeat):
        d = work / f"report-{i}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        t0 = time.perf_counter()
        files = write_report(analysis, d)
        times.append(time.perf_counter() - t0)
        if i == 0:
            out["files"] = files
            out["html_bytes"] = (d / "report.html").stat().st_size
            out["md_bytes"] = (d / "report.md").stat().st_size
            out["figures_bytes"] = _dir_bytes(d / "figures")
            out["figures"] = len(list((d / "figures").iterdir()))
        else:
            shutil.rmtree(d)
    out["report_cold_s"] = times[0]
    out["report_warm_s"] = times[1:]

    from custseg.report.figures import write_figures
    from custseg.report.html import render_html
    from custseg.report.markdown import render_markdown

    d = work / "parts"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    parts = {}
    t0 = time.perf_counter()
    write_figures(analysis, d)
    parts["figures (matplotlib PNGs)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    render_html(analysis)
    parts["render_html"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    render_markdown(analysis)
    parts["render_markdown"] = time.perf_counter() - t0
    shutil.rmtree(d)
    out["report_parts_warm_s"] = parts
    result_file.write_text(json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        child(a.rows, a.repeat, Path(a.child[0]), Path(a.child[1]))
        return 0
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = _bench.header(sys.argv if argv is None else ["report_bench.py", *argv])
    child_file = out / "child.json"
    child_file.unlink(missing_ok=True)
    print(f"{a.rows:,} customers: segment (fit + analysis), then write_report x{1 + a.repeat} ...",
          flush=True)
    r = _bench.run_measured("script", [str(Path(__file__).resolve()), "--rows", str(a.rows),
                                       "--repeat", str(a.repeat), "--child", str(out),
                                       str(child_file)])
    if r["returncode"] != 0 or not child_file.is_file():
        print(f"FAILED (exit {r['returncode']}): {r['stderr_tail'][-1000:]}")
        result["run"] = r
        _bench.finish(result, a.json or out / "results.json")
        return 1
    r.pop("stdout_tail")
    r.pop("stderr_tail")
    c = json.loads(child_file.read_text())
    result["run"] = {**r, **c}
    warm = statistics.median(c["report_warm_s"]) if c["report_warm_s"] else None
    total = c["analysis_s"] + c["report_cold_s"]
    result["target"] = {"seconds": TARGET_S, "html_bytes": TARGET_HTML_BYTES,
                        "analysis_plus_report_cold_s": total,
                        "analysis_plus_report_warm_s": c["analysis_s"] + warm if warm else None,
                        "time_ok": total < TARGET_S,
                        "html_ok": c["html_bytes"] < TARGET_HTML_BYTES}

    lines = [["quantity", "value"]]
    for stage, v in c["timings"].items():
        lines.append([f"fit stage: {stage} (s)" if stage != "analysis" else "analysis: "
                      "build_analysis (s)", f"{v:.2f}"])
    lines += [
        ["report: write_report, cold (s)", f"{c['report_cold_s']:.2f}"],
        [f"report: write_report, warm (s, median of {len(c['report_warm_s'])})",
         f"{warm:.2f}" if warm else "-"],
        *[[f"  warm part: {k} (s)", f"{v:.2f}"] for k, v in c["report_parts_warm_s"].items()],
        ["analysis + report, cold (s)", f"{total:.2f}"],
        ["report.html (MB)", f"{c['html_bytes'] / 1e6:.2f}"],
        ["report.md (kB)", f"{c['md_bytes'] / 1e3:.1f}"],
        [f"figures/ ({c['figures']} PNGs, MB)", f"{c['figures_bytes'] / 1e6:.2f}"],
        ["analysis as JSON (MB)", f"{c['analysis_json_bytes'] / 1e6:.2f}"],
        ["k", str(c["k"])],
        ["peak RSS of the process (MiB)", _bench.mib(r.get("peak_rss_bytes"))],
        ["  VmHWM cross-check (MiB)", _bench.mib(r.get("vmhwm_bytes"))],
        ["load average after", f"{r['loadavg_1min_after']:.1f}"],
    ]
    print()
    _bench.print_table(lines)
    t = result["target"]
    print(f"\ntarget analysis + report < {TARGET_S:.0f} s at {a.rows:,}: {total:.2f} s -> "
          f"{'met' if t['time_ok'] else 'MISSED'}; report.html < {TARGET_HTML_BYTES / 1e6:.0f} MB: "
          f"{c['html_bytes'] / 1e6:.2f} MB -> {'met' if t['html_ok'] else 'MISSED'}")
    _bench.finish(result, a.json or out / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
