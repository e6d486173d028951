"""The HTTP API: assign customers to the segments of a fitted model.

Run it with ``custseg serve model.json`` (uvicorn, one worker), or build the ASGI
app yourself with :func:`create_app` and serve it however you like. Needs the
``api`` extra: ``pip install "custseg[api]"``.

Endpoints (JSON in, JSON out; the OpenAPI document is at ``/openapi.json``, the
interactive docs at ``/docs``):

``POST /v1/assign``
    Body: ``{"customers": [{...}, ...]}`` (the documented shape), or for
    convenience one customer object, or a bare list of them. A customer's fields
    are the model's columns (the spec's id column is optional; fields the model
    does not use are ignored); each value is a string, number, boolean or
    ``null`` (an empty cell, handled by the column's missing policy). Answer:
    ``{"assignments": [{"row", "id", "segment", "segment_name", "distance",
    "unfamiliar"}], "warnings": [problem, ...]}`` in request order; ``row``
    counts customers from 1 (the numbering of error messages), ``id`` echoes the
    spec's id column or is ``null``. An empty list is not an error: it answers
    ``200`` with no assignments. Customers left out by a ``missing = "drop"``
    policy get segment -1, an empty name, distance ``null`` and unfamiliar true.
``GET /v1/segments``
    The segments: name, training size and share, centroid of every numeric
    clustering column in original units, and distance quantiles.
``GET /healthz``
    ``{"status": "ok", "k": ..., "format_version": ...}``; never needs the token.

Every error answer, 4xx and 5xx alike, has one shape::

    {"error": {"status": 422, "code": "validation", "message": "one line",
               "problems": [{"code", "severity", "message", "column", "rows", "count"}]}}

``problems`` lists what validation found (empty for other errors). Bad input
is always a 4xx: 400 unreadable or too deeply nested JSON, 401 missing or wrong
bearer token, 404 unknown route, 405 wrong method, 408 body not received in time,
413 body over the byte limit or more customers than allowed, 415 not JSON, 422 data the
model cannot assign
(any :class:`~custseg.errors.CustsegError`). A 500 means a bug in custseg.

Limits: the byte limit is checked before anything is parsed (the
Content-Length header, and the bytes actually received); JSON deeper than
:data:`MAX_DEPTH` levels is refused. Parsing and assigning run in worker threads,
at most :data:`WORK_THREADS` at a time, so the event loop keeps answering. Slow
clients cannot hold the server: a body must arrive within :data:`BODY_SECONDS`
(408 otherwise), and under ``serve`` a connection that sends no complete request
head within :data:`HEAD_SECONDS` is closed. (More than :data:`LIMIT_CONCURRENCY`
connections at once still get uvicorn's plain-text 503.)

Security: with a token (``create_app(token=...)``; ``custseg serve`` reads
:data:`TOKEN_ENV`) every path but ``/healthz`` needs ``Authorization: Bearer
<token>``, compared in constant time. Without one, anyone who can reach the port
can use the API: ``serve`` listens on 127.0.0.1 by default.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations
# at run time, and ``Request`` is imported inside create_app (the extra is optional).
import ast
import functools
import hmac
import inspect
import json
import logging
import os
import socket
import sys
from typing import Any, Literal

try:  # pydantic needs typing_extensions' TypedDict on Python < 3.12; it comes with the api extra
    from typing_extensions import TypedDict
except ImportError:  # pragma: no cover - without the extra the API cannot run anyway
    from typing import TypedDict

import numpy as np
import pandas as pd

from . import __version__
from .errors import CustsegError, ParameterError, Problem, ValidationError
from .model import FORMAT_VERSION, SegmentModel

__all__ = ["create_app", "serve", "ApiError", "TOKEN_ENV", "MAX_DEPTH", "WORK_THREADS",
           "BODY_SECONDS", "HEAD_SECONDS"]

TOKEN_ENV = "CUSTSEG_API_TOKEN"
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body."""
WORK_THREADS = 4
"""Requests parsed and assigned at the same time (bounds memory as well as CPU)."""
LIMIT_CONCURRENCY = 32
"""Connections uvicorn accepts at once under ``serve``; more get 503."""
KEEP_ALIVE_SECONDS = 2
SHUTDOWN_SECONDS = 5
BODY_SECONDS = 30.0
"""A request body must arrive whole within this many seconds of the app starting to read
it; a client that stalls or trickles it gets 408 and its connection is closed."""
HEAD_SECONDS = 10.0
"""Under ``serve``, a connection must send a complete request head (request line and
headers) within this many seconds of opening, and of each answer; otherwise it is closed.
Without it, a few dozen idle or trickling connections would hold every slot of
:data:`LIMIT_CONCURRENCY` and everyone else would get 503."""

