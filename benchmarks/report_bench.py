"""Time of the analysis and of the report at 100k, 1M and 10M customers, and the size of report.html.

Usage::

    PYTHONPATH=src python benchmarks/report_bench.py --rows 100k,1M,10M
        [--repeat 3] [--out benchmarks/out/report] [--json FILE]

To compare two versions side by side, run it twice in the same session with
``PYTHONPATH`` pointing at each version's ``src`` (the first ``PYTHONPATH``
entry that holds custseg is what the measured process imports), or, less
sensitive to a busy machine, use the A/B mode::

    python benchmarks/report_bench.py --ab OLD/src NEW/src --rows 100k,1M --rounds 3

which fits once per row count (with B), saves what ``build_analysis`` receives,
then runs A and B alternately (A B, B A, ...) in fresh processes on those same
inputs: ``build_analysis`` ``--repeat`` times and ``write_report`` ``--repeat``
times (the first cold), with wall and CPU seconds (CPU of all threads and of its
child processes), and prints the medians over the rounds.

What it measures and how, for each row count, in one fresh Python subprocess
(``PYTHONPATH`` = the sources above) under a tiny wrapper that records its peak
RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

1. Data (not timed): ``custseg.datasets.make_customers(ROWS, seed=0)`` and the spec
   ``custseg.parse_spec(custseg.datasets.demo_spec_text())``.
2. Analysis: ``custseg.pipeline.segment(df, spec)`` with the default options (as
   ``custseg run`` does: fit with stability refits, then
   ``custseg.analysis.build_analysis``). The first analysis time is custseg's own
   ``result.manifest["timings"]["analysis"]`` (``time.perf_counter()`` around
   ``build_analysis``); ``build_analysis`` is then called ``--repeat`` more times on
   the same inputs (captured on the way in) and the median is reported as
   "warm". Every repeat must give the same ``analysis.json`` text (determinism).
   Memory: Linux's peak-RSS counter is reset (``/proc/self/clear_refs``) before
   one more call and read after it (``VmHWM``), so "analysis peak RSS" is the
   process's peak while only the analysis ran (the data and the fitted model
   are in it).
3. Report: ``custseg.report.files.write_report(result.analysis, DIR)`` (report.html,
   report.md and figures/*.png) timed with ``time.perf_counter()``, first into a
   fresh directory in a process that has not rendered anything yet ("cold": it
   pays the imports of matplotlib and jinja2 and the read of plotly.js, as
   ``custseg run`` does), then ``--repeat`` more times ("warm", median). A last
   pass times the parts of ``write_report`` separately
   (``custseg.report.figures.write_figures`` with ``processes=1`` and, where the
   version has it, ``processes=2``; ``custseg.report.html.render_html``;
   ``custseg.report.markdown.render_markdown``). The helper process that
   ``write_figures`` may start is not in the peak RSS (its own is ~150 MiB).
4. Sizes: report.html, report.md, figures/ and the analysis as JSON.

Targets at 1M rows (issue 3): analysis + report (cold) under 5 s; report.html
under 10 MB (1e7 bytes). The load average before and after each run is
recorded: on a shared machine, compare only runs made side by side. Before
measuring, the script waits until no other benchmark (``benchmarks/run.py``,
``benchmarks/api_bench.py``) is running (``--no-wait``: it does not). Results go to ``OUT/results.json`` (or
``--json``) and a table is printed.
"""

from __future__ import annotations

import argparse
import inspect
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


