"""assign in chunks and audience exports, including formula neutralisation."""

import numpy as np
import pandas as pd
import pytest

from custseg import CustomerSegmenter, ParameterError, ValidationError, parse_spec
from custseg.datasets import demo_spec_text, make_customers
from custseg.pipeline import RunOptions, segment
from custseg.scoring import assign_file, export_segments
from custseg.workflow import save_run


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
    save_run(result, out)
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


# ------------------------------------------- nearest centroid in bounded memory (#7)
@pytest.mark.parametrize("centres", [1, 5, 2_400, 10**6, 10**9])
def test_nearest_chunk_rows_keep_the_distance_matrix_within_the_budget(centres):
    from custseg.cluster.assign import NEAREST_BUDGET_BYTES, nearest_chunk_rows

    rows = nearest_chunk_rows(centres)
    assert rows >= 1
    assert rows * centres * 8 <= max(NEAREST_BUDGET_BYTES, centres * 8)
    assert nearest_chunk_rows(5) == 262_144 and nearest_chunk_rows(2_400) == 3_495


def test_nearest_centroid_memory_is_bounded_by_the_budget_not_the_rows(monkeypatch):
    import tracemalloc

    from custseg.cluster import assign as model_module

    rng = np.random.default_rng(0)
    Z, E = rng.standard_normal((5_000, 3)), rng.standard_normal((2_400, 3))
    whole = model_module.nearest_centroid(Z, E, chunk=len(Z))  # one 96 MB matrix
    monkeypatch.setattr(model_module, "NEAREST_BUDGET_BYTES", 2**20)
    tracemalloc.start()
    try:
        labels, dist = model_module.nearest_centroid(Z, E)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # numpy reports its buffers to tracemalloc
    np.testing.assert_array_equal(labels, whole[0])
    np.testing.assert_array_equal(dist, whole[1])


# ------------------------------------------------------- the Arrow path of assign_file
def _pandas_only(monkeypatch):
    from custseg import scoring

    def refuse(*args, **kwargs):
        raise scoring._Fallback("test: pandas path")

    monkeypatch.setattr(scoring, "_assign_arrow", refuse)


def _arrow_only(monkeypatch):
    from custseg import scoring

    def refuse(*args, **kwargs):
        raise AssertionError("the Arrow path handed over")

    monkeypatch.setattr(scoring, "_assign_pandas", refuse)


def _both_ways(model, data, tmp_path, monkeypatch, suffix, chunksize, arrow=True):
    """assign_file's summary and output bytes by the Arrow path (or not), then by pandas."""
    results = []
    for way in ("arrow", "pandas"):
        out = tmp_path / f"{way}{suffix}"
        with monkeypatch.context() as m:
            if way == "pandas":
                _pandas_only(m)
            elif arrow:
                _arrow_only(m)
            summary = assign_file(model, data, out, chunksize=chunksize, overwrite=True)
        summary.pop("output")
        results.append((summary, out.read_bytes() if suffix == ".csv" else pd.read_parquet(out)))
    return results


@pytest.fixture(scope="module")
def id_model():
    spec = parse_spec('id = "id"\n' + demo_spec_text())
    df = make_customers(600, seed=2)
    df.insert(0, "id", [f"c{i}" for i in range(600)])
    return CustomerSegmenter(spec, stability_runs=0, k_range=(2, 4)).fit(df).model_


def _new_customers(n, seed, ids=None):
    df = make_customers(n, seed=seed)
    if ids is not None:
        df.insert(0, "id", ids)
    return df


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("source", ["csv", "parquet"])
@pytest.mark.parametrize("chunksize", [7, 100, 10_000])
def test_arrow_path_gives_the_bytes_of_the_pandas_path(model, id_model, tmp_path, monkeypatch,
                                                       suffix, source, chunksize):
    hostile = ["=HYPERLINK(\"x\")", "@SUM(A1)", "-2+3", "-12.5", 'say "hi", ok', "+1", "\tx"]
    cases = [(model, _new_customers(333, seed=8)),
             (id_model, _new_customers(250, seed=9, ids=hostile + [f"n{i}" for i in range(243)])),
             (id_model, _new_customers(120, seed=10, ids=list(range(1000, 1120))))]
    for m, df in cases:
        data = tmp_path / f"new.{source}"
        if source == "csv":
            df.to_csv(data, index=False)
        else:
            df.to_parquet(data)
        (arrow, arrow_out), (pandas_, pandas_out) = _both_ways(m, data, tmp_path, monkeypatch,
                                                              suffix, chunksize)
        assert arrow == pandas_
        if suffix == ".csv":
            assert arrow_out == pandas_out
        else:
            pd.testing.assert_frame_equal(arrow_out, pandas_out, check_dtype=False)