_OPEN_PATHS = frozenset({"/healthz"})
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAX_EXAMPLES = 3
_MAX_FIELD_PROBLEMS = 10
_ROUTES_TEXT = "POST /v1/assign, GET /v1/segments, GET /healthz (see /openapi.json)"
_STATUS_CODES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 408: "timeout", 413: "payload-too-large",
    415: "unsupported-media-type", 422: "validation", 429: "too-many-requests",
}


# ------------------------------------------------------------ response shapes
# TypedDicts rather than pydantic models, so this module imports without the
# api extra; FastAPI documents them in /openapi.json all the same. The string under
# a field becomes its description there (see _field_docs; pydantic's own
# use_attribute_docstrings re-reads this file for every app, ~0.7 s each).


class ProblemOut(TypedDict):
    """One finding of validation."""

    code: str
    """What kind of problem, e.g. ``not-numeric``, ``missing-column``, ``unseen-code``."""
    severity: Literal["error", "warning"]
    message: str
    """One line: what is wrong, where, and the fix."""
    column: str | None
    rows: list[int]
    """Example rows (customers counted from 1 in request order)."""
    count: int
    """How many rows have the problem."""


class ErrorDetail(TypedDict):
    """What went wrong."""

    status: int
    """The HTTP status code, repeated."""
    code: str
    """Machine-readable kind, e.g. ``validation``, ``invalid-json``, ``payload-too-large``."""
    message: str
    """One line for a human: what is wrong, where, and the fix."""
    problems: list[ProblemOut]
    """Every problem validation found (empty for other errors)."""


class ErrorResponse(TypedDict):
    """The one shape of every error answer."""

    error: ErrorDetail


class Assignment(TypedDict):
    """The segment of one customer."""

    row: int
    """Position of the customer in the request, counted from 1."""
    id: str | int | float | bool | None
    """The customer's value of the spec's id column, or null when it has none."""
    segment: int
    """Segment number from 0, or -1 for a customer left out by a missing = "drop" policy."""
    segment_name: str
    distance: float | None
    """Euclidean distance to the segment's centroid in feature space (null when left out)."""
    unfamiliar: bool
    """True when the customer is farther from its centroid than 99 % of the training
    customers of that segment, or has a category code the model never saw."""


class AssignResponse(TypedDict):
    """Segments of the customers, in request order."""

    assignments: list[Assignment]
    warnings: list[ProblemOut]
    """Problems that did not stop the assignment (e.g. unseen category codes)."""


class SegmentSummary(TypedDict):
    """One segment of the model."""

    segment: int
    name: str
    size: int | None
    """Training customers in the segment (null when the model does not record it)."""
    share: float | None
    """Fraction of the training customers in the segment."""
    centroid: dict[str, float | None]
    """The centroid's value of every numeric clustering column, in original units."""
    distance_quantiles: dict[str, float]
    """Training distances to the centroid at the 50th, 90th, 95th and 99th percentile."""


class SegmentsResponse(TypedDict):
    """The model's segments."""

    k: int
    algorithm: str | None
    cluster_on: list[str]
    """The columns every customer must have."""
    id_column: str | None
    """The spec's id column (optional in requests), if any."""
    segments: list[SegmentSummary]


class Health(TypedDict):
    """The server is up and holds a model."""

    status: Literal["ok"]
    k: int
    """Number of segments of the model."""
    format_version: int
    """model.json format version."""


@functools.cache
def _field_docs() -> dict[str, dict[str, str]]:
    """The docstrings under the fields of this module's classes: {class: {field: text}}."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    except (OSError, TypeError, SyntaxError):  # no source (e.g. only .pyc): no descriptions
        return {}
    docs: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for field, after in zip(node.body, node.body[1:], strict=False):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                text = " ".join(inspect.cleandoc(after.value.value).split())
                docs.setdefault(node.name, {})[field.target.id] = text
    return docs


# --------------------------------------------------------------------- errors
class ApiError(Exception):
    """An HTTP error answer in the one error shape (raised inside the app)."""

    def __init__(self, status: int, code: str, message: str, problems: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = " ".join(message.split())
        self.problems = problems or []
        self.headers = headers
        super().__init__(self.message)


def error_body(status: int, code: str, message: str, problems: list[dict] | None = None) -> dict:
    """The JSON body of every error answer."""
    return {"error": {"status": int(status), "code": code, "message": " ".join(str(message).split()),
                      "problems": list(problems or [])}}


def _dumps(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------- the request
_BODY_FIX = 'send {"customers": [{...}, ...]}, a list of customer objects, or one customer object'


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def parse_body(body: bytes) -> Any:
    """The JSON document of a request body; :class:`ApiError` 400 when it is not one."""
    if not body.strip():
        raise ApiError(400, "invalid-json", f"the request body is empty; fix: {_BODY_FIX}")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "too-deep", f"the JSON body is nested more than {MAX_DEPTH} levels "
                       f"deep; fix: {_BODY_FIX}") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the body is not valid JSON: {exc.msg} (line "
                       f"{exc.lineno}, column {exc.colno}); fix: {_BODY_FIX}") from None
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the body is not UTF-8 text (byte "
                       f"0x{body[exc.start]:02x} at offset {exc.start}); fix: send the JSON "
                       "encoded as UTF-8") from None
    except ValueError as exc:  # not UTF-8, NaN/Infinity, an integer with thousands of digits
        raise ApiError(400, "invalid-json", f"the body is not valid JSON: {_short(str(exc))}; "
                       f"fix: {_BODY_FIX}") from None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _depth(value: Any, limit: int) -> int:
    """Levels of arrays and objects in ``value`` (0 for a scalar), counted up to ``limit + 1``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _check_depth(value: Any, above: int) -> None:
    if above + _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ApiError(400, "too-deep", f"the JSON body is nested more than {MAX_DEPTH} levels "
                       f"deep; fix: {_BODY_FIX}")


