"""The HTTP API (custseg.api): shapes, limits, errors, a real server, and fuzzing.

Every in-process client here keeps TestClient's default ``raise_server_exceptions=True``,
so a request that reached the last-resort 500 handler would fail its test with the
exception; only ``test_last_resort_handler_answers_500_in_the_same_shape`` turns that
off, on purpose. The schemathesis test checks the same over generated requests.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import socket
import sys
import threading
import time
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


import custseg  # noqa: E402
from conftest import wait_for_healthz  # noqa: E402
from custseg.api import MAX_DEPTH, TOKEN_ENV, create_app, serve  # noqa: E402
from custseg.datasets import demo_spec_text, make_customers  # noqa: E402
from custseg.errors import ModelError, ParameterError  # noqa: E402

# Starlette 1.x asks for httpx2 in its TestClient (it warns on import); httpx still works.
_HTTPX_NOTE = "Using `httpx` with `starlette.testclient`"
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=_HTTPX_NOTE)
    from fastapi.testclient import TestClient
pytestmark = pytest.mark.filterwarnings(f"ignore:{_HTTPX_NOTE}")

ERROR_KEYS = {"status", "code", "message", "problems"}
PROBLEM_KEYS = {"code", "severity", "message", "column", "rows", "count"}
ASSIGNMENT_KEYS = {"row", "id", "segment", "segment_name", "distance", "unfamiliar"}
TOKEN = "s3cret-token"
JSON = {"content-type": "application/json"}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def model() -> custseg.SegmentModel:
    """A small fitted model with an id column and a categorical clustering column.

    The demo spec clusters on minutes_watched and CLV only; region is added to
    ``cluster_on`` so that an unknown region code makes a customer unfamiliar.
    """
    text = demo_spec_text()
    text = text.replace('cluster_on = ["minutes_watched", "CLV"]',
                        'cluster_on = ["minutes_watched", "CLV", "region"]')
    text = text.replace('kind = "customers"', 'kind = "customers"\nid = "customer_id"')
    spec = custseg.parse_spec(text)
    assert spec.id == "customer_id" and "region" in spec.cluster_on
    df = make_customers(500, seed=1)
    df.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(df))])
    seg = custseg.CustomerSegmenter(spec, stability_runs=0, k_range=(2, 4)).fit(df)
    return seg.model_


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    return TestClient(create_app(model))


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "model.json"
    custseg.save_model(model, path)
    return path


def records(n: int = 12, seed: int = 7, ids: bool = True) -> list[dict]:
    """Customers as JSON-ready dicts (NaN becomes None, as JSON has no NaN)."""
    df = make_customers(n, seed=seed)
    if ids:
        df.insert(0, "customer_id", [f"N{i}" for i in range(n)])
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict("records")]


def expected(model, recs: list[dict]) -> list[tuple]:
    """(segment, name, distance, unfamiliar) per customer, straight from SegmentModel.assign."""
    out, _ = model.assign(pd.DataFrame.from_records(recs))
    return [(int(s), str(n), float(d), bool(u)) for s, n, d, u in
            zip(out["segment"], out["segment_name"], out["distance"], out["unfamiliar"],
                strict=True)]


def got(assignments: list[dict]) -> list[tuple]:
    return [(a["segment"], a["segment_name"], a["distance"], a["unfamiliar"]) for a in assignments]


def assert_error(response, status: int, code: str) -> dict:
    """The response is the one error shape, exactly, with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == ERROR_KEYS
    assert err["status"] == status
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert "\n" not in err["message"]
    assert isinstance(err["problems"], list)
    for p in err["problems"]:
        assert set(p) == PROBLEM_KEYS
        assert "\n" not in p["message"]
    return err


# ---------------------------------------------------------------- /v1/assign
def test_list_wrapper_and_single_object_agree_with_model_assign(client, model):
    recs = records(12)
    want = expected(model, recs)
    by_wrapper = client.post("/v1/assign", json={"customers": recs})
    by_list = client.post("/v1/assign", json=recs)
    for r in (by_wrapper, by_list):
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"assignments", "warnings"}
        assert all(set(a) == ASSIGNMENT_KEYS for a in body["assignments"])
        assert got(body["assignments"]) == want
        assert [a["row"] for a in body["assignments"]] == list(range(1, 13))
        assert [a["id"] for a in body["assignments"]] == [f"N{i}" for i in range(12)]
    complete = [i for i, rec in enumerate(recs) if None not in rec.values()]
    assert len(complete) >= 3
    for i in complete[:3]:
        one = client.post("/v1/assign", json=recs[i])
        assert one.status_code == 200, one.text
        (a,) = one.json()["assignments"]
        assert (a["segment"], a["segment_name"], a["distance"], a["unfamiliar"]) == want[i]
        assert a["row"] == 1 and a["id"] == f"N{i}"