@pytest.mark.parametrize("edit", [
    "unseen channel code", "NaN text", "numbers as text", "zero-padded ids", "duplicate ids",
    "spaces around a code", "negative value", "missing CLV", "semicolons", "latin-1",
])
def test_files_the_arrow_path_hands_over_give_the_pandas_result(id_model, tmp_path, monkeypatch,
                                                                edit):
    df = _new_customers(60, seed=11, ids=[f"{i:03d}" for i in range(60)])
    df["channel"] = df["channel"].astype(object)
    sep, encoding = ",", "utf-8"
    if edit == "unseen channel code":
        df.loc[[3, 40], "channel"] = 9
    elif edit == "NaN text":
        df["minutes_watched"] = df["minutes_watched"].astype(object)
        df.loc[5, "minutes_watched"] = "NaN"
    elif edit == "numbers as text":
        df.loc[7, "channel"] = "2.0"
    elif edit == "zero-padded ids":
        df["id"] = [f"{i:05d}" for i in range(60)]
    elif edit == "duplicate ids":
        df.loc[9, "id"] = df.loc[10, "id"]
    elif edit == "spaces around a code":
        df.loc[2, "channel"] = " 3"
    elif edit == "negative value":
        df.loc[4, "CLV"] = -3.0
    elif edit == "missing CLV":
        df.loc[6, "CLV"] = np.nan
    elif edit == "semicolons":
        sep = ";"
    else:
        df.loc[1, "id"] = "Zoë"
        encoding = "latin-1"
    data = tmp_path / "new.csv"
    df.to_csv(data, index=False, sep=sep, encoding=encoding)
    outcomes = []
    for way in ("auto", "pandas"):
        with monkeypatch.context() as m:
            if way == "pandas":
                _pandas_only(m)
            try:
                summary = assign_file(id_model, data, tmp_path / f"{way}.csv", chunksize=25)
                summary.pop("output")
                outcomes.append((summary, (tmp_path / f"{way}.csv").read_bytes()))
            except ValidationError as exc:
                outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def test_arrow_path_overlaps_reading_and_stops_its_reader_on_error(model, tmp_path):
    import threading

    df = make_customers(500, seed=12)
    df["CLV"] = df["CLV"].astype(object)
    df.loc[450, "CLV"] = "abc"
    data = tmp_path / "bad.csv"
    df.to_csv(data, index=False)
    with pytest.raises(ValidationError, match=r"row 451: 'abc'"):
        assign_file(model, data, tmp_path / "out.csv", chunksize=100)
    assert not (tmp_path / "out.csv").exists()
    assert not [t for t in threading.enumerate() if t.name == "custseg-assign-reader"]


# ------------------------------------------------------------ n_jobs: read-ahead by choice
def _assign_bytes(model, data, out, **kwargs) -> tuple[dict, bytes]:
    summary = assign_file(model, data, out, overwrite=True, **kwargs)
    summary.pop("output")
    return summary, out.read_bytes()


@pytest.mark.parametrize("path", ["arrow", "pandas"])
@pytest.mark.parametrize("source,suffix", [("csv", ".csv"), ("parquet", ".parquet"),
                                           ("csv", ".parquet")])
def test_output_is_the_same_for_any_n_jobs(id_model, tmp_path, monkeypatch, path, source, suffix):
    df = _new_customers(530, seed=13, ids=[f"c{i}" for i in range(530)])
    data = tmp_path / f"new.{source}"
    df.to_csv(data, index=False) if source == "csv" else df.to_parquet(data)
    results = {}
    with monkeypatch.context() as m:
        (_pandas_only if path == "pandas" else _arrow_only)(m)
        for n_jobs in (None, 1, 2, -1):
            results[n_jobs] = _assign_bytes(id_model, data, tmp_path / f"out{suffix}",
                                            chunksize=100, n_jobs=n_jobs)
    assert results[None][0]["rows"] == 530
    for n_jobs in (1, 2, -1):
        assert results[n_jobs] == results[None], n_jobs