def _customers(n: int) -> str:
    return "customer" if n == 1 else "customers"


def _examples(found: list[tuple[int, str]]) -> str:
    return ", ".join(f"row {row}: {kind}" for row, kind in found[:_MAX_EXAMPLES])


def records_of(doc: Any, *, max_records: int) -> list[dict]:
    """The customer records of a parsed body, checked to be objects of plain values.

    Raises :class:`ApiError` (413 for too many customers, 400 for too deep
    nesting) or :class:`~custseg.errors.ValidationError` (422) naming the field
    and row of every wrongly typed value.
    """
    base = 1  # levels of nesting above a customer object
    if isinstance(doc, dict) and isinstance(doc.get("customers"), list):
        extra = [k for k in doc if k != "customers"]
        if extra:
            raise ApiError(422, "validation", f"unknown key {_short(extra[0])!r} next to "
                           f"'customers' in the request body; fix: {_BODY_FIX}")
        records, base = doc["customers"], 2
    elif isinstance(doc, dict):
        records, base = [doc], 0
    elif isinstance(doc, list):
        records = doc
    else:
        raise ApiError(422, "validation", f"the request body is {_kind(doc)}, not customers; "
                       f"fix: {_BODY_FIX}")
    if len(records) > max_records:
        raise ApiError(413, "too-many-records", f"the request holds {len(records):,} customers, "
                       f"more than this server accepts at once ({max_records:,}); fix: send them "
                       "in smaller batches")
    not_objects: list[tuple[int, str]] = []
    wrong: dict[str, list[tuple[int, str]]] = {}
    for i, rec in enumerate(records):
        if type(rec) is not dict:
            _check_depth(rec, base)
            not_objects.append((i + 1, _kind(rec)))
            continue
        if all(type(v) in _SCALARS for v in rec.values()):
            continue
        for key, value in rec.items():
            if type(value) not in _SCALARS:
                _check_depth(value, base + 1)
                wrong.setdefault(key, []).append((i + 1, _kind(value)))
    problems = []
    if not_objects:
        n = len(not_objects)
        problems.append(Problem(
            code="not-an-object", severity="error", count=n,
            rows=[r for r, _ in not_objects[:_MAX_EXAMPLES]],
            message=f"each customer must be a JSON object, but {n} {'is' if n == 1 else 'are'} "
                    f"not ({_examples(not_objects)}); fix: send "
                    "each customer as an object of field: value"))
    fields = list(wrong.items())
    for key, found in fields[:_MAX_FIELD_PROBLEMS]:
        n = len(found)
        problems.append(Problem(
            code="wrong-type", severity="error", column=key, count=n,
            rows=[r for r, _ in found[:_MAX_EXAMPLES]],
            message=f"field {_short(key)!r} must be a string, number, boolean or null, but is "
                    f"not in {n} {_customers(n)} ({_examples(found)}); fix: send one plain value "
                    "per field"))
    if len(fields) > _MAX_FIELD_PROBLEMS:
        more = fields[_MAX_FIELD_PROBLEMS:]
        n = sum(len(found) for _, found in more)
        problems.append(Problem(
            code="wrong-type", severity="error", count=n,
            message=f"{len(more)} more fields are not a string, number, boolean or null "
                    f"(first: {_short(more[0][0])!r}); fix: send one plain value per field"))
    if problems:
        raise ValidationError(problems)
    return records


def frame_of(records: list[dict], model: SegmentModel) -> pd.DataFrame:
    """The records as a DataFrame of the columns the model reads (id and clustering).

    Fields the model ignores are left out before the frame is built, so a request
    with many distinct field names cannot make it arbitrarily wide. Kept: the id,
    the clustering columns, the describing columns (a category code the model
    never saw there makes a customer unfamiliar, as with ``custseg assign``), and
    for a clustering column no customer has, the field closest to its name (so
    that the error can say "did you mean ...?").
    """
    from .validate import _close_column

    needed = set(model.features.columns_) | set(model.spec.used)
    if model.spec.id:
        needed.add(model.spec.id)
    present: dict[str, None] = {}
    for rec in records:
        present.update(dict.fromkeys(rec))
    others = [k for k in present if k not in needed and isinstance(k, str)][:1000]
    for name in model.features.columns_:
        if name not in present:
            close = _close_column(name, others)
            if close is not None:
                needed.add(close)
    keep = [k for k in present if k in needed]
    if not keep:  # from_records would lose the row count
        return pd.DataFrame(index=pd.RangeIndex(len(records)))
    return pd.DataFrame.from_records(records, columns=keep)


