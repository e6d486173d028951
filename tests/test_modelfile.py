"""model.json: round trip, checksum, version and signature checks."""

import json

import numpy as np
import pytest

from custseg import CustomerSegmenter, ModelError, load_model, parse_spec
from custseg.modelfile import model_from_json, model_to_json
from test_segmenter import SPEC, blobs


@pytest.fixture(scope="module")
def fitted():
    df, _ = blobs()
    return df, CustomerSegmenter(parse_spec(SPEC), stability_runs=0).fit(df)


def test_save_load_gives_identical_assignments(fitted, tmp_path):
    df, seg = fitted
    path = tmp_path / "model.json"
    path.write_text(model_to_json(seg.model_))
    model = load_model(path)
    from custseg.validate import check

    typed = check(df, model.spec, min_rows=1).frame
    out = model.assign_typed(typed)
    np.testing.assert_array_equal(out["segment"].to_numpy(), seg.labels_)
    np.testing.assert_allclose(out["distance"].to_numpy(), seg.distances_, rtol=1e-12)
    assert list(out["segment_name"].unique()) == [seg.segment_names_[s]
                                                  for s in pd_unique(seg.labels_)]
    # written twice -> byte-identical
    assert model_to_json(model) == path.read_text()


def pd_unique(a):
    seen = []
    for x in a:
        if x not in seen:
            seen.append(x)
    return seen


def test_plain_json_without_code(fitted):
    text = model_to_json(fitted[1].model_)
    d = json.loads(text)
    assert d["format_version"] == 1
    assert d["checksum"].startswith("sha256:")
    assert len(d["centers"]) == 3
    assert set(d["distance_quantiles"][0]) == {"0.5", "0.9", "0.95", "0.99"}


def test_tampered_model_fails_checksum(fitted):
    d = json.loads(model_to_json(fitted[1].model_))
    d["centers"][0][0] += 1.0
    with pytest.raises(ModelError, match="failed its checksum"):
        model_from_json(json.dumps(d))


def test_truncated_model(fitted):
    text = model_to_json(fitted[1].model_)
    with pytest.raises(ModelError, match="not valid JSON") as info:
        model_from_json(text[: len(text) // 2])
    assert "\n" not in str(info.value)


def test_newer_format_version(fitted):
    d = json.loads(model_to_json(fitted[1].model_))
    d["format_version"] = 99
    with pytest.raises(ModelError, match="format version 99, newer"):
        model_from_json(json.dumps(d))


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.json")


def test_hmac_signature(fitted, monkeypatch):
    unsigned = model_to_json(fitted[1].model_)
    monkeypatch.setenv("CUSTSEG_MODEL_KEY", "secret-1")
    signed = model_to_json(fitted[1].model_)
    assert json.loads(signed)["signature"].startswith("hmac-sha256:")
    model_from_json(signed)  # loads
    with pytest.raises(ModelError, match="not signed with the key"):
        model_from_json(unsigned)
    monkeypatch.setenv("CUSTSEG_MODEL_KEY", "other-key")
    with pytest.raises(ModelError, match="not signed with the key"):
        model_from_json(signed)


def _resign(d):
    import hashlib

    from custseg.modelfile import _canonical

    d["checksum"] = "sha256:" + hashlib.sha256(_canonical(d)).hexdigest()
    return json.dumps(d)


def test_schema_violation_behind_a_valid_checksum(fitted):
    d = json.loads(model_to_json(fitted[1].model_))
    d["centers"][0][0] = "1; import os"  # a string where a number belongs
    with pytest.raises(ModelError, match=r"does not match the model schema at centers/0/0"):
        model_from_json(_resign(d))


def test_inconsistent_sizes_behind_a_valid_checksum(fitted):
    d = json.loads(model_to_json(fitted[1].model_))
    d["names"] = d["names"][:-1]
    with pytest.raises(ModelError, match="inconsistent"):
        model_from_json(_resign(d))


def test_unknown_top_level_key_is_refused(fitted):
    d = json.loads(model_to_json(fitted[1].model_))
    d["__class__"] = "os.system"
    with pytest.raises(ModelError, match="Additional properties"):
        model_from_json(_resign(d))