def test_without_id_rows_number_the_customers(client, model):
    recs = records(5, seed=3, ids=False)
    r = client.post("/v1/assign", json={"customers": recs})
    assert r.status_code == 200
    body = r.json()["assignments"]
    assert [a["row"] for a in body] == [1, 2, 3, 4, 5]
    assert [a["id"] for a in body] == [None] * 5
    assert got(body) == expected(model, recs)


def test_extra_fields_are_ignored_and_json_suffix_types_accepted(client, model):
    recs = [{**r, "note": "vip", "score": 3} for r in records(3)]
    r = client.post("/v1/assign", content=json.dumps(recs),
                    headers={"content-type": "application/vnd.custseg+json; charset=utf-8"})
    assert r.status_code == 200
    assert got(r.json()["assignments"]) == expected(model, records(3))


def test_unknown_category_code_is_unfamiliar_not_an_error(client):
    customer = {"customer_id": "X", "minutes_watched": 300, "CLV": 119.0, "region": 9}
    r = client.post("/v1/assign", json=customer)
    assert r.status_code == 200
    body = r.json()
    assert body["assignments"][0]["unfamiliar"] is True
    (warning,) = body["warnings"]
    assert warning["code"] == "unseen-code" and warning["column"] == "region"
    assert warning["rows"] == [1] and warning["severity"] == "warning"


@pytest.mark.parametrize("body", [[], {"customers": []}], ids=["list", "wrapper"])
def test_empty_list_answers_200_with_no_assignments(client, body):
    # Documented choice: an empty batch is not an error.
    r = client.post("/v1/assign", json=body)
    assert r.status_code == 200
    assert r.json() == {"assignments": [], "warnings": []}


def test_numbers_as_strings_and_empty_cells_follow_the_spec(client, model):
    # minutes_watched empty -> missing = "zero"; CLV and region given as text.
    batch = [{"minutes_watched": None, "CLV": "119.00", "region": "1"},
             {"minutes_watched": 30, "CLV": 62.58, "region": 2}]
    r = client.post("/v1/assign", json=batch)
    assert r.status_code == 200
    want = expected(model, [{"minutes_watched": 0.0, "CLV": 119.0, "region": 1}, batch[1]])
    assert got(r.json()["assignments"]) == want


def test_one_customer_with_an_empty_cell_answers_as_model_assign_does(client, model):
    # SegmentModel.assign currently refuses a column that is empty in every row
    # ("entirely empty"), even when its missing policy could fill it -- and one
    # customer with a null is such a column. The API must answer exactly as the
    # library does, whichever way that goes.
    customer = {"minutes_watched": None, "CLV": 119.0, "region": 1}
    r = client.post("/v1/assign", json=customer)
    try:
        want = expected(model, [customer])
    except custseg.ValidationError as exc:
        err = assert_error(r, 422, "validation")
        assert err["message"] == exc.message
    else:
        assert r.status_code == 200
        assert got(r.json()["assignments"]) == want


# ------------------------------------------------------------- bad requests
GOOD = {"customer_id": "A", "minutes_watched": 120, "CLV": 80.0, "region": 1}
DEEP_LISTS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
SHALLOW_BUT_TOO_DEEP = json.dumps({**GOOD, "CLV": json.loads("[" * 40 + "]" * 40)}).encode()


def _post(**kw):
    return ("POST", "/v1/assign", kw)