# Up to this many customers, a request is first tried without pandas (see _assign_plain).
PLAIN_MAX_RECORDS = 256


class _Unplain(Exception):
    """The plain path cannot promise the pandas path's answer: let that one decide."""


def _plain_numbers(values: list, col) -> tuple[list[float], list[bool]]:
    from .validate import MAX_ABS_NUMBER

    out, missing = [], []
    for v in values:
        t = type(v)
        if v is None:
            out.append(float("nan"))
            missing.append(True)
            continue
        if t is not int and t is not float:
            raise _Unplain
        f = float(v)
        if not (-MAX_ABS_NUMBER <= f <= MAX_ABS_NUMBER):  # also infinities (from 1e400)
            raise _Unplain
        if f < 0 and col.role in ("value", "engagement"):
            raise _Unplain
        out.append(f)
        missing.append(False)
    if any(missing) and col.missing in ("error", "drop"):
        raise _Unplain
    return out, missing


def _plain_codes(values: list, col) -> list:
    from .validate import MAX_CELL_CHARS

    codes = []
    for v in values:
        t = type(v)
        if v is None:
            code = None
        elif t is int:
            code = str(v)
        elif t is str:
            if len(v) > MAX_CELL_CHARS:
                raise _Unplain
            code = v.strip() or None
        else:  # floats (1.0 is code "1") and booleans: pandas decides
            raise _Unplain
        codes.append(code)
    if col.missing in ("error", "drop") and any(c is None for c in codes):
        raise _Unplain
    if col.labels and any(c is not None and c not in col.labels for c in codes):
        raise _Unplain  # a warning (unseen-code): the pandas path words it
    return codes


def _assign_plain(model: SegmentModel, records: list[dict]) -> dict:
    """:func:`assign_records` for a few clean customers, in plain Python and numpy.

    Gives the same answer as the pandas path (:meth:`SegmentModel.assign`) or raises
    :class:`_Unplain`: whenever validation would report anything (an error or a
    warning), or a value's typing by pandas could matter, that path answers instead.
    """
    spec, features = model.spec, model.features
    present: dict[str, None] = {}
    for rec in records:
        present.update(dict.fromkeys(rec))
    needed = list(features.columns_)
    if any(name not in present for name in needed):
        raise _Unplain
    extra = [c for c in spec.used if c not in needed and c in present]
    n = len(records)
    numbers: dict[str, np.ndarray] = {}
    codes: dict[str, list] = {}
    unfamiliar = np.zeros(n, dtype=bool)
    for name in dict.fromkeys(needed + extra):
        col = spec.columns[name]
        values = [rec.get(name) for rec in records]
        if col.kind == "numeric":
            numbers[name] = np.array(_plain_numbers(values, col)[0], dtype=np.float64)
            continue
        codes[name] = _plain_codes(values, col)
        if name in extra:
            known = list(col.labels) or list(
                (model.info.get("reference") or {}).get(name, {}).get("shares", {}))
            if known:
                unfamiliar |= np.array([c is not None and c not in known for c in codes[name]])
    ids: list = [None] * n
    if spec.id and spec.id in present:
        ids = [rec.get(spec.id) for rec in records]
        kinds = {type(v) for v in ids}
        if not kinds <= {int, str}:
            raise _Unplain  # missing, float or boolean ids
        if len({(type(v), v) for v in ids}) != n:
            raise _Unplain  # duplicates
    # the feature matrix, with the operations of FeatureSpace.transform
    X = np.zeros((n, features.n_features_), dtype=np.float64)
    unseen = np.zeros(n, dtype=bool)
    j = 0
    for name in features.columns_:
        if name in features.levels_:
            levels = {lvl: i for i, lvl in enumerate(features.levels_[name])}
            fill = features.fill_[name]
            for row, code in enumerate(codes[name]):
                at = levels.get(fill if code is None else code, -1)
                if at >= 0:
                    X[row, j + at] = 1.0
                else:
                    unseen[row] = True
            j += len(levels)
        else:
            v = numbers[name].copy()
            v[np.isnan(v)] = features.fill_[name]
            X[:, j] = np.log1p(v) if features.log_[name] else v
            j += 1
    X -= features.mean_
    X /= features.scale_
    with np.errstate(over="ignore", invalid="ignore"):
        labels = model.segments_of(X)
        diff = X - model.centers[labels]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    if not np.isfinite(dist).all():
        raise _Unplain  # the pandas path says which values overflow
    p99 = np.array([q["0.99"] for q in model.distance_quantiles])
    unfamiliar |= (dist > p99[labels]) | unseen
    names = model.names
    return {"assignments": [
        {"row": row, "id": cid, "segment": seg, "segment_name": names[seg], "distance": d,
         "unfamiliar": unf}
        for row, cid, seg, d, unf in zip(range(1, n + 1), ids, labels.tolist(),
                                         np.round(dist, 6).tolist(), unfamiliar.tolist(),
                                         strict=True)
    ], "warnings": []}