@pytest.mark.parametrize("path", ["arrow", "pandas"])
@pytest.mark.parametrize("n_jobs", [None, 1])
def test_one_job_starts_no_thread(model, tmp_path, monkeypatch, path, n_jobs):
    import threading

    import joblib

    def refuse(*args, **kwargs):
        raise AssertionError("a thread or a joblib pool was started with one job")

    data = tmp_path / "new.csv"
    make_customers(250, seed=14).to_csv(data, index=False)
    with monkeypatch.context() as m:
        (_pandas_only if path == "pandas" else _arrow_only)(m)
        m.setattr(threading.Thread, "start", refuse)
        m.setattr(joblib, "Parallel", refuse)
        summary = assign_file(model, data, tmp_path / "out.csv", chunksize=40, n_jobs=n_jobs)
    assert summary["rows"] == 250


@pytest.mark.parametrize("path", ["arrow", "pandas"])
def test_two_jobs_stop_at_the_same_error_and_leave_no_thread(model, tmp_path, monkeypatch, path):
    import threading

    df = make_customers(500, seed=12)
    df["CLV"] = df["CLV"].astype(object)
    df.loc[250, "CLV"] = "abc"
    data = tmp_path / "bad.csv"
    df.to_csv(data, index=False)
    before = set(threading.enumerate())
    errors = []
    with monkeypatch.context() as m:
        if path == "pandas":
            _pandas_only(m)
        for n_jobs in (None, 2):
            with pytest.raises(ValidationError, match=r"row 251: 'abc'") as info:
                assign_file(model, data, tmp_path / "out.csv", chunksize=50, n_jobs=n_jobs)
            errors.append(str(info.value))
            assert not (tmp_path / "out.csv").exists()
            assert not list(tmp_path.glob(".out*"))
    assert errors[0] == errors[1]
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_n_jobs_must_be_a_non_zero_integer_or_none(model, tmp_path, n_jobs):
    data = tmp_path / "new.csv"
    make_customers(10, seed=1).to_csv(data, index=False)
    with pytest.raises(ParameterError, match="'n_jobs' parameter"):
        assign_file(model, data, tmp_path / "out.csv", n_jobs=n_jobs)
    assert not (tmp_path / "out.csv").exists()


def test_in_turn_raises_the_first_failure_in_order_and_closes_the_chunks():
    from custseg.scoring import _in_turn

    closed = []

    def chunks(bad_read: int):
        try:
            for i in range(10):
                if i == bad_read:
                    raise LookupError(f"read {i}")
                yield i
        finally:
            closed.append(True)

    for n_jobs in (None, 2):
        for bad_work, bad_read, error in [(3, 99, "work 3"), (3, 4, "work 3"), (99, 4, "read 4"),
                                          (3, 3, "read 3")]:
            seen = []

            def work(i, bad_work=bad_work, seen=seen):
                if i == bad_work:
                    raise KeyError(f"work {i}")
                seen.append(i)

            closed.clear()
            with pytest.raises((KeyError, LookupError), match=error):
                _in_turn(chunks(bad_read), work, n_jobs=n_jobs)
            assert seen == list(range(min(bad_work, bad_read)))
            assert closed == [True]


# ------------------------------- the Arrow path against the pandas path, every kind of model
@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hdbscan", "kprototypes"])
@pytest.mark.parametrize("variant", ["clean", "missing", "unseen", "missing+unseen", "unlabelled"])
def test_arrow_path_equals_the_pandas_path_for_every_model(varied_models, tmp_path, monkeypatch,
                                                          algorithm, variant):
    """Same summary (segments, unfamiliar, warnings) and bytes; 'unlabelled' (a warning) is
    handed over to pandas, the others stay on the Arrow path."""
    from conftest import varied_customers

    model = varied_models[algorithm]
    df = varied_customers(240, seed=21, missing="missing" in variant, unseen="unseen" in variant,
                          unlabelled=variant == "unlabelled")
    for source in ("csv", "parquet"):
        data = tmp_path / f"new.{source}"
        df.to_csv(data, index=False) if source == "csv" else df.to_parquet(data)
        for suffix in (".csv", ".parquet"):
            (arrow, arrow_out), (pandas_, pandas_out) = _both_ways(
                model, data, tmp_path, monkeypatch, suffix, chunksize=50,
                arrow=variant != "unlabelled")
            assert arrow == pandas_
            if suffix == ".csv":
                assert arrow_out == pandas_out
            else:
                pd.testing.assert_frame_equal(arrow_out, pandas_out, check_dtype=False)
    if "unseen" in variant:
        assert arrow["unfamiliar"] > 0
    if variant == "unlabelled":
        assert [w["code"] for w in arrow["warnings"]] == ["unseen-code"]
