"""Time and peak memory of ``custseg campaign`` on 10 million result rows (issue #21).

Usage::

    PYTHONPATH=src python benchmarks/campaign.py [--rows 10M] [--out benchmarks/out/campaign]
        [--json FILE]

What it measures and how:

1. A run directory (not timed): ``custseg demo --campaign --rows 20000 -j 1``
   (a real run: model, profiles, manifest; 5 segments), whose ``segments.parquet``
   is then replaced by one of ``ROWS`` customers (``customer_id`` = ``"C"`` + 9
   digits, text; segments drawn uniformly from the run's; ``segment_name`` and
   ``distance`` as in a run). Refitting a run of ten million customers is
   ``custseg run``'s benchmark, not this one; ``custseg campaign`` reads the run
   directory the same way whatever made it.
2. The results (not timed): ``ROWS`` rows in Parquet (``customer_id`` text in a
   shuffled order, ``group`` treatment/control 50/50, ``converted`` 0/1 at about
   6 % plus a lift in one segment, ``revenue`` log-normal for converters, 0
   otherwise), written by ``--setup`` in a subprocess.
3. The command, end to end, in a fresh Python subprocess under the wrapper of
   ``_bench.run_measured`` (wall time with interpreter start-up, peak RSS, CPU):
   ``custseg campaign results.parquet --run RUN -o OUT --overwrite --quiet``:
   read the results, check them (outcome, arms, one row per id), join 10M ids to
   the run's 10M, count per segment and arm with DuckDB, revenue moments,
   the bootstrap on its stated sample (about 2,000 customers per segment and
   arm, 1,000 resamples), the tests, and the three output files.
4. The I/O floor, in the same kind of subprocess: reading ``results.parquet``
   and the run's ``segments.parquet`` into pandas (what any analysis of these
   files must do first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _bench  # noqa: E402

SETUP = r"""
import json, sys, shutil
from pathlib import Path
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
rows, run = int(sys.argv[1]), Path(sys.argv[2])
seg_table = pd.read_parquet(run / "segments.parquet")
names = seg_table.drop_duplicates("segment").set_index("segment")["segment_name"].sort_index()
rng = np.random.default_rng(21)
ids = pd.Series(np.char.add("C", np.char.zfill(np.arange(1, rows + 1).astype(str), 9)),
                dtype=object)
seg = rng.integers(0, len(names), rows)
pq.write_table(pa.table({"customer_id": ids, "segment": seg,
                         "segment_name": names.to_numpy()[seg].astype(object),
                         "distance": np.round(rng.random(rows), 6)}),
               run / "segments.parquet")
order = rng.permutation(rows)
treated = rng.random(rows) < 0.5
p = 0.06 + np.where(treated & (seg == 0), 0.01, 0.0)
converted = (rng.random(rows) < p).astype(np.int64)
revenue = np.where(converted == 1, np.round(rng.lognormal(np.log(60), 0.8, rows), 2), 0.0)
pq.write_table(pa.table({"customer_id": ids.to_numpy()[order],
                         "group": np.where(treated, "treatment", "control")[order].astype(object),
                         "converted": converted[order], "revenue": revenue[order]}),
               run.parent / "results.parquet", row_group_size=1 << 20)
print(json.dumps({"rows": rows}))
"""

FLOOR = """import sys
import pandas as pd
from custseg import io
io.read_table(sys.argv[1])
pd.read_parquet(sys.argv[2])
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="10M")
    ap.add_argument("--out", default=str(HERE / "out" / "campaign"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = _bench.parse_rows(args.rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = _bench.header(sys.argv)
    run = out / "run"
    meta = out / f"setup-{rows}.json"
    if not meta.is_file():
        _bench.run_setup(["-m", "custseg", "demo", "--campaign", "--rows", "20000", "-j", "1",
                          "-q", "-o", str(run), "--overwrite"])
        _bench.run_setup(["-c", SETUP, str(rows), str(run)])
        meta.write_text(json.dumps({"rows": rows}))
    results = out / "results.parquet"
    timed = {"custseg.io.readers:read_table": "read",
             "custseg.campaign.columns:check_results": "check",
             "custseg.campaign.files:_join_by_id": "join",
             "custseg.campaign.analyze:cell_table": "aggregate",
             "custseg.campaign.analyze:revenue_samples": "sample",
             "custseg.campaign.analyze:analyze_cells": "tests",
             "custseg.campaign.files:write_campaign": "write"}
    cmd = _bench.run_measured("cli", ["campaign", str(results), "--run", str(run), "-o",
                                      str(out / "analysis"), "--overwrite", "--quiet"],
                              timed=timed, timeout=600)
    floor_script = out / "io_floor.py"
    floor_script.write_text(FLOOR)
    floor = _bench.run_measured("script", [str(floor_script), str(results),
                                           str(run / "segments.parquet")], timeout=600)
    result.update({"rows": rows, "campaign": cmd, "io_floor": floor})
    lines = [["what", "wall s", "peak RSS MiB", "CPU s"],
             ["custseg campaign", f"{cmd['wall_s']:.1f}", _bench.mib(cmd.get("peak_rss_bytes")),
              f"{cmd.get('cpu_s', 0):.1f}"],
             ["I/O floor (read both files)", f"{floor['wall_s']:.1f}",
              _bench.mib(floor.get("peak_rss_bytes")), f"{floor.get('cpu_s', 0):.1f}"]]
    _bench.print_table(lines)
    print("inside the command:", json.dumps(cmd.get("in_run"), indent=None))
    if cmd.get("returncode"):
        print(cmd.get("stderr_tail"), file=sys.stderr)
    _bench.finish(result, Path(args.json) if args.json else out / f"campaign-{rows}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