BAD_REQUESTS = [
    # id, (method, path, kwargs), status, code, words the message must hold
    ("invalid-json", _post(content=b"{", headers=JSON), 400, "invalid-json", ["not valid JSON"]),
    ("truncated-json", _post(content=b'[{"CLV": 1', headers=JSON), 400, "invalid-json", []),
    ("empty-body", _post(content=b"", headers=JSON), 400, "invalid-json", ["empty"]),
    ("nan-literal", _post(content=b'{"CLV": NaN}', headers=JSON), 400, "invalid-json", ["NaN"]),
    ("not-utf8", _post(content=b'{"CLV": "\xff"}', headers=JSON), 400, "invalid-json", []),
    ("5000-digit-int", _post(content=b'{"CLV": ' + b"9" * 5000 + b"}", headers=JSON), 400,
     "invalid-json", []),
    ("100k-nested-lists", _post(content=DEEP_LISTS, headers=JSON), 400, "too-deep", ["nested"]),
    ("100k-nested-objects", _post(content=DEEP_OBJECTS, headers=JSON), 400, "too-deep", []),
    ("40-levels-in-a-field", _post(content=SHALLOW_BUT_TOO_DEEP, headers=JSON), 400, "too-deep",
     [str(MAX_DEPTH)]),
    ("text-plain", _post(content=b"{}", headers={"content-type": "text/plain"}), 415,
     "unsupported-media-type", ["text/plain", "application/json"]),
    ("no-content-type", _post(content=b"{}"), 415, "unsupported-media-type", []),
    ("form", _post(data={"CLV": "1"}), 415, "unsupported-media-type", []),
    ("body-is-number", _post(json=42), 422, "validation", ["a number"]),
    ("body-is-null", _post(content=b"null", headers=JSON), 422, "validation", ["null"]),
    ("body-is-string", _post(json="hello"), 422, "validation", ["a string"]),
    ("entry-not-object", _post(json=[GOOD, 7]), 422, "validation", ["row 2", "JSON object"]),
    ("field-is-array", _post(json=[GOOD, {**GOOD, "customer_id": "B", "CLV": [1, 2]}]), 422,
     "validation", ["'CLV'", "row 2", "an array"]),
    ("field-is-object", _post(json={**GOOD, "region": {"code": 1}}), 422, "validation",
     ["'region'", "row 1", "an object"]),
    ("wrapper-extra-key", _post(json={"customers": [GOOD], "dry_run": True}), 422, "validation",
     ["'dry_run'"]),
    ("clv-not-numeric", _post(json=[GOOD, {**GOOD, "customer_id": "B", "CLV": "lots"}]), 422,
     "validation", ["'CLV'", "row 2", "non-numeric"]),
    ("clv-negative", _post(json=[{**GOOD, "CLV": -5.0}]), 422, "validation",
     ["'CLV'", "negative", "row 1"]),
    ("clv-empty", _post(json=[{**GOOD, "CLV": None}]), 422, "validation", ["'CLV'", "empty"]),
    ("clv-infinite", _post(content=b'{"minutes_watched": 1, "CLV": 1e999, "region": 1}',
                           headers=JSON), 422, "validation", ["'CLV'"]),
    ("clv-overflows-distance", _post(json=[GOOD, {**GOOD, "customer_id": "B", "CLV": 1e300}]),
     422, "validation", ["row 2", "'CLV'", "beyond 1e+15"]),
    ("missing-column", _post(json={"minutes_watched": 5, "region": 1}), 422, "validation",
     ["'CLV'", "missing"]),
    ("duplicate-id", _post(json=[GOOD, GOOD]), 422, "validation", ["customer_id", "sharing"]),
    ("huge-cell", _post(json={**GOOD, "CLV": "9" * 20_000}), 422, "validation", ["longer"]),
    ("unknown-route", ("GET", "/v2/assign", {}), 404, "not-found", ["/v1/assign"]),
    ("unknown-route-post", ("POST", "/nope", {"json": GOOD}), 404, "not-found", []),
    ("get-assign", ("GET", "/v1/assign", {}), 405, "method-not-allowed", ["POST"]),
    ("post-segments", ("POST", "/v1/segments", {"json": GOOD}), 405, "method-not-allowed", []),
    ("delete-healthz", ("DELETE", "/healthz", {}), 405, "method-not-allowed", []),
]


