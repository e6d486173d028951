"""The Spark engine (issue #5, parts 4-5): Spark in local mode against the local engine.

Skipped when pyspark or Java is missing, except under CUSTSEG_REQUIRE_ALL=1 (CI),
where that is a failure. One Spark session serves the whole module (the JVM takes
seconds to start); the Spark runs are module fixtures shared by the tests.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

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


def test_large_runs_write_partitioned_segments(spark, tmp_path, monkeypatch):
    import custseg.engines.spark as engine
    from custseg.engines import finish_run, run_engine
    from custseg.rundir import write_run

    monkeypatch.setattr(engine, "PARTITIONED_MIN", 1)
    data = tmp_path / "customers.parquet"
    make_customers(2_000, seed=3).to_parquet(data)
    result = run_engine("spark", None, parse_spec(demo_spec_text()),
                        RunOptions(k=3, k_range=(3, 3), stability_runs=0, analysis=False),
                        source=data)
    out = write_run(result, tmp_path / "run")
    finish_run(result, out)
    assert (out / "segments.parquet").is_dir()
    back = pd.read_parquet(out / "segments.parquet").sort_values("row").reset_index(drop=True)
    csv = pd.read_csv(out / "segments.csv")
    assert back["row"].tolist() == csv["row"].tolist() == list(range(1, 2_001))
    assert back["segment"].tolist() == csv["segment"].tolist()


def test_missing_pyspark_is_one_line_with_the_install_command(monkeypatch):
    from custseg.engines import run_engine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ParameterError, match=r'pip install "custseg\[spark\]"') as err:
        run_engine("spark", make_customers(50), None)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, message", [("dask", "unknown engine 'dask'")])
def test_unknown_engine_names_the_known_ones(name, message):
    from custseg.engines import get_engine

    with pytest.raises(ParameterError, match=message) as err:
        get_engine(name)
    assert "local, spark" in str(err.value)


def test_spec_inference_sees_numbers_in_text_columns_as_the_csv_reader_does():
    from custseg.engines.spark import _typed_head

    class Head:  # stands in for a Spark DataFrame of a CSV read as text
        def limit(self, n):
            return self

        def toPandas(self):
            return pd.DataFrame({"a": ["1", "2", None], "b": ["x", "y", "z"],
                                 "c": ["1.5", " 2", "3"], "d": ["1", "2", "3"]})

    head = _typed_head(Head())
    assert head["a"].tolist()[:2] == [1.0, 2.0] and np.isnan(head["a"].iloc[2])
    assert head["c"].tolist() == [1.5, 2.0, 3.0]
    assert head["d"].dtype == np.int64 and head["d"].tolist() == [1, 2, 3]
    assert head["b"].tolist() == ["x", "y", "z"]
