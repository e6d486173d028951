"""Do two versions of custseg (or two ``--jobs`` values) write the same outputs?

A refactoring must not change results. This script runs one set of commands
(demo, runs of the real 365 file with every algorithm and ``--compare-algorithms``,
an inferred spec, fast-path runs of generated tables with text ids, ``assign``,
``export``, ``compare``, ``--reference``, ``rfm`` and a run of the CDNOW order log,
``report``, and the library's ``custseg.segment``) once per *variant* and compares
every file the variants wrote, byte for byte, after removing what is allowed to
differ: the run's timings (``timings`` and the algorithm table's ``seconds``).

Usage::

    python benchmarks/same_outputs.py --variant before=/path/to/old/src \\
        --variant jobs1=src:--jobs=1 --variant jobs2=src:--jobs=2 [--out DIR] [--quick]

A variant is ``NAME=SRC[:EXTRA]``: ``SRC`` is a ``src`` folder holding the
``custseg`` package (put first on ``PYTHONPATH``), ``EXTRA`` comma-separated
options added to every command that does the work in parallel (``run``, ``demo``,
``assign``, ``report``) and, as ``n_jobs``, to the library call. Each variant
runs in its own folder with the same relative paths, so paths recorded in the
outputs are the same. The first variant is the reference; exit status 1 when any
other differs from it (the differing files are listed, with the first
difference), 0 when all agree.

``--quick`` leaves out the 1,000,000-row run. The 365 and CDNOW cases need
``../shared/data`` beside the checkout and are skipped (and said so) without it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
REAL = SHARED / "365-customers" / "customer_segmentation_data.csv"
CDNOW = SHARED / "cdnow" / "CDNOW_master.txt"

LIBRARY_CALL = """
import json, sys
import pandas as pd
import custseg
from custseg.datasets import demo_spec_text
df = pd.read_csv(sys.argv[1], dtype={"customer_id": str})
kw = {} if len(sys.argv) < 4 else {"n_jobs": int(sys.argv[3])}
result = custseg.segment(df, custseg.parse_spec(open(sys.argv[2]).read()), **kw)
result.manifest.pop("timings")
result.segments.to_csv("library/segments.csv", index=False)
with open("library/analysis.json", "w") as f:
    json.dump(result.analysis, f, indent=1, sort_keys=True, default=str)
with open("library/manifest.json", "w") as f:
    json.dump(result.manifest, f, indent=1, sort_keys=True, default=str)
"""

MAKE_DATA = """
import sys
import numpy as np
from custseg.datasets import make_customers
n, path = int(sys.argv[1]), sys.argv[2]
df = make_customers(n, seed=0)
df.insert(0, "customer_id", np.char.add("c", np.arange(n).astype(str)))
if path.endswith(".parquet"):
    df.to_parquet(path, index=False)
else:
    df.to_csv(path, index=False)
