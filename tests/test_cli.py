"""The command line: exact exit codes and messages, outputs, atomicity, determinism."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg import __version__, parse_spec
from custseg.cli import app
from custseg.datasets import demo_spec_text, make_customers

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    make_customers(600, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    path.write_text(demo_spec_text())
    return path


def test_version():
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"custseg {__version__}"


def test_python_dash_m_works():
    res = subprocess.run([sys.executable, "-m", "custseg", "--version"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0
    assert res.stdout.strip() == f"custseg {__version__}"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names, "no commands registered"
    for name in names:
        assert f"custseg {name}" in readme, f"command {name!r} is not documented in README.md"
        assert invoke(name, "--help").exit_code == 0


def test_demo_writes_a_complete_run(tmp_path):
    out = tmp_path / "demo"
    res = invoke("demo", "--rows", 800, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC" in res.stdout
    assert re.search(r"chosen k = \d+: ", res.stdout)
    assert f"report: {out / 'report.html'}" in res.stdout
    for name in ("segments.csv", "profiles.csv", "profiles.json", "selection.csv", "model.json",
                 "spec.toml", "manifest.json", "analysis.json", "report.html", "report.md",
                 "data.csv"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["synthetic"] is True
    assert set(manifest["outputs"]) >= {"segments.csv", "model.json", "data.csv"}
    segments = pd.read_csv(out / "segments.csv")
    assert list(segments.columns) == ["row", "segment", "segment_name", "distance"]
    assert segments["row"].tolist() == list(range(1, 801))
    assert sorted(segments["segment"].unique()) == list(range(manifest["k"]))
    # segment 0 is the largest
    sizes = segments["segment"].value_counts()
    assert sizes.idxmax() == 0


def test_run_with_spec_then_same_seed_is_byte_identical(tmp_path, demo_csv, spec_file):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--quiet")
        assert res.exit_code == 0, res.output
        outs.append(out)
    for name in ("segments.csv", "profiles.csv", "profiles.json", "selection.csv", "model.json",
                 "spec.toml", "analysis.json", "report.html", "report.md"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    m = [json.loads((o / "manifest.json").read_text()) for o in outs]
    for d in m:
        d.pop("timings")
    assert m[0] == m[1]


def test_a_folder_of_parquet_parts_runs_like_the_file(tmp_path, spec_file):
    df = make_customers(600, seed=3)
    df.to_parquet(tmp_path / "one.parquet", index=False)
    folder = tmp_path / "parts.parquet"  # as Spark writes a table
    folder.mkdir()
    for i, part in enumerate((df.iloc[:250], df.iloc[250:])):
        part.to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    for source, name in ((tmp_path / "one.parquet", "file"), (folder, "folder")):
        res = invoke("run", source, "--spec", spec_file, "--k", "3", "--out", tmp_path / name,
                     "--quiet")
        assert res.exit_code == 0, res.output
    assert ((tmp_path / "folder" / "segments.csv").read_bytes()
            == (tmp_path / "file" / "segments.csv").read_bytes())
    manifest = json.loads((tmp_path / "folder" / "manifest.json").read_text())
    assert manifest["input"]["rows"] == 600 and len(manifest["input"]["sha256"]) == 64


def test_run_without_spec_infers_and_prints_it(tmp_path, demo_csv):
    out = tmp_path / "inferred"
    res = invoke("run", demo_csv, "--out", out, "--k-range", "2-4")
    assert res.exit_code == 0, res.output
    assert "inferred this data dictionary" in res.stderr
    assert "channel: 8 integer codes, categorical" in res.stderr
    spec = parse_spec((out / "spec.toml").read_text())
    assert spec.cluster_on == ["minutes_watched", "CLV"]
    assert json.loads((out / "manifest.json").read_text())["spec_inferred"] is True


def test_cluster_on_override_and_forced_k(tmp_path, demo_csv, spec_file):
    out = tmp_path / "all"
    res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--cluster-on", "all",
                 "--k", 4, "--quiet")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["k"] == 4 and manifest["k_forced"] is True
    assert manifest["k_reason"].startswith("k = 4 was set by the user")
    assert "channel=1" in manifest["features"]


def test_init_writes_a_commented_spec_and_refuses_to_overwrite(tmp_path, demo_csv):
    out = tmp_path / "spec.toml"
    res = invoke("init", demo_csv, "-o", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "# " in text and "one-hot" in text
    spec = parse_spec(text)
    assert spec.columns["region"].kind == "categorical"
    assert spec.columns["minutes_watched"].transform == "log"
    res = invoke("init", demo_csv, "-o", out)
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"error: {str(out)!r} already exists; fix: pass --overwrite or "
                                  "choose another --output")


def _assert_clean_failure(res, out: Path | None = None):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors
    # everything else on stderr is a progress line such as "[   0.0s] read: ..."
    assert all(line.startswith("[") for line in lines if line not in errors)
    if out is not None:
        assert not out.exists()
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_bad_data_gets_one_line_errors_exit_2_and_no_output(tmp_path, spec_file):
    df = make_customers(300, seed=1)
    df["CLV"] = df["CLV"].astype(object)
    df.loc[4, "CLV"] = "1,234.50"
    df.loc[9, "channel"] = 12
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "run"
    res = invoke("run", path, "--spec", spec_file, "--out", out)
    _assert_clean_failure(res, out)
    assert ("error: column 'CLV' has 1 number with thousands separators (row 5: '1,234.50'); "
            "fix: export plain numbers without separators (1234.5, not 1,234.5)") in res.stderr
    assert "error: column 'channel' has 1 value with a code not in the spec's labels ('12'" \
        in res.stderr


def test_missing_file(tmp_path):
    out = tmp_path / "run"
    res = invoke("run", tmp_path / "nope.csv", "--out", out)
    _assert_clean_failure(res, out)
    assert "nope.csv" in res.stderr


def test_existing_output_needs_overwrite(tmp_path, demo_csv, spec_file):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--k", 3)
    assert res.exit_code == 2
    assert "already exists" in res.stderr and "--overwrite" in res.stderr
    assert (out / "keep.txt").read_text() == "old"
    res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--k", 3, "--overwrite",
                 "--quiet")
    assert res.exit_code == 0, res.output
    assert not (out / "keep.txt").exists()
    assert (out / "segments.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k-range", "1-5"], "error: --k-range must satisfy 2 <= low <= high, got '1-5'"),
        (["--k-range", "two"], "error: --k-range must look like 2-10, got 'two'"),
        (["--transform", "sqrt"], "error: --transform must be one of auto, log, none, got 'sqrt'"),
        (["--cluster-on", "CLW"], "did you mean 'CLV'?"),
    ],
)
def test_bad_options(tmp_path, demo_csv, spec_file, args, message):
    out = tmp_path / "run"
    res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, *args)
    _assert_clean_failure(res, out)
    assert message in res.stderr


def test_spec_typo_suggests_the_key(tmp_path, demo_csv):
    spec = tmp_path / "spec.toml"
    spec.write_text(demo_spec_text().replace("cluster_on =", "clsuter_on ="))
    res = invoke("run", demo_csv, "--spec", spec, "--out", tmp_path / "run")
    _assert_clean_failure(res, tmp_path / "run")
    assert "unknown key 'clsuter_on'" in res.stderr and "did you mean 'cluster_on'?" in res.stderr


def test_report_rerenders_without_refitting(tmp_path, demo_csv, spec_file):
    out = tmp_path / "run"
    assert invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--quiet").exit_code == 0
    before = (out / "model.json").read_bytes()
    html = out / "report.html"
    html.unlink()
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert html.is_file()
    assert (out / "model.json").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_report_on_a_non_run_directory(tmp_path):
    res = invoke("report", tmp_path)
    _assert_clean_failure(res)
    assert "has no analysis.json" in res.stderr


def test_aggregate_only_keeps_customer_level_values_out_of_the_report(tmp_path, demo_csv,
                                                                         spec_file):
    out = tmp_path / "agg"
    res = invoke("run", demo_csv, "--spec", spec_file, "--out", out, "--aggregate-only",
                 "--quiet", "--k", 3)
    assert res.exit_code == 0, res.output
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["aggregate_only"] is True
    assert analysis["charts"]["scatter"] is None
    assert analysis["charts"]["pca"]["points"] is None
    assert all(p["rows"] == [] for p in analysis["data_quality"]["problems"])
    assert not (out / "figures" / "scatter.png").exists()
    # the HTML has no scatter or projection of customers
    html = (out / "report.html").read_text()
    assert "aggregate-only" in html


GC_PROBE = """
import gc, json, sys
import custseg._entry as entry

events = []
real_disable, real_freeze = gc.disable, gc.freeze
gc.disable = lambda: events.append("disable") or real_disable()
gc.freeze = lambda: events.append("freeze") or real_freeze()
sys.argv = ["custseg", *sys.argv[1:]]
try:
    entry.main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "events": events, "enabled": gc.isenabled()}))
"""


@pytest.mark.parametrize("command, code", [
    (["run", "{csv}", "--spec", "{spec}", "--out", "{out}", "--quiet"], 0),
    (["run", "{out}-missing.csv", "--quiet"], 2),
])
def test_garbage_collection_is_left_alone_until_the_process_ends(tmp_path, demo_csv, spec_file,
                                                                 command, code):
    # the library and the CLI never pause the garbage collector; only the console entry
    # point freezes what is left once the command is over (sparing the final collection)
    args = [a.format(csv=demo_csv, spec=spec_file, out=tmp_path / "o") for a in command]
    res = subprocess.run([sys.executable, "-c", GC_PROBE, *args], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    probe = json.loads(res.stdout.strip().splitlines()[-1])
    assert probe == {"code": code, "events": ["freeze"], "enabled": True}, res.stderr