def _rows_list(text: str) -> list[int]:
    return [_bench.parse_rows(t) for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time build_analysis and write_report.")
    p.add_argument("--rows", type=_rows_list, default=[100_000, 1_000_000],
                   help="comma-separated row counts, e.g. 100k,1M,10M (default 100k,1M)")
    p.add_argument("--repeat", type=int, default=3, help="warm repetitions of each timing")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per row count")
    p.add_argument("--no-wait", action="store_true",
                   help="do not wait for other benchmarks to finish (the load is recorded)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/report"))
    p.add_argument("--json", type=Path, default=None, help="default OUT/results.json")
    p.add_argument("--ab", nargs=2, metavar=("SRC_A", "SRC_B"), type=Path,
                   help="instead: compare two versions' src directories on the same fitted "
                        "inputs (fit once, then A and B alternate --rounds times)")
    p.add_argument("--rounds", type=int, default=3, help="A/B rounds (with --ab)")
    p.add_argument("--child", nargs=3, metavar=("ROWS", "WORKDIR", "RESULT"),
                   help=argparse.SUPPRESS)
    p.add_argument("--fit-child", nargs=2, metavar=("ROWS", "INPUTS"), help=argparse.SUPPRESS)
    p.add_argument("--ab-child", nargs=3, metavar=("INPUTS", "WORKDIR", "RESULT"),
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _reset_peak() -> bool:
    """Reset this process's VmHWM (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _capture_build_analysis(captured: dict[str, Any], run: bool) -> Any:
    """Wrap ``build_analysis`` wherever the pipeline looks it up; return an undo function.

    The wrapper saves the arguments in ``captured`` and runs the real function
    (``run``) or returns an empty dict.
    """
    import custseg.analysis
    import custseg.pipeline

    real = custseg.analysis.build_analysis

    def capture(*args: Any, **kwargs: Any) -> dict:
        captured["args"], captured["kwargs"] = args, kwargs
        return real(*args, **kwargs) if run else {}

    patched = [m for m in (custseg.analysis, custseg.pipeline) if hasattr(m, "build_analysis")]
    for module in patched:
        module.build_analysis = capture

    def undo() -> None:
        for module in patched:
            module.build_analysis = real

    return undo


def child(rows: int, repeat: int, work: Path, result_file: Path) -> None:
    """Runs in the measured subprocess."""
    import custseg
    import custseg.pipeline as pipeline
    from custseg.datasets import demo_spec_text, make_customers
    from custseg.report.files import write_report

    df = make_customers(rows, seed=0)
    spec = custseg.parse_spec(demo_spec_text())
    captured: dict[str, Any] = {}
    undo = _capture_build_analysis(captured, run=True)
    t0 = time.perf_counter()
    result = pipeline.segment(df, spec)
    segment_s = time.perf_counter() - t0
    undo()
    from custseg.analysis import build_analysis as real_build
    analysis = result.analysis
    out: dict[str, Any] = {"rows": rows, "segment_s": segment_s,
                           "timings": result.manifest["timings"], "k": result.manifest["k"],
                           "analysis_s": result.manifest["timings"]["analysis"]}
    t0 = time.perf_counter()
    text = json.dumps(analysis, ensure_ascii=False, allow_nan=False)
    out["analysis_json_dumps_s"] = time.perf_counter() - t0
    out["analysis_json_bytes"] = len(text.encode("utf-8"))

    warm, same = [], True
    for _ in range(repeat):
        t0 = time.perf_counter()
        again = real_build(*captured["args"], **captured["kwargs"])
        warm.append(time.perf_counter() - t0)
        same &= json.dumps(again, ensure_ascii=False, allow_nan=False) == text
    out["analysis_warm_s"] = warm
    out["analysis_deterministic"] = same
    del text
    if _reset_peak():
        real_build(*captured["args"], **captured["kwargs"])
        out["analysis_peak_rss_bytes"] = _bench.vmhwm_bytes()

    times = []
    for i in range(1 + repeat):
        d = work / f"report-{i}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        reset = i == 1 and _reset_peak()
        t0 = time.perf_counter()
        files = write_report(analysis, d)
        times.append(time.perf_counter() - t0)
        if reset:
            out["report_peak_rss_bytes"] = _bench.vmhwm_bytes()
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

    variants = [("figures, one process", {"processes": 1})]
    if "processes" in inspect.signature(write_figures).parameters:
        variants.append(("figures, two processes", {"processes": 2}))
    else:
        variants = [("figures, one process", {})]
    parts: dict[str, float] = {}
    for label, kwargs in variants:
        spent = []
        for _ in range(max(1, repeat)):
            d = work / "parts"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            t0 = time.perf_counter()
            write_figures(analysis, d, **kwargs)
            spent.append(time.perf_counter() - t0)
            shutil.rmtree(d)
        parts[label] = statistics.median(spent)
    for label, fn in (("render_html", render_html), ("render_markdown", render_markdown)):
        spent = []
        for _ in range(max(1, repeat)):
            t0 = time.perf_counter()
            fn(analysis)
            spent.append(time.perf_counter() - t0)
        parts[label] = statistics.median(spent)
    out["report_parts_warm_s"] = parts
    result_file.write_text(json.dumps(out))


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def fit_child(rows: int, inputs: Path) -> None:
    """A/B mode: fit once and save what build_analysis receives (pickle)."""
    import pickle

    import custseg
    import custseg.pipeline as pipeline
    from custseg.datasets import demo_spec_text, make_customers

    captured: dict[str, Any] = {}
    undo = _capture_build_analysis(captured, run=False)
    pipeline.segment(make_customers(rows, seed=0), custseg.parse_spec(demo_spec_text()))
    undo()
    with open(inputs, "wb") as f:
        pickle.dump(captured, f, protocol=pickle.HIGHEST_PROTOCOL)


def ab_child(inputs: Path, repeat: int, work: Path, result_file: Path) -> None:
    """A/B mode: time build_analysis and write_report (wall and CPU) on saved inputs."""
    import os
    import pickle

    with open(inputs, "rb") as f:
        captured = pickle.load(f)
    from custseg.analysis import build_analysis
    from custseg.report.files import write_report

    out: dict[str, Any] = {"analysis_s": [], "analysis_cpu_s": [], "report_s": [],
                           "report_cpu_s": [], "load": [os.getloadavg()[0]]}
    texts = set()
    for _ in range(repeat):
        c0, t0 = _cpu(), time.perf_counter()
        analysis = build_analysis(*captured["args"], **captured["kwargs"])
        out["analysis_s"].append(time.perf_counter() - t0)
        out["analysis_cpu_s"].append(_cpu() - c0)
        texts.add(json.dumps(analysis, ensure_ascii=False, allow_nan=False))
    out["analysis_deterministic"] = len(texts) == 1
    for i in range(repeat):  # the first is cold: imports matplotlib, jinja2, reads plotly.js
        d = work / f"ab-report-{i}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        c0, t0 = _cpu(), time.perf_counter()
        write_report(analysis, d)
        out["report_s"].append(time.perf_counter() - t0)
        out["report_cpu_s"].append(_cpu() - c0)
        shutil.rmtree(d)
    out["load"].append(os.getloadavg()[0])
    result_file.write_text(json.dumps(out))


def ab(a: argparse.Namespace) -> int:
    """Fit once per row count, then time versions A and B alternately on the same inputs."""
    import os

    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    srcs = [p.resolve() for p in a.ab]
    result = _bench.header(["report_bench.py", "--ab", *map(str, srcs)])
    result["ab"] = []
    script = str(Path(__file__).resolve())
    for rows in a.rows:
        inputs = out / f"inputs-{rows}.pickle"
        print(f"{rows:,} customers: fitting once (version B) ...", flush=True)
        r = _bench.run_measured("script", [script, "--fit-child", str(rows), str(inputs)],
                                timeout=a.timeout, wait=not a.no_wait,
                                extra_env={"PYTHONPATH": str(srcs[1])})
        if r["returncode"] != 0:
            print(f"FAILED (exit {r['returncode']}): {r['stderr_tail'][-1000:]}")
            return 1
        runs: dict[str, list[dict]] = {"A": [], "B": []}
        for k in range(a.rounds):
            for name in ("AB" if k % 2 == 0 else "BA"):
                res = out / f"ab-{rows}-{name}-{k}.json"
                r = _bench.run_measured(
                    "script", [script, "--repeat", str(a.repeat), "--ab-child", str(inputs),
                               str(out), str(res)], timeout=a.timeout, wait=False,
                    extra_env={"PYTHONPATH": str(srcs[0 if name == "A" else 1])})
                if r["returncode"] != 0:
                    print(f"FAILED {name} (exit {r['returncode']}): {r['stderr_tail'][-1000:]}")
                    return 1
                runs[name].append({**json.loads(res.read_text()),
                                   "peak_rss_bytes": r.get("peak_rss_bytes")})
        inputs.unlink()
        lines = [["median over rounds", "A", "B"]]

        def med(name: str, key: str, pick: Any, runs: dict = runs) -> float:
            return statistics.median(pick(run[key]) for run in runs[name])

        for label, key, pick in (
            ("analysis: build_analysis, first call (s)", "analysis_s", lambda v: v[0]),
            ("analysis: build_analysis, best call (s)", "analysis_s", min),
            ("analysis: CPU, best call (s)", "analysis_cpu_s", min),
            ("report: write_report, cold (s)", "report_s", lambda v: v[0]),
            ("report: write_report, best warm (s)", "report_s", lambda v: min(v[1:] or v)),
            ("report: CPU incl. helper, cold (s)", "report_cpu_s", lambda v: v[0]),
        ):
            lines.append([label, f"{med('A', key, pick):.2f}", f"{med('B', key, pick):.2f}"])
        total = {name: statistics.median(run["analysis_s"][0] + run["report_s"][0]
                                         for run in runs[name]) for name in ("A", "B")}
        lines.append(["analysis + report, first calls (s)", f"{total['A']:.2f}",
                      f"{total['B']:.2f}"])
        lines.append(["peak RSS (MiB)", _bench.mib(med("A", "peak_rss_bytes", lambda v: v)),
                      _bench.mib(med("B", "peak_rss_bytes", lambda v: v))])
        lines.append(["analysis.json identical on every call",
                      str(all(run["analysis_deterministic"] for run in runs["A"])),
                      str(all(run["analysis_deterministic"] for run in runs["B"]))])
        loads = [x for name in ("A", "B") for run in runs[name] for x in run["load"]]
        lines.append(["load average (min / max over the runs)", f"{min(loads):.1f}",
                      f"{max(loads):.1f}"])
        print(f"\n{rows:,} customers; A = {srcs[0]}, B = {srcs[1]}, {a.rounds} rounds, "
              f"{a.repeat} calls each, {os.cpu_count()} CPUs")
        _bench.print_table(lines)
        print(flush=True)
        result["ab"].append({"rows": rows, "A": runs["A"], "B": runs["B"], "table": lines})
    _bench.finish(result, a.json or out / "ab.json")
    return 0


def _table(c: dict[str, Any], r: dict[str, Any]) -> list[list[str]]:
    warm_a = statistics.median(c["analysis_warm_s"]) if c["analysis_warm_s"] else None
    warm_r = statistics.median(c["report_warm_s"]) if c["report_warm_s"] else None
    lines = [["quantity", "value"]]
    for stage, v in c["timings"].items():
        if stage != "analysis":
            lines.append([f"fit stage: {stage} (s)", f"{v:.2f}"])
    lines += [
        ["analysis: build_analysis, in the run (s)", f"{c['analysis_s']:.2f}"],
        [f"analysis: build_analysis, warm (s, median of {len(c['analysis_warm_s'])})",
         f"{warm_a:.2f}" if warm_a is not None else "-"],
        ["analysis.json identical on every repeat", str(c["analysis_deterministic"])],
        ["report: write_report, cold (s)", f"{c['report_cold_s']:.2f}"],
        [f"report: write_report, warm (s, median of {len(c['report_warm_s'])})",
         f"{warm_r:.2f}" if warm_r is not None else "-"],
        *[[f"  warm part: {k} (s)", f"{v:.2f}"] for k, v in c["report_parts_warm_s"].items()],
        ["analysis + report, cold (s)", f"{c['analysis_s'] + c['report_cold_s']:.2f}"],
        ["report.html (MB)", f"{c['html_bytes'] / 1e6:.2f}"],
        ["report.md (kB)", f"{c['md_bytes'] / 1e3:.1f}"],
        [f"figures/ ({c['figures']} PNGs, MB)", f"{c['figures_bytes'] / 1e6:.2f}"],
        ["analysis as JSON (MB)", f"{c['analysis_json_bytes'] / 1e6:.2f}"],
        ["k", str(c["k"])],
        ["peak RSS of the process (MiB)", _bench.mib(r.get("peak_rss_bytes"))],
        ["  peak RSS while only the analysis ran (MiB)",
         _bench.mib(c.get("analysis_peak_rss_bytes"))],
        ["  peak RSS while only write_report ran (MiB)",
         _bench.mib(c.get("report_peak_rss_bytes"))],
        ["load average before / after",
         f"{r['loadavg_1min_before']:.1f} / {r['loadavg_1min_after']:.1f}"],
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        child(int(a.child[0]), a.repeat, Path(a.child[1]), Path(a.child[2]))
        return 0
    if a.fit_child:
        fit_child(int(a.fit_child[0]), Path(a.fit_child[1]))
        return 0
    if a.ab_child:
        ab_child(Path(a.ab_child[0]), a.repeat, Path(a.ab_child[1]), Path(a.ab_child[2]))
        return 0
    if a.ab:
        return ab(a)
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = _bench.header(sys.argv if argv is None else ["report_bench.py", *argv])
    result["src"] = str(_bench.SRC)
    result["runs"] = []
    failed = False
    for rows in a.rows:
        child_file = out / f"child-{rows}.json"
        child_file.unlink(missing_ok=True)
        print(f"{rows:,} customers: segment (fit + analysis), build_analysis x{a.repeat}, "
              f"write_report x{1 + a.repeat} ...", flush=True)
        r = _bench.run_measured("script", [str(Path(__file__).resolve()), "--repeat",
                                           str(a.repeat), "--child", str(rows), str(out),
                                           str(child_file)], timeout=a.timeout,
                                wait=not a.no_wait)
        if r["returncode"] != 0 or not child_file.is_file():
            print(f"FAILED (exit {r['returncode']}): {r['stderr_tail'][-1000:]}")
            result["runs"].append({"rows": rows, **r})
            failed = True
            continue
        r.pop("stdout_tail")
        r.pop("stderr_tail")
        c = json.loads(child_file.read_text())
        total = c["analysis_s"] + c["report_cold_s"]
        c["target"] = {"seconds": TARGET_S, "html_bytes": TARGET_HTML_BYTES,
                       "analysis_plus_report_cold_s": total, "time_ok": total < TARGET_S,
                       "html_ok": c["html_bytes"] < TARGET_HTML_BYTES}
        result["runs"].append({**r, **c})
        print()
        _bench.print_table(_table(c, r))
        print(f"\nanalysis + report (cold) at {rows:,}: {total:.2f} s (target < {TARGET_S:.0f} s "
              f"at 1M); report.html {c['html_bytes'] / 1e6:.2f} MB (target < "
              f"{TARGET_HTML_BYTES / 1e6:.0f} MB)\n", flush=True)
    _bench.finish(result, a.json or out / "results.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