@pytest.mark.parametrize(("request_", "status", "code", "words"),
                         [pytest.param(*row[1:], id=row[0]) for row in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_in_the_one_error_shape(client, request_, status, code, words):
    method, path, kwargs = request_
    err = assert_error(client.request(method, path, **kwargs), status, code)
    for word in words:
        assert word in err["message"], err["message"]


def test_validation_problems_name_column_and_row(client):
    bad = [GOOD, {**GOOD, "customer_id": "B", "CLV": "lots"}, {**GOOD, "customer_id": "C",
                                                               "CLV": -1}]
    err = assert_error(client.post("/v1/assign", json=bad), 422, "validation")
    by_code = {p["code"]: p for p in err["problems"]}
    assert by_code["not-numeric"]["column"] == "CLV" and by_code["not-numeric"]["rows"] == [2]
    assert by_code["negative"]["column"] == "CLV" and by_code["negative"]["rows"] == [3]
    assert err["message"].startswith("2 problems in the data")


@pytest.mark.parametrize("body", [{}, [{}], [{"note": "x"}, {"note": "y"}]],
                         ids=["object", "list", "only-unknown-fields"])
def test_customers_without_known_fields_are_missing_columns_not_no_rows(client, body):
    err = assert_error(client.post("/v1/assign", json=body), 422, "validation")
    codes = [p["code"] for p in err["problems"]]
    assert codes == ["missing-column"] * 3
    assert {p["column"] for p in err["problems"]} == {"minutes_watched", "CLV", "region"}


def test_wrong_types_list_every_field_and_row(client):
    bad = [{**GOOD, "customer_id": str(i), "CLV": [i]} for i in range(5)]
    bad[3]["region"] = {"x": 1}
    err = assert_error(client.post("/v1/assign", json={"customers": bad}), 422, "validation")
    by_column = {p["column"]: p for p in err["problems"]}
    assert by_column["CLV"]["rows"] == [1, 2, 3] and by_column["CLV"]["count"] == 5
    assert by_column["region"]["rows"] == [4]
    assert all(p["code"] == "wrong-type" for p in err["problems"])


def test_wrong_types_in_many_fields_give_a_bounded_answer(client):
    bad = {**GOOD, **{f"f{i}": [i] for i in range(5000)}}
    err = assert_error(client.post("/v1/assign", json=bad), 422, "validation")
    assert len(err["problems"]) == 11
    assert err["problems"][-1]["message"].startswith("4990 more fields")


# ----------------------------------------------------------------- limits
def test_body_over_the_limit_is_refused_from_content_length(model):
    small = TestClient(create_app(model, max_body_bytes=2_000))
    body = json.dumps({"customers": records(40)}).encode()
    assert len(body) > 2_000
    err = assert_error(small.post("/v1/assign", content=body, headers=JSON), 413,
                       "payload-too-large")
    assert "2,000 bytes" in err["message"]


def test_streamed_body_over_the_limit_is_refused_while_counting(model):
    small = TestClient(create_app(model, max_body_bytes=2_000))
    chunks = [b"[" + b" " * 999] + [b" " * 1000] * 5 + [b"]"]  # no Content-Length: chunked
    r = small.post("/v1/assign", content=iter(chunks), headers=JSON)
    assert_error(r, 413, "payload-too-large")


def test_size_limit_is_checked_before_the_app_reads_or_parses():
    """At the ASGI level: an oversized Content-Length is answered without one receive()."""

    async def run():
        from custseg.api.guard import Guard as _Guard

        async def app(scope, receive, send):  # must never be reached
            raise AssertionError("the app was called")

        received = []

        async def receive():
            received.append(1)
            return {"type": "http.request", "body": b"x" * 10, "more_body": True}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/assign",
                 "headers": [(b"content-length", b"5000")]}
        await _Guard(app, token=None, max_body_bytes=100)(scope, receive, send)
        return received, sent

    received, sent = asyncio.run(run())
    assert received == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload-too-large"


def test_too_many_customers_is_413(model):
    small = TestClient(create_app(model, max_records=5))
    assert small.post("/v1/assign", json=records(5)).status_code == 200
    err = assert_error(small.post("/v1/assign", json=records(6)), 413, "too-many-records")
    assert "(5)" in err["message"]


# ------------------------------------------------------------------ token
@pytest.fixture(scope="module")
def locked(model) -> TestClient:
    return TestClient(create_app(model, token=TOKEN))


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"authorization": "Bearer wrong"}, 401),
    ({"authorization": f"Bearer {TOKEN}x"}, 401),
    ({"authorization": f"Basic {TOKEN}"}, 401),
    ({"authorization": TOKEN}, 401),
    ({"authorization": "Bearer"}, 401),
    ({"authorization": b"Bearer caf\xe9"}, 401),
    ({"authorization": f"Bearer {TOKEN}"}, 200),
    ({"authorization": f"bearer {TOKEN}"}, 200),
], ids=["none", "wrong", "longer", "basic", "no-scheme", "empty", "non-ascii", "right",
        "lowercase-scheme"])