"""


def cases(data: dict[str, Path], quick: bool) -> list[tuple[str, list[list[str]]]]:
    """(name, commands): each command a custseg argument list; ``{J}`` marks where EXTRA goes."""
    out: list[tuple[str, list[list[str]]]] = [
        ("demo", [["demo", "--out", "demo", "-q", "{J}"], ["report", "demo", "{J}"]]),
        ("demo-tx", [["demo", "--transactions", "--out", "demo-tx", "-q", "{J}"]]),
        ("gen100k", [
            ["run", str(data["g100k"]), "--spec", str(data["spec"]), "--out", "g100k", "-q", "{J}"],
            ["assign", "g100k", str(data["g100k"]), "-o", "g100k-assign.csv", "{J}"],
            ["assign", "g100k", str(data["g100k"]), "-o", "g100k-assign.parquet", "{J}"],
            ["export", "g100k", "--segment", "all", "-o", "g100k-export.csv"],
            ["run", str(data["g100k"]), "--spec", str(data["spec"]), "--out", "g100k-s1", "--seed",
             "1", "--reference", "g100k", "-q", "{J}"],
            ["compare", "g100k", "g100k-s1", "--out", "g100k-compare"],
            ["compare", "g100k", str(data["g100k"]), "--out", "g100k-compare-data"],
        ]),
        ("gen100k-exact", [["run", str(data["g100k"]), "--spec", str(data["spec"]), "--out",
                            "g100k-exact", "--exact", "-q", "{J}"]]),
    ]
    if not quick:
        out.append(("gen1M", [["run", str(data["g1M"]), "--spec", str(data["spec"]), "--out", "g1M",
                               "-q", "{J}"]]))
    if REAL.exists():
        real = str(REAL)
        out += [
            ("real365", [
                ["init", real, "-o", "real-spec.toml"],
                ["run", real, "--spec", "real-spec.toml", "--out", "real", "-q", "{J}"],
                ["run", real, "--out", "real-inferred", "-q", "{J}"],
                ["run", real, "--spec", "real-spec.toml", "--compare-algorithms", "kmeans,gmm,ward",
                 "--out", "real-compare", "-q", "{J}"],
                ["run", real, "--spec", "real-spec.toml", "--aggregate-only", "--k", "4",
                 "--out", "real-k4", "-q", "{J}"],
            ]),
            *[(f"real365-{a}", [["init", real, "-o", f"real-{a}-spec.toml"],
                                ["run", real, "--spec", f"real-{a}-spec.toml", "--algorithm", a,
                                 *(["--cluster-on", "all"] if a == "kprototypes" else []),
                                 "--out", f"real-{a}", "-q", "{J}"]])
              for a in ("minibatch-kmeans", "ward", "gmm", "hdbscan", "kprototypes")],
        ]
    if CDNOW.exists():
        out += [("cdnow", [
            ["rfm", str(CDNOW), "-o", "cdnow-rfm.csv", "-q"],
            ["rfm", str(CDNOW), "-o", "cdnow-lifetimes.parquet", "--convention", "lifetimes", "-q"],
            ["run", str(CDNOW), "--out", "cdnow", "-q", "{J}"],
        ])]
    return out


def run_variant(name: str, src: Path, extra: list[str], work: Path, data: dict[str, Path],
                quick: bool) -> list[str]:
    """Run every case with ``src`` first on the path; returns what failed."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
           "PYTHONHASHSEED": "0"}
    failures = []
    for case, commands in cases(data, quick):
        for args in commands:
            args = [a for arg in args for a in (extra if arg == "{J}" else [arg])]
            done = subprocess.run([sys.executable, "-m", "custseg", *args], cwd=folder, env=env,
                                  capture_output=True, text=True)
            (folder / "log.txt").open("a").write(
                f"$ custseg {' '.join(args)}\n{done.stdout}{done.stderr}exit {done.returncode}\n")
            if done.returncode != 0:
                failures.append(f"{case}: custseg {' '.join(args)} exited {done.returncode}: "
                                f"{done.stderr.strip()[-300:]}")
    (folder / "library").mkdir()
    jobs = [a.split("=", 1)[1] for a in extra if a.startswith("--jobs=")]
    done = subprocess.run([sys.executable, "-c", LIBRARY_CALL, str(data["g100k"]), str(data["spec"]),
                           *jobs[:1]],
                          cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        failures.append(f"library: {done.stderr.strip()[-300:]}")
    return failures


_SECONDS = re.compile(rb'("seconds": )[0-9.eE+-]+')


def normalised(path: Path) -> bytes:
    """The file's bytes, with timings taken out of JSON and of the algorithm tables."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            obj = json.loads(data)
        except ValueError:
            return data
        strip_timings(obj)
        return json.dumps(obj, sort_keys=True, indent=1).encode()
    if path.suffix in (".html", ".md"):
        data = _SECONDS.sub(rb"\1_", data)
        # the algorithm table's seconds column in the markdown/HTML tables
        data = re.sub(rb"(\| *)[0-9]+\.[0-9]( *\|\n)", rb"\1_\2", data)
        data = re.sub(rb"(<td[^>]*>)[0-9]+\.[0-9](</td>\s*</tr>)", rb"\1_\2", data)
    return data


def strip_timings(obj) -> None:
    if isinstance(obj, dict):
        obj.pop("timings", None)
        obj.pop("seconds", None)
        for v in obj.values():
            strip_timings(v)
    elif isinstance(obj, list):
        for v in obj:
            strip_timings(v)


def first_difference(a: bytes, b: bytes) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at byte {i}: {a[max(0, i - 60):i + 60]!r} vs {b[max(0, i - 60):i + 60]!r}"


def compare(reference: Path, other: Path) -> list[str]:
    diffs = []
    ref_files = {p.relative_to(reference) for p in reference.rglob("*") if p.is_file()}
    other_files = {p.relative_to(other) for p in other.rglob("*") if p.is_file()}
    for rel in sorted(ref_files ^ other_files):
        if rel.name != "log.txt":
            diffs.append(f"{rel}: only in {'the reference' if rel in ref_files else other.name}")
    for rel in sorted(ref_files & other_files):
        if rel.name == "log.txt":
            continue
        a, b = normalised(reference / rel), normalised(other / rel)
        if a != b:
            diffs.append(f"{rel}: differs {first_difference(a, b)}")
    return diffs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", action="append", required=True, metavar="NAME=SRC[:EXTRA]",
                   help="a version to run (one alone is only run, for a later --reuse)")
    p.add_argument("--out", type=Path, default=HERE / "out" / "same-outputs")
    p.add_argument("--quick", action="store_true", help="leave out the 1M-row run")
    p.add_argument("--reuse", action="append", default=[], metavar="NAME",
                   help="do not run variant NAME again: compare what an earlier run of this "
                        "script left in OUT/NAME")
    args = p.parse_args()
    variants = []
    for text in args.variant:
        name, _, rest = text.partition("=")
        src, _, extra = rest.partition(":")
        variants.append((name, Path(src).resolve(), [e for e in extra.split(",") if e]))
    work = args.out.resolve()
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    data = {"g100k": data_dir / "g100k.csv", "g1M": data_dir / "g1M.parquet",
            "spec": data_dir / "spec.toml"}
    env = {**os.environ, "PYTHONPATH": str(variants[0][1])}
    for key, n in (("g100k", 100_000), ("g1M", 1_000_000)):
        if not data[key].exists():
            subprocess.run([sys.executable, "-c", MAKE_DATA, str(n), str(data[key])], env=env,
                           check=True)
    if not data["spec"].exists():
        subprocess.run([sys.executable, "-c", "from custseg.datasets import demo_spec_text; "
                        f"open({str(data['spec'])!r}, 'w').write("
                        "demo_spec_text().replace('kind = \"customers\"', "
                        "'kind = \"customers\"\\nid = \"customer_id\"', 1))"], env=env,
                       check=True)
    for what, path in (("365", REAL), ("CDNOW", CDNOW)):
        if not path.exists():
            print(f"skipped: the {what} cases ({path} is absent)")
    status = 0
    for name, src, extra in variants:
        if name in args.reuse:
            if not (work / name).is_dir():
                p.error(f"--reuse {name}: {work / name} does not exist")
            continue
        print(f"== {name}: {src} {' '.join(extra)}", flush=True)
        for failure in run_variant(name, src, extra, work, data, args.quick):
            print(f"  FAILED {failure}")
            status = 1
    reference = work / variants[0][0]
    for name, _, _ in variants[1:]:
        diffs = compare(reference, work / name)
        print(f"== {name} against {variants[0][0]}: "
              f"{'identical' if not diffs else f'{len(diffs)} files differ'}")
        for d in diffs:
            print(f"  {d}")
        status |= bool(diffs)
    return status


if __name__ == "__main__":
    sys.exit(main())
