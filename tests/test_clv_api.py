"""``POST /v1/clv`` of ``custseg serve``, and the ``clv`` section of model.json it reads.

The expected numbers are the library's own scoring of the same histories
(:func:`custseg.clv.predict`, tested against the papers in test_clv.py): here the
route's parsing, validation and error shapes are under test.
"""

from __future__ import annotations

import copy
import json
import warnings

import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import custseg  # noqa: E402
from custseg.api import create_app  # noqa: E402
from custseg.clv import model_section, predict  # noqa: E402
from custseg.clv.flow import clv_file  # noqa: E402
from custseg.datasets import demo_spec_text, make_customers  # noqa: E402
from custseg.datasets.clv import make_clv_transactions  # noqa: E402
from custseg.errors import ModelError  # noqa: E402
from custseg.modelfile import model_from_json, model_to_json  # noqa: E402

_HTTPX_NOTE = "Using `httpx` with `starlette.testclient`"
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=_HTTPX_NOTE)
    from fastapi.testclient import TestClient
pytestmark = pytest.mark.filterwarnings(f"ignore:{_HTTPX_NOTE}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    spec = custseg.parse_spec(demo_spec_text())
    plain = custseg.CustomerSegmenter(spec, stability_runs=0, k_range=(2, 3)).fit(
        make_customers(300, seed=1)).model_
    summary = clv_file(make_clv_transactions(1000, seed=5), tmp_path_factory.mktemp("clv") / "out",
                       report=False).summary
    with_clv = copy.deepcopy(plain)
    with_clv.info["clv"] = model_section(summary)
    return plain, model_from_json(model_to_json(with_clv)), summary


def test_model_json_carries_the_clv_section_as_version_2(models):
    plain, with_clv, summary = models
    assert json.loads(model_to_json(plain))["format_version"] == 1  # unchanged without CLV
    d = json.loads(model_to_json(with_clv))
    assert d["format_version"] == 2 and d["clv"]["params"] == summary["params"]
    d["format_version"] = 1  # a clv section needs version 2 (checksum aside, the schema says so)
    with pytest.raises(ModelError, match="format_version"):
        model_from_json(json.dumps(d))


def test_clv_route_scores_customers(models):
    _, model, summary = models
    client = TestClient(create_app(model))
    customers = [{"id": "a", "frequency": 0, "recency": 0, "T": 100, "monetary_value": 0},
                 {"id": 7, "frequency": 3, "recency": 200.0, "T": 300, "monetary_value": 42.5}]
    r = client.post("/v1/clv", json={"customers": customers})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["model"], body["unit"], body["horizon_months"]) == ("bgnbd", "day", 12.0)
    want = predict(summary, pd.DataFrame(customers).drop(columns="id"))
    for got, (_, row), sent in zip(body["customers"], want.iterrows(), customers, strict=True):
        assert got["id"] == sent["id"]
        for k in ("p_alive", "expected_purchases", "expected_avg_value", "clv"):
            assert got[k] == pytest.approx(row[k], rel=1e-12)
    assert body["customers"][0]["p_alive"] == 1.0  # a one-time buyer under BG/NBD
    one = client.post("/v1/clv", json=customers[1]).json()["customers"]
    assert one == body["customers"][1:]


@pytest.mark.parametrize("customer, message", [
    ({"frequency": -1, "recency": 0, "T": 5, "monetary_value": 0}, "frequency must be a number >= 0"),
    ({"frequency": 1.5, "recency": 1, "T": 5, "monetary_value": 3}, "a whole number"),
    ({"frequency": 2, "recency": 9, "T": 5, "monetary_value": 3},
     "recency (first to last purchase) is more than T"),
    ({"frequency": 0, "recency": 2, "T": 5, "monetary_value": 0}, "recency must be 0 without repeat"),
    ({"frequency": 1, "recency": 2, "T": 5}, "monetary_value must be a number >= 0, got 'None'"),
    ({"frequency": "2", "recency": 2, "T": 5, "monetary_value": 1}, "frequency must be a number"),
])
def test_clv_route_rejects_bad_customers(models, customer, message):
    client = TestClient(create_app(models[1]))
    r = client.post("/v1/clv", json=[{"frequency": 1, "recency": 1, "T": 2, "monetary_value": 5}, customer])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation" and message in err["message"] and "customer 2" in err["message"]
    assert err["problems"][0]["row"] == 2


def test_clv_route_without_a_clv_section(models):
    client = TestClient(create_app(models[0]))
    r = client.post("/v1/clv", json={"frequency": 1, "recency": 1, "T": 2, "monetary_value": 5})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "no-clv"
    assert client.get("/healthz").json()["format_version"] == 1
    assert TestClient(create_app(models[1])).get("/healthz").json()["format_version"] == 2
    r = client.post("/v1/clv", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_openapi_documents_the_clv_body(models):
    doc = TestClient(create_app(models[1])).get("/openapi.json").json()
    shapes = doc["paths"]["/v1/clv"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert shapes["anyOf"][2]["required"] == ["frequency", "recency", "T", "monetary_value"]
