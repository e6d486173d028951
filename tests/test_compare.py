"""Alignment, migration and drift between runs, on data with known changes."""

import numpy as np
import pandas as pd
import pytest

from custseg import CustomerSegmenter, parse_spec
from custseg.compare import _cdf, align_segments, compare_models, compare_to_data, psi
from custseg.datasets import demo_spec_text, make_customers


def fit(df, spec, **kw):
    return CustomerSegmenter(spec, stability_runs=0, **kw).fit(df)


@pytest.fixture(scope="module")
def base():
    spec = parse_spec('id = "id"\n' + demo_spec_text())
    df = make_customers(2000, seed=4)
    df.insert(0, "id", [f"c{i}" for i in range(len(df))])
    return spec, df, fit(df, spec)


def segments_table(seg, df):
    return pd.DataFrame({"id": df["id"].to_numpy()[seg.rows_], "segment": seg.labels_})


def test_psi_hand_example():
    # (0.6-0.5) ln(0.6/0.5) + (0.4-0.5) ln(0.4/0.5) = 0.1*0.18232 + 0.1*0.22314 = 0.040546
    assert psi([0.5, 0.5], [0.6, 0.4]) == pytest.approx(0.0405465, rel=1e-5)
    assert psi([0.3, 0.7], [0.3, 0.7]) == 0.0


def test_cdf_through_percentiles():
    pcts = list(np.linspace(0, 100, 101))  # uniform on [0, 100]
    assert _cdf(pcts, np.array([-1.0, 0.0, 25.0, 50.5, 100.0, 200.0])).tolist() == pytest.approx(
        [0.0, 0.0, 0.25, 0.505, 1.0, 1.0])


def test_a_run_compared_with_itself_shows_no_migration_and_no_drift(base):
    spec, df, seg = base
    t = segments_table(seg, df)
    result = compare_models(seg.model_, seg.model_, t, t)
    assert [m["old"] for m in result["alignment"]["matches"]] == list(range(seg.k_))
    assert all(m["old"] == m["new"] for m in result["alignment"]["matches"])
    assert result["migration"]["moved_share"] == 0.0
    assert np.trace(np.array(result["migration"]["matrix"])) == len(df)
    assert all(d["psi"] == pytest.approx(0.0, abs=1e-12) for d in result["drift"].values())
    assert result["recommendation"]["action"] == "keep"


def test_shifted_data_is_flagged_for_retraining(base):
    spec, df, seg = base
    shifted = df.copy()
    shifted["minutes_watched"] = shifted["minutes_watched"] * 8
    new = fit(shifted, spec)
    result = compare_models(seg.model_, new.model_, segments_table(seg, df),
                            segments_table(new, shifted))
    assert result["drift"]["minutes_watched"]["psi"] > 0.25
    assert result["drift"]["minutes_watched"]["verdict"] == "major shift"
    assert result["drift"]["CLV"]["psi"] < 0.01
    assert result["recommendation"]["action"] == "retrain"
    assert any("minutes_watched shifted" in r for r in result["recommendation"]["reasons"])


def test_model_against_new_data(base):
    spec, df, seg = base
    same = compare_to_data(seg.model_, df)
    assert same["recommendation"]["action"] in ("keep", "monitor")
    assert max(abs(s["change"]) for s in same["size_shifts"]) < 1e-12
    other = make_customers(1500, seed=9)
    other["CLV"] = other["CLV"] * 3
    moved = compare_to_data(seg.model_, other)
    assert moved["drift"]["CLV"]["psi"] > 0.25
    assert moved["recommendation"]["action"] == "retrain"


def test_reference_keeps_numbers_and_names(base):
    spec, df, seg = base
    # a re-run on a different sample of the same population
    again = df.sample(frac=0.9, random_state=1).reset_index(drop=True)
    new = fit(again, spec, reference=seg.model_, random_state=7)
    assert new.reference_matches_["matches"]
    for m in new.reference_matches_["matches"]:
        assert new.segment_names_[m["segment"]] == seg.segment_names_[m["predecessor"]]
        if m["predecessor"] < new.k_:
            assert m["segment"] == m["predecessor"]
    # the same customers keep their segment numbers
    a = pd.Series(seg.labels_, index=df["id"])
    b = pd.Series(new.labels_, index=again["id"])
    both = a.index.intersection(b.index)
    assert (a[both].to_numpy() == b[both].to_numpy()).mean() > 0.95


def test_alignment_detects_a_vanished_segment(base):
    spec, df, seg = base
    # keep only two of the old segments' customers: the rest vanish
    keep = np.isin(seg.labels_, [0, 1])
    sub = df.iloc[seg.rows_[keep]].reset_index(drop=True)
    new = fit(sub, spec, k=2)
    result = align_segments(seg.model_, new.model_)
    assert set(result["vanished"]) >= set(range(2, seg.k_))


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 10_001])
def test_reference_quantiles_equal_numpy(n):
    from custseg.compare import REFERENCE_PERCENTILES, _quantiles

    v = np.random.default_rng(n).lognormal(size=n)
    np.testing.assert_allclose(_quantiles(v, REFERENCE_PERCENTILES),
                               np.quantile(v, REFERENCE_PERCENTILES), rtol=1e-14)
