"""The Spark engine (issue #5, parts 4-5): Spark in local mode against the local engine.

Skipped when pyspark or Java is missing, except under CUSTSEG_REQUIRE_ALL=1 (CI),
where that is a failure. One Spark session serves the whole module (the JVM takes
seconds to start); the Spark runs are module fixtures shared by the tests.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from conftest import require_or_skip
from custseg.cli import app
from custseg.datasets import demo_spec_text, make_customers
from custseg.errors import ParameterError, ValidationError
from custseg.pipeline import RunOptions, segment
from custseg.spec import parse_spec

K = 4


def _spark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


@pytest.fixture(scope="module")
def spark():
    require_or_skip(_spark_available(), "pyspark or java is not installed (pip install "
                                        "'custseg[spark]'; Java 17)")
    from custseg.engines.spark import get_session

    session = get_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spec365(tmp_path_factory):
    # the real file has a few empty CLV cells: the bundled spec says missing = "error"
    text = demo_spec_text().replace('missing = "error"', 'missing = "median"')
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def real_365_module():
    from conftest import SHARED_DATA

    path = SHARED_DATA / "365-customers" / "customer_segmentation_data.csv"
    require_or_skip(path.is_file(), f"real data set not found: {path}")
    return path


@pytest.fixture(scope="module")
def spark_run(spark, real_365_module, spec365, tmp_path_factory):
    """``custseg run --engine spark`` on the real 365 file, k forced to 4 in a 3-5 sweep."""
    out = tmp_path_factory.mktemp("spark") / "run"
    res = CliRunner().invoke(app, ["run", str(real_365_module), "--spec", str(spec365),
                                   "--out", str(out), "--engine", "spark", "--k", str(K),
                                   "--k-range", "3-5", "--quiet"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def local_result(real_365_module, spec365):
    from custseg.io import read_table

    spec = parse_spec(spec365.read_text())
    return segment(read_table(real_365_module), spec,
                   RunOptions(k=K, k_range=(3, 5), analysis=False))


def test_spark_and_local_engines_agree_on_the_365_data(spark_run, local_result):
    seg = pd.read_csv(spark_run / "segments.csv")
    loc = local_result.segments
    assert list(seg.columns) == list(loc.columns)
    assert seg["row"].tolist() == loc["row"].tolist()
    assert adjusted_rand_score(loc["segment"], seg["segment"]) >= 0.95
    manifest = pd.read_json(spark_run / "manifest.json", typ="series")
    assert manifest["engine"]["name"] == "spark"
    # within-cluster cost at the same k: within 2% of the local engine's (n_init=10)
    local_cost = local_result.segmenter.inertia_
    model = pd.read_json(spark_run / "model.json", typ="series")
    assert model["training"]["inertia"] <= 1.02 * local_cost


def test_spark_feature_space_statistics_are_exact(spark_run, local_result):
    import json

    model = json.loads((spark_run / "model.json").read_text())
    local = local_result.segmenter.features_.to_dict()
    spark_fs = model["features"]
    assert spark_fs["columns"] == local["columns"]
    assert spark_fs["log1p"] == local["log1p"]
    assert spark_fs["fill"] == local["fill"]
    np.testing.assert_allclose(spark_fs["mean"], local["mean"], rtol=1e-12)
    np.testing.assert_allclose(spark_fs["scale"], local["scale"], rtol=1e-12)


def test_spark_profiles_match_an_independent_groupby(spark_run, real_365_module):
    raw = pd.read_csv(real_365_module)
    seg = pd.read_csv(spark_run / "segments.csv")
    raw["minutes_watched"] = raw["minutes_watched"].fillna(0.0)
    raw["CLV"] = raw["CLV"].fillna(raw["CLV"].median())
    raw["segment"] = seg["segment"].to_numpy()
    expect = raw.groupby("segment").agg(size=("CLV", "size"), clv_mean=("CLV", "mean"),
                                        clv_median=("CLV", "median"))
    prof = pd.read_csv(spark_run / "profiles.csv").set_index("segment")
    assert prof["size"].tolist() == expect["size"].tolist()
    np.testing.assert_allclose(prof["CLV_mean"], expect["clv_mean"], rtol=1e-9)
    np.testing.assert_allclose(prof["CLV_median"], expect["clv_median"], rtol=1e-9)
    selection = pd.read_csv(spark_run / "selection.csv")
    assert selection["k"].tolist() == [3, 4, 5]
    assert selection["silhouette"].notna().all()
    assert selection.loc[selection["chosen"], "k"].tolist() == [K]


def test_the_spark_analysis_matches_the_analysis_schema(spark_run):
    import json

    from test_analysis_schema import assert_matches_schema

    analysis = json.loads((spark_run / "analysis.json").read_text(encoding="utf-8"))
    assert all("iterations" in row for row in analysis["selection"]["rows"])  # the engine's own
    assert_matches_schema(analysis)


def test_assign_with_a_spark_model_gives_the_spark_segments(spark_run, real_365_module,
                                                            tmp_path):
    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", str(spark_run / "model.json"),
                                   str(real_365_module), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assigned = pd.read_csv(out)
    seg = pd.read_csv(spark_run / "segments.csv")
    assert (assigned["segment"].to_numpy() == seg["segment"].to_numpy()).mean() >= 0.999
    np.testing.assert_allclose(assigned["distance"], seg["distance"], atol=1e-5)


def test_spark_assignment_equals_the_core_kernel(spark_run, real_365_module):
    """The Spark engine assigns with Spark SQL expressions (the feature transform and the
    nearest centre), which keeps Python off the executors for it; the segments and
    distances are pinned to :class:`custseg.model.SegmentModel`'s on the same data
    (issue #16: one assignment path, or an equivalence test for the second)."""
    from custseg.io import read_table
    from custseg.modelfile import load_model

    model = load_model(spark_run)
    expected, _ = model.assign(read_table(real_365_module))
    seg = pd.read_csv(spark_run / "segments.csv")
    assert seg["row"].tolist() == expected["row"].tolist()
    assert seg["segment"].tolist() == expected["segment"].tolist()
    np.testing.assert_allclose(seg["distance"], expected["distance"], rtol=0, atol=1.01e-6)


def test_spark_validation_finds_what_the_local_engine_finds(spark):
    from custseg.engines import run_engine

    df = make_customers(300, seed=1)
    df["CLV"] = df["CLV"].astype(object)
    df.loc[[4, 150, 299], "CLV"] = "n/a?"
    df["channel"] = df["channel"].astype(object)
    df.loc[7, "channel"] = "99"
    spec = parse_spec(demo_spec_text())
    with pytest.raises(ValidationError) as local_err:
        segment(df, spec, RunOptions(k=3, k_range=(3, 3), analysis=False))
    with pytest.raises(ValidationError) as spark_err:
        run_engine("spark", df, spec, RunOptions(k=3, k_range=(3, 3), analysis=False))

    def summary(err):
        return sorted((p.code, p.column, p.count, tuple(p.rows)) for p in err.value.problems
                      if p.severity == "error")

    assert summary(spark_err) == summary(local_err)
    assert ("not-numeric", "CLV", 3, (5, 151, 300)) in summary(spark_err)


def _spark_run_of_2000(tmp_path, monkeypatch, **limits):
    """The Spark engine on 2,000 synthetic customers (k = 3), with module constants
    such as ``PARTITIONED_MIN`` lowered so that small data takes the large-data paths."""
    import custseg.engines.spark.run as engine
    from custseg.engines import run_engine

    for name, value in limits.items():
        monkeypatch.setattr(engine, name, value)
    data = tmp_path / "customers.parquet"
    make_customers(2_000, seed=3).to_parquet(data)
    result = run_engine("spark", None, parse_spec(demo_spec_text()),
                        RunOptions(k=3, k_range=(3, 3), stability_runs=0, analysis=False),
                        source=data)
    return data, result


def test_large_runs_write_partitioned_segments(spark, tmp_path, monkeypatch):
    from custseg.engines import finish_run
    from custseg.rundir import write_run

    _, result = _spark_run_of_2000(tmp_path, monkeypatch, PARTITIONED_MIN=1)
    out = write_run(result, tmp_path / "run")
    finish_run(result, out)
    assert (out / "segments.parquet").is_dir()
    back = pd.read_parquet(out / "segments.parquet").sort_values("row").reset_index(drop=True)
    csv = pd.read_csv(out / "segments.csv")
    assert back["row"].tolist() == csv["row"].tolist() == list(range(1, 2_001))
    assert back["segment"].tolist() == csv["segment"].tolist()
    # the commands that read a run's segments read the folder too
    from custseg.rundir import read_segments
    from custseg.scoring import export_segments

    assert read_segments(out)["segment"].value_counts().sort_index().tolist() == \
        csv["segment"].value_counts().sort_index().tolist()
    done = export_segments(out, ["0"], tmp_path / "first.csv")
    first = pd.read_csv(tmp_path / "first.csv")
    assert done["rows"] == len(first) == int((csv["segment"] == 0).sum())
    assert sorted(first["row"]) == csv.loc[csv["segment"] == 0, "row"].tolist()


def test_above_the_driver_limit_the_segments_stay_on_the_executors(spark, tmp_path,
                                                                    monkeypatch):
    """Past ``DRIVER_SEGMENTS_MAX`` customers nothing per customer reaches the driver:
    only the partitioned segments.parquet/ is written, and the model's distance
    quantiles come from Spark; the run directory still works for ``assign``."""
    import json

    from custseg.engines import finish_run
    from custseg.model import DISTANCE_QUANTILES
    from custseg.rundir import read_segments, write_run

    # (PARTITIONED_MIN stays at a million: the executors' table is then the only one)
    data, result = _spark_run_of_2000(tmp_path, monkeypatch, DRIVER_SEGMENTS_MAX=1_999)
    assert result.segments is None and result.segmenter.labels_ is None
    out = write_run(result, tmp_path / "run", finish=lambda tmp: finish_run(result, tmp))
    assert not (out / "segments.csv").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["segments_on_driver"] is False and manifest["segments_partitioned"]
    seg = read_segments(out).sort_values("row").reset_index(drop=True)
    assert seg["row"].tolist() == list(range(1, 2_001))
    model = json.loads((out / "model.json").read_text())
    for s, got in enumerate(model["distance_quantiles"]):
        expected = np.quantile(seg.loc[seg["segment"] == s, "distance"], DISTANCE_QUANTILES)
        np.testing.assert_allclose([got[f"{q:g}"] for q in DISTANCE_QUANTILES], expected,
                                   atol=1e-6)  # (the table's distances are rounded to 1e-6)
    res = CliRunner().invoke(app, ["assign", str(out / "model.json"), str(data),
                                   "--output", str(tmp_path / "assigned.csv")])
    assert res.exit_code == 0, res.output
    assigned = pd.read_csv(tmp_path / "assigned.csv")
    assert (assigned["segment"].to_numpy() == seg["segment"].to_numpy()).mean() >= 0.999


def test_missing_pyspark_is_one_line_with_the_install_command(monkeypatch):
    from custseg.engines import run_engine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ParameterError, match=r'pip install "custseg\[spark\]"') as err:
        run_engine("spark", make_customers(50), None)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("pyspark_python, master, configured, expected", [
    (None, "local[*]", None, sys.executable),  # local mode: this interpreter
    (None, "local-cluster[1,1,1024]", None, sys.executable),
    (None, "spark://host:7077", None, "python3"),  # a cluster: its workers' python3
    (None, "yarn", "/opt/py/bin/python", "/opt/py/bin/python"),  # spark.pyspark.python
    (None, "local[2]", "/opt/py/bin/python", "/opt/py/bin/python"),
    ("/x/bin/python", "local[*]", "/opt/py/bin/python", "/x/bin/python"),  # PYSPARK_PYTHON
])
def test_the_python_workers_run_the_interpreter_the_user_chose_or_this_one(
        monkeypatch, pyspark_python, master, configured, expected):
    from custseg.engines.spark.session import worker_python

    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    if pyspark_python:
        monkeypatch.setenv("PYSPARK_PYTHON", pyspark_python)
    assert worker_python(master, configured, pyspark_python or "python3") == expected