def test_token_is_required_on_every_path_but_healthz(locked, headers, status):
    for method, path, kwargs in [("POST", "/v1/assign", {"json": GOOD}),
                                 ("GET", "/v1/segments", {}), ("GET", "/openapi.json", {})]:
        r = locked.request(method, path, headers=headers, **kwargs)
        if status == 401:
            assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
        else:
            assert r.status_code == 200, r.text
    assert locked.get("/healthz").status_code == 200


def test_token_is_checked_before_routing(locked):
    assert_error(locked.get("/nope"), 401, "unauthorized")
    assert_error(locked.get("/nope", headers={"authorization": f"Bearer {TOKEN}"}), 404,
                 "not-found")


# ---------------------------------------------------- other endpoints, docs
def test_segments_lists_names_sizes_and_centroids(client, model):
    body = client.get("/v1/segments").json()
    assert body["k"] == model.k and body["algorithm"] == "kmeans"
    assert body["cluster_on"] == ["minutes_watched", "CLV", "region"]
    assert body["id_column"] == "customer_id"
    segs = body["segments"]
    assert [s["segment"] for s in segs] == list(range(model.k))
    assert [s["name"] for s in segs] == model.names
    assert [s["size"] for s in segs] == model.info["training"]["sizes"]
    assert sum(s["size"] for s in segs) == 500
    assert math.isclose(sum(s["share"] for s in segs), 1.0)
    centroids = model.features.inverse_numeric(model.centers)
    for s in segs:
        assert set(s["centroid"]) == {"minutes_watched", "CLV"}  # numeric columns only
        for col, value in s["centroid"].items():
            assert math.isclose(value, centroids[col][s["segment"]])
        assert set(s["distance_quantiles"]) == {"0.5", "0.9", "0.95", "0.99"}


def test_healthz(client, model):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "k": model.k, "format_version": 1}


def test_openapi_documents_request_responses_and_errors(client):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {"/v1/assign", "/v1/segments", "/v1/clv", "/healthz"}
    schemas = doc["components"]["schemas"]
    customer = schemas["Customer"]
    assert set(customer["properties"]) == {"customer_id", "minutes_watched", "CLV", "region"}
    assert customer["required"] == ["minutes_watched", "CLV", "region"]
    assert "Western Europe" in customer["properties"]["region"]["description"]
    post = doc["paths"]["/v1/assign"]["post"]
    shapes = post["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert shapes[0] == {"$ref": "#/components/schemas/AssignRequest"}
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AssignResponse"}
    for status in ("400", "401", "413", "415", "422"):
        err = post["responses"][status]["content"]["application/json"]["schema"]
        assert err == {"$ref": "#/components/schemas/ErrorResponse"}
    detail = schemas["ErrorDetail"]
    assert set(detail["properties"]) == ERROR_KEYS and set(detail["required"]) == ERROR_KEYS
    assert set(schemas["Assignment"]["properties"]) == ASSIGNMENT_KEYS
    assert "99 %" in schemas["Assignment"]["properties"]["unfamiliar"]["description"]
    assert "the fix" in detail["properties"]["message"]["description"]
    assert "security" not in post


def test_every_field_description_reaches_openapi(client):
    from custseg.api.schemas import FIELD_DOCS, Health, described

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert len(FIELD_DOCS) == 7
    for shape, fields in FIELD_DOCS.items():
        for field, text in fields.items():
            assert schemas[shape]["properties"][field]["description"] == text
    with pytest.raises(TypeError, match="Health has no field 'nope'"):
        described(nope="a description of nothing")(Health)


def test_openapi_declares_the_bearer_scheme_when_locked(locked):
    doc = locked.get("/openapi.json", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/v1/assign"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/healthz"]["get"]


# ---------------------------------------------------------- the last resort
def test_last_resort_handler_answers_500_in_the_same_shape(model):
    broken = copy.copy(model)

    def assign(*args, **kw):
        raise RuntimeError("secret internal detail")

    broken.assign = assign
    broken.segments_of = assign  # the plain path (few clean customers) does not call assign
    c = TestClient(create_app(broken), raise_server_exceptions=False)
    err = assert_error(c.post("/v1/assign", json=GOOD), 500, "internal")
    assert "bug" in err["message"] and "secret" not in err["message"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"token": ""}, "token"),
    ({"token": 123}, "token"),
    ({"max_body_bytes": 0}, "max_body_bytes"),
    ({"max_records": -1}, "max_records"),
    ({"max_records": True}, "max_records"),
])
def test_create_app_rejects_bad_parameters(model, kwargs, words):
    with pytest.raises(ParameterError, match=words):
        create_app(model, **kwargs)