def assign_records(model: SegmentModel, records: list[dict]) -> dict:
    """The body of a successful ``POST /v1/assign`` answer for checked records."""
    if not records:
        return {"assignments": [], "warnings": []}
    if len(records) <= PLAIN_MAX_RECORDS:
        try:
            return _assign_plain(model, records)
        except _Unplain:
            pass
    df = frame_of(records, model)
    with np.errstate(over="ignore"):  # an overflowing distance is answered just below
        out, warnings = model.assign(df)
    overflow = (out["segment"].to_numpy() >= 0) & ~np.isfinite(out["distance"].to_numpy())
    if overflow.any():
        raise ValidationError([_overflow_problem(model, df, overflow)])
    n = len(out)
    id_col = model.spec.id
    ids = out[id_col].tolist() if id_col and id_col in out.columns else [None] * n
    dist = [None if d != d else d for d in out["distance"].tolist()]  # NaN -> null
    assignments = [
        {"row": row, "id": cid, "segment": seg, "segment_name": name, "distance": d,
         "unfamiliar": unf}
        for row, cid, seg, name, d, unf in zip(
            range(1, n + 1), ids, out["segment"].tolist(), out["segment_name"].tolist(), dist,
            out["unfamiliar"].tolist(), strict=True)
    ]
    return {"assignments": assignments, "warnings": [p.to_dict() for p in warnings]}


def _overflow_problem(model: SegmentModel, df: pd.DataFrame, overflow: np.ndarray) -> Problem:
    """Customers whose distance overflowed (values near the float limit): bad input, not a bug."""
    from .validate import coerce_numeric

    idx = np.flatnonzero(overflow)
    first = int(idx[0])
    column, value = None, float("nan")
    for name in model.features.columns_:
        if model.spec.columns[name].kind == "numeric" and name in df.columns:
            v = abs(float(coerce_numeric(df[name].iloc[[first]])[0][0]))
            if v == v and not value >= v:
                column, value = name, v
    where = f"row {first + 1}" + (f": {column} = {value:.3g}" if column else "")
    n = int(idx.size)
    return Problem(code="out-of-range", severity="error", column=column,
                   rows=[int(i) + 1 for i in idx[:_MAX_EXAMPLES]], count=n,
                   message=f"{n} {_customers(n)} cannot be assigned: the values are too large for "
                           f"the distance to a segment to be computed ({where}); fix: correct "
                           "those values")


def segments_summary(model: SegmentModel) -> dict:
    """The body of ``GET /v1/segments``: names, sizes, centroids and distance quantiles."""
    sizes = (model.info.get("training") or {}).get("sizes")
    if not isinstance(sizes, list) or len(sizes) != model.k:
        sizes = [None] * model.k
    total = sum(s for s in sizes if s is not None)
    centroids = model.features.inverse_numeric(model.centers)
    segments = []
    for s in range(model.k):
        centroid = {}
        for col, values in centroids.items():
            v = float(values[s])
            centroid[col] = v if np.isfinite(v) else None
        size = sizes[s]
        segments.append({
            "segment": s,
            "name": model.names[s],
            "size": int(size) if size is not None else None,
            "share": (size / total) if size is not None and total else None,
            "centroid": centroid,
            "distance_quantiles": {str(q): float(v)
                                   for q, v in model.distance_quantiles[s].items()},
        })
    algorithm = (model.info.get("algorithm") or {}).get("name")
    return {"k": model.k, "algorithm": algorithm, "cluster_on": list(model.features.columns_),
            "id_column": model.spec.id, "segments": segments}


# ------------------------------------------------------------- ASGI plumbing
async def _send_error(send, status: int, code: str, message: str,
                      headers: dict[str, str] | None = None) -> None:
    body = _dumps(error_body(status, code, message))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