@pytest.mark.parametrize("name, message", [("dask", "unknown engine 'dask'")])
def test_unknown_engine_names_the_known_ones(name, message):
    from custseg.engines import get_engine

    with pytest.raises(ParameterError, match=message) as err:
        get_engine(name)
    assert "local, spark" in str(err.value)


def test_spec_inference_sees_numbers_in_text_columns_as_the_csv_reader_does():
    from custseg.engines.spark.read import typed_head

    class Head:  # stands in for a Spark DataFrame of a CSV read as text
        def limit(self, n):
            return self

        def toPandas(self):
            return pd.DataFrame({"a": ["1", "2", None], "b": ["x", "y", "z"],
                                 "c": ["1.5", " 2", "3"], "d": ["1", "2", "3"]})

    head = typed_head(Head())
    assert head["a"].tolist()[:2] == [1.0, 2.0] and np.isnan(head["a"].iloc[2])
    assert head["c"].tolist() == [1.5, 2.0, 3.0]
    assert head["d"].dtype == np.int64 and head["d"].tolist() == [1, 2, 3]
    assert head["b"].tolist() == ["x", "y", "z"]


# ------------------------------------------------------------------ how Spark gets the input
READS_NOTHING_HERE = r"""
import sys
sys.path.insert(0, sys.argv.pop(1))  # custseg for this process only, as a console script has it
import custseg.io as io

def refuse(*args, **kwargs):
    raise AssertionError("the whole input was read with pandas")

io.read_table = refuse
from custseg._entry import main

sys.argv = ["custseg", *sys.argv[1:]]
main()
"""