# -------------------------------------------------------------------- serve
def test_serve_without_the_api_extra_says_how_to_install_it(model_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    with pytest.raises(ParameterError, match="custseg serve needs the api extra") as info:
        serve(model_path)
    assert info.value.problem == "custseg serve needs the api extra"
    assert info.value.fix == 'pip install "custseg[api]"'


def test_module_imports_without_the_api_extra(model, monkeypatch):
    """custseg.cli imports custseg.api for `serve`: that must work without fastapi."""
    import importlib

    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "custseg.api")
    bare = importlib.import_module("custseg.api")
    with pytest.raises(ParameterError, match="needs the api extra") as info:
        bare.create_app(model)
    assert info.value.fix == 'pip install "custseg[api]"'


def test_serve_reports_a_missing_model(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        serve(tmp_path / "nope.json")


def test_serve_reports_a_port_in_use(model_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ParameterError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(model_path, port=port)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serve_reports_a_missing_model(tmp_path):
    from typer.testing import CliRunner

    from custseg.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_real_server_assigns_and_shuts_down_cleanly(model_path, model, monkeypatch):
    """custseg.api.serve runs a real uvicorn on loopback (in a thread, to stay fast).

    A subclass of uvicorn.Server records the instance so the test can check its
    configuration and stop it the way a signal would (``should_exit``).
    """
    import uvicorn

    servers: list[uvicorn.Server] = []

    class Recorded(uvicorn.Server):
        def __init__(self, config):
            super().__init__(config)
            servers.append(self)

    monkeypatch.setattr(uvicorn, "Server", Recorded)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("CUSTSEG_MODEL_KEY", raising=False)
    port = _free_port()
    failures: list[BaseException] = []

    def run():
        try:
            serve(model_path, host="127.0.0.1", port=port)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=run, name="custseg-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_healthz(base, thread, failures)
        recs = records(8)
        with httpx.Client(base_url=base, timeout=5) as http:
            assert_error(http.post("/v1/assign", json=recs), 401, "unauthorized")
            r = http.post("/v1/assign", json={"customers": recs},
                          headers={"authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200, r.text
            assert got(r.json()["assignments"]) == expected(model, recs)
            assert "server" not in r.headers
            assert_error(http.post("/v1/assign", content=b"[" * 50_000,
                                   headers={**JSON, "authorization": f"Bearer {TOKEN}"}),
                         400, "too-deep")
    finally:
        stopping = time.monotonic()
        for server in servers:
            server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop within 10 s"
    assert time.monotonic() - stopping < 10
    assert failures == []
    (server,) = servers
    config = server.config
    assert (config.workers, config.access_log, config.limit_concurrency) == (1, False, 32)
    assert config.timeout_keep_alive <= 5


# ---------------------------------------------------------------- fuzzing
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(model):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(model))


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_never_get_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])


# ------------------------------------------------- the plain path (no pandas)
def _pandas_answer(model, recs, monkeypatch):
    from custseg import api
    from custseg.api import plain

    with monkeypatch.context() as m:
        m.setattr(plain, "PLAIN_MAX_RECORDS", 0)
        try:
            return api.assign_records(model, recs)
        except custseg.CustsegError as exc:
            return type(exc)


def _plain_answer(model, recs):
    from custseg.api import plain

    try:
        return plain.assign_plain(model, recs)
    except plain.Unplain:
        return None


def test_plain_path_answers_clean_customers_as_the_pandas_path(model, monkeypatch):
    for recs in (records(12), records(1, seed=4), records(40, seed=5, ids=False),
                 [{**r, "region": str(r["region"])} for r in records(6, seed=6)],
                 [{**r, "customer_id": i} for i, r in enumerate(records(6, seed=9))]):
        plain = _plain_answer(model, recs)
        assert plain is not None
        assert plain == _pandas_answer(model, recs, monkeypatch)


@pytest.mark.parametrize("change", [
    {"CLV": "119.00"}, {"CLV": None}, {"CLV": -1.0}, {"CLV": 1e16}, {"CLV": True},
    {"region": 9}, {"region": 1.0}, {"region": True}, {"customer_id": None},
    {"customer_id": 1.5}, {"minutes_watched": 1e400},
], ids=str)
def test_plain_path_hands_over_whenever_pandas_could_differ(model, change):
    recs = [{**r, **change} if i == 1 else r for i, r in enumerate(records(3))]
    assert _plain_answer(model, recs) is None


_VALUE = st.one_of(st.none(), st.integers(-5, 3000), st.floats(-5, 5000, allow_nan=False),
                   st.sampled_from(["0", "1", "2", " 1", "", "x", "12.5", "1e3"]), st.booleans())


@settings(max_examples=60, deadline=None, database=None)
@given(rows=st.lists(st.fixed_dictionaries(
    {"minutes_watched": _VALUE, "CLV": _VALUE, "region": _VALUE},
    optional={"customer_id": st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"])),
              "channel": _VALUE}), min_size=1, max_size=4))
def test_plain_path_never_disagrees_with_the_pandas_path(model, rows):
    plain = _plain_answer(model, rows)
    if plain is None:
        return
    with pytest.MonkeyPatch.context() as m:
        assert plain == _pandas_answer(model, rows, m)


# ------------------------------- the plain path against the pandas path, every kind of model
def _json_ready(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict("records")]


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hdbscan", "kprototypes"])
@pytest.mark.parametrize("variant", ["clean", "missing", "unseen", "missing+unseen", "unlabelled"])
def test_plain_path_equals_the_pandas_path_for_every_model(varied_models, monkeypatch, algorithm,
                                                          variant):
    """Same segments, distances, unfamiliar flags and warnings (none); a code outside a
    column's labels (a warning) is handed over to the pandas path, which words it."""
    from conftest import varied_customers

    model = varied_models[algorithm]
    recs = _json_ready(varied_customers(60, seed=22, missing="missing" in variant,
                                        unseen="unseen" in variant,
                                        unlabelled=variant == "unlabelled"))
    for batch in (recs[:1], recs[:7], recs):
        plain = _plain_answer(model, batch)
        pandas_ = _pandas_answer(model, batch, monkeypatch)
        if variant == "unlabelled" and len(batch) > 4:
            assert plain is None
            assert [w["code"] for w in pandas_["warnings"]] == ["unseen-code"]
            continue
        assert plain is not None
        assert plain == pandas_
    if "unseen" in variant:
        assert any(a["unfamiliar"] for a in plain["assignments"])


_VARIED_VALUE = st.one_of(st.none(), st.integers(-3, 3000), st.floats(-3, 5000, allow_nan=False),
                          st.sampled_from(["0", "1", "2", " 1", "", "x", "12.5", "basic", "pro",
                                           "gold", "monthly", "weekly", "yearly"]), st.booleans())
# mostly what the plain path answers (numbers, codes, empty cells), sometimes anything
_VARIED_NUMBER = st.one_of(st.none(), st.integers(0, 3000), st.floats(0, 5000, allow_nan=False),
                           st.floats(0, 1e6, allow_nan=False), _VARIED_VALUE)
_VARIED_CODE = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(
    ["basic", "plus", "pro", "gold", " pro ", "", "monthly", "yearly", "weekly", "0", "2"]),
    _VARIED_VALUE)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "hdbscan", "kprototypes"])
@settings(max_examples=60, deadline=None, database=None)
@given(rows=st.lists(st.fixed_dictionaries(
    {"minutes_watched": _VARIED_NUMBER, "CLV": _VARIED_NUMBER, "tier": _VARIED_CODE},
    optional={"customer_id": st.one_of(st.integers(0, 10**6), st.sampled_from(["a", "b"])),
              "region": st.one_of(st.integers(0, 2), _VARIED_CODE), "plan": _VARIED_CODE}),
    min_size=1, max_size=4))
def test_plain_path_never_disagrees_with_the_pandas_path_for_any_model(varied_models, algorithm,
                                                                      rows):
    model = varied_models[algorithm]
    plain = _plain_answer(model, rows)
    if plain is None:
        return
    with pytest.MonkeyPatch.context() as m:
        assert plain == _pandas_answer(model, rows, m)