class _Guard:
    """Pure ASGI middleware: the bearer token, then the body size limit, before parsing.

    The limit is checked twice: against the Content-Length header (so a large
    body is refused before a byte of it is read) and against the bytes actually
    received (a chunked body has no Content-Length). The body must also arrive
    within ``body_seconds`` (:data:`BODY_SECONDS`), or the answer is 408.
    """

    def __init__(self, app, *, token: str | None, max_body_bytes: int,
                 body_seconds: float | None = None):
        self.app = app
        self.token = token.encode("utf-8") if token else None
        self.max_body_bytes = max_body_bytes
        self.body_seconds = BODY_SECONDS if body_seconds is None else float(body_seconds)

    def _authorized(self, scope) -> bool:
        value = _header(scope, b"authorization")
        if value is None:
            return False
        scheme, _, credentials = value.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)

    def _too_large(self) -> ApiError:
        return ApiError(413, "payload-too-large", f"the request body is larger than "
                        f"{self.max_body_bytes:,} bytes; fix: send fewer customers per request")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token is not None and scope["path"] not in _OPEN_PATHS and not self._authorized(scope):
            has = _header(scope, b"authorization") is not None
            await _send_error(send, 401, "unauthorized",
                              ("the bearer token is wrong" if has else "this API needs a bearer token")
                              + f"; fix: send the header Authorization: Bearer <token> (the token "
                              f"the server was given in {TOKEN_ENV})",
                              headers={"www-authenticate": "Bearer"})
            return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
                if declared < 0:
                    raise ValueError
            except ValueError:
                await _send_error(send, 400, "bad-request", "the Content-Length header is not a "
                                  "non-negative whole number")
                return
            if declared > self.max_body_bytes:
                err = self._too_large()
                await _send_error(send, err.status, err.code, err.message,
                                  headers={"connection": "close"})
                return
        received = 0
        started = False
        body_done = False
        deadline: float | None = None

        async def limited_receive():
            nonlocal received, body_done, deadline
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            import anyio

            if deadline is None:
                deadline = anyio.current_time() + self.body_seconds
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise ApiError(408, "timeout", f"the request body did not arrive within "
                               f"{self.body_seconds:g} seconds; fix: send the whole body at once "
                               "(a slow or stalled upload is cut off)",
                               headers={"connection": "close"})
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except ApiError as exc:  # normally answered by the app's handler; this is the fallback
            if started:
                raise
            await _send_error(send, exc.status, exc.code, exc.message, headers=exc.headers)


def _require_extra(what: str, modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            raise ParameterError(f"{what} needs the api extra", where=f"cannot import {name}",
                                 fix='pip install "custseg[api]"') from None


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"the {name!r} parameter of create_app must be a positive integer, "
                             f"got {value!r}")


def _request_schemas(model: SegmentModel, max_records: int) -> dict:
    """OpenAPI schemas of a customer and of the request body, for this model's columns.

    They say what validation accepts, so that data valid by the schema is
    assigned: numbers (not below 0 for value and engagement columns), ``null``
    only where the missing policy fills it, strings of at most
    :data:`custseg.validate.MAX_CELL_CHARS` characters. (Numbers sent as strings,
    such as ``"119.00"``, are accepted too, as in a CSV file.)
    """
    from .validate import MAX_CELL_CHARS

    scalar = ["string", "number", "boolean", "null"]
    props: dict[str, dict] = {}
    if model.spec.id:
        props[model.spec.id] = {"type": ["string", "integer"], "maxLength": MAX_CELL_CHARS,
                                "description": "Customer id, echoed in the answer. Optional, "
                                               "but when one customer of a request has it, every "
                                               "one must, each a different id."}
    for name in model.features.columns_:
        col = model.spec.columns[name]
        text = (col.description or name).rstrip(".")
        empty = ("Null is not allowed (missing = \"error\")." if col.missing == "error"
                 else f"Null is an empty cell (missing = \"{col.missing}\").")
        if col.kind == "numeric":
            number: dict[str, Any] = {"type": "number"}
            if col.role in ("value", "engagement"):
                number["minimum"] = 0
            shapes = [number] + ([] if col.missing == "error" else [{"type": "null"}])
            props[name] = {**(shapes[0] if len(shapes) == 1 else {"anyOf": shapes}),
                           "description": f"{text}. A number (a string holding one is accepted "
                                          f"too). {empty}"}
        else:
            codes = ("; ".join(f"{c} = {lbl}" for c, lbl in col.labels.items())
                     if col.labels else "")
            kinds = ["string", "integer", "boolean"] + ([] if col.missing == "error" else ["null"])
            props[name] = {"type": kinds, "maxLength": MAX_CELL_CHARS,
                           "description": f"{text}. A category code" + (f" ({codes})" if codes
                                                                          else "")
                           + f"; codes the model never saw are accepted and flagged unfamiliar. "
                           f"{empty}"}
    customer = {
        "title": "Customer", "type": "object", "properties": props,
        "required": list(model.features.columns_),
        "additionalProperties": {"type": scalar},
        "description": "One customer: the model's clustering columns (and optionally the id). "
                       "Other fields are accepted and ignored.",
    }
    ref = {"$ref": "#/components/schemas/Customer"}
    request = {
        "title": "AssignRequest", "type": "object", "required": ["customers"],
        "additionalProperties": False,
        "properties": {"customers": {"type": "array", "items": ref, "maxItems": max_records,
                                     "description": "Customers to assign; may be empty."}},
    }
    body = {
        "required": True,
        "description": "Customers to assign: {\"customers\": [...]} (documented shape), a bare "
                       "list of customers, or one customer object.",
        "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": "#/components/schemas/AssignRequest"},
            {"type": "array", "items": ref, "maxItems": max_records},
            ref,
        ]}}},
    }
    return {"Customer": customer, "AssignRequest": request, "_body": body}