def test_spark_run_reads_the_input_itself_and_keeps_the_terminal_quiet(tmp_path,
                                                                       python_without_custseg):
    """``custseg run DATA --engine spark -q``: no pandas read of the whole file, the
    JVM's start-up chatter goes to its log file, and the terminal shows nothing.

    From an environment that is not activated (issue #16): ``python3`` on ``PATH``
    cannot import custseg and the process finds custseg through its own ``sys.path``
    only, as a console script called by its path does; Spark's Python workers (the
    validation) run this interpreter."""
    import hashlib
    import json
    import subprocess

    import custseg
    from conftest import env_without_custseg

    require_or_skip(_spark_available(), "pyspark or java is not installed")
    data = tmp_path / "customers.parquet"
    make_customers(1_500, seed=4).to_parquet(data)
    log = tmp_path / "jvm.log"
    out = tmp_path / "run"
    src = str(Path(custseg.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", READS_NOTHING_HERE, src, "run", str(data), "--engine", "spark",
         "--master", "local[1]", "--k", "3", "--k-range", "3-3", "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=600,
        env=env_without_custseg(python_without_custseg, CUSTSEG_SPARK_LOG=str(log)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    assert "log4j" in log.read_text()  # what the JVM printed went to its log
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "spark"
    assert manifest["input"]["rows"] == 1_500
    assert manifest["input"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def id_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("idspec") / "spec.toml"
    path.write_text(demo_spec_text().replace('kind = "customers"',
                                             'kind = "customers"\nid = "customer_id"'))
    return path


def _customers_with_ids(n: int, seed: int) -> pd.DataFrame:
    df = make_customers(n, seed=seed)
    df.insert(0, "customer_id", [f"c{i:05d}" for i in range(n)])
    return df


def _spark_cli(args) -> None:
    res = CliRunner().invoke(app, ["run", *map(str, args), "--engine", "spark", "--k", "3",
                                   "--k-range", "3-3", "--quiet"])
    assert res.exit_code == 0, res.output


def test_a_parquet_folder_and_a_file_url_are_read_as_the_file(spark, id_spec, tmp_path):
    import hashlib
    import json

    df = _customers_with_ids(2_400, seed=5)
    single = tmp_path / "customers.parquet"
    df.to_parquet(single, index=False)
    folder = tmp_path / "customers"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")  # marker files are neither data nor digested
    for name, source in (("file", single), ("url", single.as_uri()), ("folder", folder)):
        _spark_cli([source, "--spec", id_spec, "--out", tmp_path / name])

    # the URL names the same file: the same segments, byte for byte
    assert ((tmp_path / "url" / "segments.csv").read_bytes()
            == (tmp_path / "file" / "segments.csv").read_bytes())
    url_manifest = json.loads((tmp_path / "url" / "manifest.json").read_text())
    assert url_manifest["input"]["path"] == single.as_uri()
    assert url_manifest["input"]["sha256"] is None  # not computed for a remote input
    # the folder holds the same customers in three parts (read in Spark's order)
    by_file = pd.read_csv(tmp_path / "file" / "segments.csv").set_index("customer_id")
    by_folder = pd.read_csv(tmp_path / "folder" / "segments.csv").set_index("customer_id")
    assert sorted(by_folder.index) == sorted(df["customer_id"])
    assert adjusted_rand_score(by_file["segment"], by_folder.loc[by_file.index, "segment"]) >= 0.95
    digest = hashlib.sha256()
    for i in range(3):
        part = folder / f"part-{i}.parquet"
        digest.update(f"part-{i}.parquet".encode() + b"\0"
                      + hashlib.sha256(part.read_bytes()).hexdigest().encode() + b"\n")
    manifest = json.loads((tmp_path / "folder" / "manifest.json").read_text())
    assert manifest["input"]["sha256"] == digest.hexdigest()


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "url"])
def test_a_row_with_more_or_fewer_fields_is_one_line_naming_its_line(spark, id_spec, tmp_path,
                                                                     as_url):
    """Issue #16: Spark stops on the row (FAILFAST); the message names the file's line (the
    header is line 1) and both field counts, for a local path (found by a scan of the file
    after Spark stopped) and for a URL (by a Spark scan of its lines)."""
    # (with --spec nothing is read here first: Spark's reader meets the row)
    data = tmp_path / "data.csv"
    lines = _customers_with_ids(1_000, seed=6).to_csv(index=False).splitlines()
    if as_url:
        lines[300] += ",99"  # a sixth field
        expected = (f"line 301 of {data.as_uri()} has 6 fields but the header has 5; fix: quote "
                    "fields that contain the comma")
    else:
        lines.append("c01000,1,2")  # two fields short, at the end
        expected = (f"line 1002 of {data} has 3 fields but the header has 5; fix: add the "
                    "missing fields")
    data.write_text("\n".join(lines) + "\n")
    source = data.as_uri() if as_url else str(data)
    res = CliRunner().invoke(app, ["run", source, "--spec", str(id_spec), "--engine", "spark",
                                   "--k", "3", "--k-range", "3-3", "--out", str(tmp_path / "run"),
                                   "-q"])
    assert res.exit_code == 2, res.output
    message = res.output.strip()
    assert "\n" not in message
    assert message.startswith(f"error: {expected}"), message
    assert not (tmp_path / "run").exists()


def test_the_first_row_with_another_field_count_is_found_line_by_line(tmp_path):
    from custseg.engines.spark.read import first_ragged_line

    data = tmp_path / "data.csv"
    # a quoted delimiter does not split; a blank line is skipped but counted; CRLF ends lines
    data.write_bytes(b'id,name,v\r\n1,"Smith, John",2\r\n\r\n2,b,3\r\n3,c\r\n4,d,5,6\r\n')
    assert first_ragged_line(data, "utf-8", ",") == (5, 2, 3)
    data.write_text("id;v\n1;2\n\n2;3\n")
    assert first_ragged_line(data, "utf-8", ";") is None


@pytest.mark.parametrize("args, message", [
    (["--compare-algorithms", "kmeans,gmm"], "--compare-algorithms runs with the local engine"),
    (["--engine", "local"], "is a URL, which only --engine spark reads"),
])
def test_options_the_engine_cannot_honour_are_refused_before_any_work(tmp_path, args, message):
    source = "s3a://bucket/customers.parquet"
    if "--compare-algorithms" in args:
        args = [*args, "--engine", "spark"]
    res = CliRunner().invoke(app, ["run", source, *args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    assert message in res.output and res.output.count("\n") == 1


@pytest.mark.parametrize("text, expected", [
    ("An error occurred while calling o160.collectToPython.\n: org.apache.spark.SparkException:"
     " [FAILED_READ_FILE.NO_HINT] ...\nCaused by: org.apache.spark.SparkRuntimeException: "
     "[MALFORMED_CSV_RECORD] Malformed CSV record: 1,2,3,4,5 SQLSTATE: KD000\n\tat org...",
     "a row of data.csv does not split into the header's fields: '1,2,3,4,5'"),
    ("[PATH_NOT_FOUND] Path does not exist: hdfs://nn/x.parquet. SQLSTATE: 42K03",
     "'hdfs://nn/x.parquet' does not exist"),
    ('org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for scheme "s3a"\n\tat',
     "Spark has no file system for s3a:// URLs (data.csv)"),
    ("java.lang.RuntimeException: file:/x/part-0.parquet is not a Parquet file. Expected magic "
     "number at tail, but found [1, 2, 3, 4]\n\tat org...",
     "data.csv is not a readable Parquet file (truncated or corrupted?); fix: write it again"),
])
def test_spark_input_failures_become_one_line_input_errors(text, expected):
    from custseg.engines.spark.read import input_error
    from custseg.errors import InputError

    SparkFailure = type("SparkFailure", (Exception,), {"__module__": "py4j.protocol"})
    err = input_error(SparkFailure(text), "data.csv")
    assert isinstance(err, InputError)
    assert str(err).startswith(expected) and "\n" not in str(err)
    assert input_error(ValueError(text), "data.csv") is None  # not from Spark
    assert input_error(SparkFailure("Java heap space"), "data.csv") is None


def test_dates_yes_no_and_never_read_as_the_local_engine_reads_them(spark, tmp_path):
    from custseg.engines import run_engine
    from custseg.io import read_table

    rng = np.random.default_rng(8)
    n = 400
    days = pd.Timestamp("2024-06-30") - pd.to_timedelta(rng.integers(0, 300, n), "D")
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                       "Signup Date": days.strftime("%d/%m/%Y"),
                       "Newsletter": rng.choice(["Yes", "no", "Y"], n),
                       "days_since_last_login": rng.integers(0, 90, n).astype(float),
                       "CLV": np.round(rng.gamma(2, 50, n), 2)})
    df.loc[rng.random(n) < 0.1, "days_since_last_login"] = np.nan
    data = tmp_path / "c.csv"
    df.to_csv(data, index=False)
    spec = parse_spec('id = "customer_id"\ncluster_on = ["Signup Date", "days_since_last_login", '
                      '"CLV"]\ndescribe = ["Newsletter"]\n'
                      '[columns."Signup Date"]\nkind = "date"\nformat = "DD/MM/YYYY"\n'
                      '[columns.Newsletter]\nkind = "boolean"\n'
                      '[columns.days_since_last_login]\nkind = "numeric"\nrole = "engagement"\n'
                      'better = "lower"\nmissing = "never"\n'
                      '[columns.CLV]\nkind = "numeric"\nrole = "value"\n')
    options = RunOptions(k=3, k_range=(3, 3), stability_runs=0, analysis=False)
    local = segment(read_table(data), spec, options)
    spark_result = run_engine("spark", None, spec, options, source=data)
    newest = str(days.max().date())  # the default observation date
    assert spark_result.input_spec.as_of == local.input_spec.as_of == newest
    spark_fs, local_fs = spark_result.segmenter.model_.features, local.segmenter.model_.features
    assert (list(spark_fs.columns_) == list(local_fs.columns_)
            == ["Signup Date (days)", "days_since_last_login", "days_since_last_login missing",
                "CLV"])
    # the same days, flags and fill values: the same feature statistics
    np.testing.assert_allclose(spark_fs.mean_, local_fs.mean_, rtol=1e-9)
    assert spark_fs.fill_ == pytest.approx(local_fs.fill_)
    shares = {lvl["code"] for p in spark_result.profiles for lvl in p["categorical"]["Newsletter"]}
    assert shares == {"yes", "no"}
