"""assign in chunks and audience exports, including formula neutralisation."""

import numpy as np
import pandas as pd
import pytest

from custseg import CustomerSegmenter, ParameterError, ValidationError, parse_spec
from custseg.datasets import demo_spec_text, make_customers
from custseg.pipeline import RunOptions, segment
from custseg.rundir import write_run
from custseg.scoring import assign_file, export_segments


@pytest.fixture(scope="module")
def model():
    spec = parse_spec(demo_spec_text())
    return CustomerSegmenter(spec, stability_runs=0, k_range=(2, 5)).fit(
        make_customers(800, seed=2)).model_


@pytest.mark.parametrize("chunksize", [7, 100, 10_000])
def test_chunked_assign_equals_whole_assign(model, tmp_path, chunksize):
    df = make_customers(333, seed=8)
    data = tmp_path / "new.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "out.csv"
    summary = assign_file(model, data, out, chunksize=chunksize)
    got = pd.read_csv(out)
    expected, _ = model.assign(pd.read_csv(data))
    assert got["row"].tolist() == list(range(1, 334))
    np.testing.assert_array_equal(got["segment"], expected["segment"])
    np.testing.assert_allclose(got["distance"], expected["distance"])
    assert summary["rows"] == 333
    assert sum(s["count"] for s in summary["segments"]) == 333


def test_unseen_category_is_unfamiliar_not_an_error(model, tmp_path):
    df = make_customers(50, seed=3)
    df.loc[[4, 7], "channel"] = 9  # a channel code the spec does not know
    result, warnings = model.assign(df)
    assert result["unfamiliar"].iloc[[4, 7]].all()
    assert [w.code for w in warnings] == ["unseen-code"]
    assert warnings[0].rows == [5, 8]


def test_far_away_customers_are_unfamiliar(model):
    df = make_customers(20, seed=3)
    df.loc[0, "CLV"] = 1e7
    result, _ = model.assign(df)
    assert bool(result["unfamiliar"].iloc[0]) is True


def test_errors_name_rows_across_chunks(model, tmp_path):
    df = make_customers(30, seed=5)
    df["CLV"] = df["CLV"].astype(object)
    df.loc[24, "CLV"] = "abc"
    data = tmp_path / "bad.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "out.csv"
    with pytest.raises(ValidationError, match=r"row 25: 'abc'"):
        assign_file(model, data, out, chunksize=10)
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_parquet_output_and_existing_target(model, tmp_path):
    df = make_customers(40, seed=6)
    data = tmp_path / "new.parquet"
    df.to_parquet(data)
    out = tmp_path / "out.parquet"
    assign_file(model, data, out, chunksize=15)
    assert len(pd.read_parquet(out)) == 40
    with pytest.raises(ParameterError, match="already exists"):
        assign_file(model, data, out)


@pytest.fixture(scope="module")
def run_with_hostile_ids(tmp_path_factory):
    spec = parse_spec('id = "id"\n' + demo_spec_text())
    df = make_customers(300, seed=1)
    ids = [f"c{i}" for i in range(300)]
    ids[0], ids[1], ids[2] = "=HYPERLINK(\"x\")", "@SUM(A1)", "-2+3"
    df.insert(0, "id", ids)
    out = tmp_path_factory.mktemp("run") / "run"
    result = segment(df, spec, RunOptions(k=3, stability_runs=0, analysis=False))
    write_run(result, out)
    return out, result


def test_exports_neutralise_formulas_like_segments_csv(run_with_hostile_ids, tmp_path):
    out, result = run_with_hostile_ids
    seg0 = int(result.segments["segment"].iloc[0])
    target = tmp_path / "aud.csv"
    summary = export_segments(out, [str(seg0)], target)
    exported = pd.read_csv(target, dtype={"id": str})
    assert summary["rows"] == int((result.segments["segment"] == seg0).sum())
    assert "'=HYPERLINK(\"x\")" in exported["id"].tolist()
    segs = pd.read_csv(out / "segments.csv", dtype={"id": str})
    assert set(exported["id"]) <= set(segs["id"])  # ids match between files
    assert segs["id"].iloc[1] == "'@SUM(A1)" and segs["id"].iloc[2] == "'-2+3"
    raw = tmp_path / "aud.parquet"
    export_segments(out, ["all"], raw)
    assert pd.read_parquet(raw)["id"].iloc[0] == "=HYPERLINK(\"x\")"  # Parquet keeps raw values


def test_export_by_name_and_bad_names(run_with_hostile_ids, tmp_path):
    out, result = run_with_hostile_ids
    name = result.profiles[1]["name"]
    summary = export_segments(out, [name.upper()], tmp_path / "a.csv")
    assert summary["segments"] == [{"segment": 1, "name": name}]
    with pytest.raises(ParameterError, match="is not a segment name"):
        export_segments(out, [name + "zz"], tmp_path / "b.csv")
    with pytest.raises(ParameterError, match="segments 0 to 2"):
        export_segments(out, ["7"], tmp_path / "c.csv")
    with pytest.raises(ParameterError, match="unknown output type"):
        export_segments(out, ["0"], tmp_path / "c.xlsx")