# ------------------------------------------------------------------ the app
def create_app(model: SegmentModel, *, token: str | None = None,
               max_body_bytes: int = 10 * 1024 * 1024, max_records: int = 100_000):
    """A FastAPI app serving ``model`` (no global state: one app per call).

    Parameters
    ----------
    model : SegmentModel
        The fitted model (e.g. from :func:`custseg.load_model`).
    token : str, optional
        When given, every path but ``/healthz`` needs ``Authorization: Bearer <token>``.
    max_body_bytes : int
        Largest request body accepted (413 above), checked before parsing.
    max_records : int
        Most customers accepted in one request (413 above).
    """
    _require_extra("custseg.api.create_app", ("fastapi",))
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    if not isinstance(model, SegmentModel):
        raise ParameterError(f"the 'model' parameter of create_app must be a SegmentModel, got "
                             f"{type(model).__name__}", fix="load one with custseg.load_model")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ParameterError("the 'token' parameter of create_app must be a non-empty string or "
                             f"None, got {token!r}")
    _check_positive("max_body_bytes", max_body_bytes)
    _check_positive("max_records", max_records)

    def json_response(status: int, content: Any, headers: dict[str, str] | None = None):
        return Response(_dumps(content), status_code=status, media_type="application/json",
                        headers=headers)

    def error_response(status: int, code: str, message: str, problems=None, headers=None):
        return json_response(status, error_body(status, code, message, problems), headers)

    # ---- error handlers: one shape for everything
    async def on_api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.problems, exc.headers)

    async def on_custseg_error(request: Request, exc: CustsegError):
        problems = [p.to_dict() for p in getattr(exc, "problems", [])]
        return error_response(422, exc.code, exc.message, problems)

    async def on_http_error(request: Request, exc: StarletteHTTPException):
        status = exc.status_code
        path = _short(request.url.path)
        if status == 404:
            message = f"there is nothing at {path!r}; the API has {_ROUTES_TEXT}"
        elif status == 405:
            allow = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {path!r}; use {allow or 'another method'}"
        else:
            message = str(exc.detail)
        code = _STATUS_CODES.get(status, "client-error" if status < 500 else "internal")
        return error_response(status, code, message, headers=getattr(exc, "headers", None))

    async def on_request_validation(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(Problem(code="invalid-request", severity="error",
                                    message=f"{where}: {err.get('msg', 'invalid')}",
                                    column=where or None, count=1).to_dict())
        first = problems[0]["message"] if problems else "invalid request"
        return error_response(422, "validation", first, problems)

    async def on_bug(request: Request, exc: Exception):
        # Starlette re-raises after answering, so the server logs the traceback.
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); this is a "
                              "bug in custseg, please report it")

    errors = {"model": ErrorResponse}
    responses_get: dict[int | str, dict] = {
        401: {**errors, "description": "Missing or wrong bearer token (when the server has one)"},
    }
    responses_post: dict[int | str, dict] = {
        **responses_get,
        400: {**errors, "description": "The body is not JSON, or is nested too deeply"},
        408: {**errors, "description": "The body did not arrive in time"},
        413: {**errors, "description": "The body is too large, or holds too many customers"},
        415: {**errors, "description": "The body is not application/json"},
        422: {**errors, "description": "The customers cannot be assigned (problems lists why)"},
    }

    app = FastAPI(
        title="custseg",
        version=__version__,
        summary="Assign customers to the segments of a fitted custseg model.",
        description=__doc__.split("Endpoints", 1)[0].strip() if __doc__ else None,
        exception_handlers={
            ApiError: on_api_error,
            CustsegError: on_custseg_error,
            StarletteHTTPException: on_http_error,
            RequestValidationError: on_request_validation,
            Exception: on_bug,
        },
        redoc_url=None,
    )
    app.state.model = model
    segments_body = segments_summary(model)
    health_body = {"status": "ok", "k": model.k, "format_version": FORMAT_VERSION}
    schemas = _request_schemas(model, max_records)
    limiter = None  # created on first use: it needs a running event loop

    def work(body: bytes) -> bytes:
        records = records_of(parse_body(body), max_records=max_records)
        return _dumps(assign_records(model, records))

    @app.post("/v1/assign", response_model=AssignResponse, responses=responses_post,
              operation_id="assign", summary="Assign customers to segments")
    async def assign(request: Request):
        """The segment of every customer in the body, in request order."""
        nonlocal limiter
        import anyio

        if not _is_json(request.headers.get("content-type", "")):
            given = request.headers.get("content-type")
            raise ApiError(415, "unsupported-media-type",
                           (f"the body must be JSON, got content type {_short(given)!r}" if given
                            else "the request has no content type")
                           + "; fix: send Content-Type: application/json")
        try:
            body = await request.body()
        except ClientDisconnect:  # the client went away mid-upload: not a bug, nobody to answer
            raise ApiError(400, "bad-request", "the client closed the connection before the "
                           "whole body arrived") from None
        if limiter is None:
            limiter = anyio.CapacityLimiter(WORK_THREADS)
        payload = await anyio.to_thread.run_sync(work, body, limiter=limiter)
        return Response(payload, media_type="application/json")

    @app.get("/v1/segments", response_model=SegmentsResponse, responses=responses_get,
             operation_id="segments", summary="The model's segments")
    async def segments():
        """Names, training sizes, centroids (numeric columns, original units) and distances."""
        return segments_body

    @app.get("/healthz", response_model=Health, operation_id="health", summary="Liveness check")
    async def healthz():
        """Always 200 while the server runs; needs no token."""
        return health_body

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                          description=app.description, routes=app.routes)
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, fields in _field_docs().items():
            props = components.get(name, {}).get("properties", {})
            for field, text in fields.items():
                if field in props:
                    props[field].setdefault("description", text)
        components["Customer"] = schemas["Customer"]
        components["AssignRequest"] = schemas["AssignRequest"]
        doc["paths"]["/v1/assign"]["post"]["requestBody"] = schemas["_body"]
        if token is not None:
            doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            for path, operations in doc["paths"].items():
                if path not in _OPEN_PATHS:
                    for op in operations.values():
                        op["security"] = [{"bearer": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
    app.add_middleware(_Guard, token=token, max_body_bytes=max_body_bytes,
                       body_seconds=BODY_SECONDS)
    return app


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ParameterError(f"cannot listen on {host!r}: {exc}", fix="pass a valid --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ParameterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             fix="choose another --port, or stop the program using it") from None
    return sock


def _protocol_with_head_deadline():
    """uvicorn's h11 protocol, closing a connection that sends no complete request head in time.

    uvicorn arms its keep-alive timer only after an answer, and cancels it at the
    first byte of the next request: a connection that sends nothing, or trickles
    its headers, is kept forever and counts against ``limit_concurrency``. Here a
    timer of :data:`HEAD_SECONDS` runs whenever a request head is awaited (from
    the connection's start and after each answer) and stops when a head is
    complete; the body has its own deadline (:data:`BODY_SECONDS`, in the app).
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer = None

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_timeout)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and (self.cycle is None
                                                    or self.cycle.response_complete):
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a complete request head started a new cycle
                self._cancel_head_timer()

        def on_response_complete(self) -> None:
            self._arm_head_timer()  # before: a pipelined request may start a cycle in there
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

    return Protocol


def serve(model_path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8000,
          limit_concurrency: int = LIMIT_CONCURRENCY) -> None:
    """Serve the model at ``model_path`` with uvicorn until interrupted.

    One worker, no access log, at most ``limit_concurrency`` connections at once
    (more get 503), short keep-alive. The bearer token comes from
    :data:`TOKEN_ENV` when it is set. Returns normally after Ctrl+C (SIGINT); on
    SIGTERM uvicorn shuts down gracefully and then ends the process by that
    signal. Raises :class:`~custseg.errors.ModelError` when the model cannot be
    loaded and :class:`~custseg.errors.ParameterError` when the api extra is
    missing or the address cannot be used.
    """
    _require_extra("custseg serve", ("fastapi", "uvicorn"))
    import uvicorn

    from .modelfile import load_model

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ParameterError(f"the port must be a whole number from 0 to 65535, got {port!r}")
    model = load_model(model_path)
    token = os.environ.get(TOKEN_ENV) or None
    app = create_app(model, token=token)
    sock = _bind(host, port)
    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False,
                            limit_concurrency=limit_concurrency,
                            timeout_keep_alive=KEEP_ALIVE_SECONDS,
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS, server_header=False,
                            http=_protocol_with_head_deadline(),
                            lifespan="off", log_level="info")
    bound = sock.getsockname()
    logging.getLogger("uvicorn.error").info(
        "custseg: serving a %d-segment model on http://%s:%d (%s)", model.k,
        f"[{bound[0]}]" if sock.family == socket.AF_INET6 else bound[0], bound[1],
        "bearer token required" if token else f"no token: set {TOKEN_ENV} to require one")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C is how a server is stopped; uvicorn re-raises it after
        pass  # shutting down gracefully, and "until interrupted" is the normal end
    finally:
        sock.close()
