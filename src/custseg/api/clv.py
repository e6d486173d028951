"""``POST /v1/clv``: lifetime value from a customer's frequency, recency, T and monetary value.

The model's ``clv`` section (``model.json`` format version 2, written by ``custseg
run`` on an order log) holds the fitted purchase and spend models. The body is
``{"customers": [{...}, ...]}``, a list, or one object; each customer has
``frequency`` (repeat purchase days, a whole number), ``recency`` and ``T`` (in
the model's unit, ``recency <= T``; ``recency`` 0 when ``frequency`` is 0) and
``monetary_value`` (mean repeat purchase value, 0 for a one-time buyer), all
finite and at least 0, and optionally an ``id`` echoed back. Every bad field is
listed (422), with the customer's position.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..clv import predict
from ..model import SegmentModel
from .errors import ApiError

__all__ = ["clv_answer", "CLV_FIELDS", "CLV_REQUEST_BODY"]

CLV_FIELDS = ("frequency", "recency", "T", "monetary_value")
_FIX = ('send {"customers": [{"frequency": 2, "recency": 30, "T": 90, "monetary_value": 25.0}]} '
        "(times in the model's unit)")


_HISTORY = {
    "type": "object",
    "required": list(CLV_FIELDS),
    "properties": {
        "id": {"description": "Any value, echoed back."},
        "frequency": {"type": "integer", "minimum": 0,
                      "description": "Repeat purchase days (distinct purchase days - 1)."},
        "recency": {"type": "number", "minimum": 0, "description": "Time from the first to the "
                    "last purchase, in the model's unit (0 without repeat purchases)."},
        "T": {"type": "number", "minimum": 0, "description": "Time from the first purchase to "
              "now, in the model's unit; at least recency."},
        "monetary_value": {"type": "number", "minimum": 0, "description": "Mean value of the "
                           "repeat purchase days (0 for a one-time buyer)."},
    },
}
#: the OpenAPI request body of POST /v1/clv
CLV_REQUEST_BODY = {"required": True, "content": {"application/json": {"schema": {"anyOf": [
    {"type": "object", "required": ["customers"],
     "properties": {"customers": {"type": "array", "items": _HISTORY}}},
    {"type": "array", "items": _HISTORY}, _HISTORY]}}}}


def _customers(payload: Any, max_records: int) -> list:
    if isinstance(payload, dict) and "customers" in payload:
        payload = payload["customers"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list) or not payload:
        raise ApiError(422, "validation", f"the body holds no customer; fix: {_FIX}")
    if len(payload) > max_records:
        raise ApiError(413, "payload-too-large", f"{len(payload):,} customers in one request, more "
                       f"than {max_records:,}; fix: send them in batches")
    return payload


def _problems(records: list) -> list[dict]:
    problems: list[dict] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            problems.append({"row": i + 1, "message": f"customer {i + 1} is not an object"})
            continue
        values = {}
        for name in CLV_FIELDS:
            v = rec.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                problems.append({"row": i + 1, "field": name,
                                 "message": f"customer {i + 1}: {name} must be a number >= 0, got "
                                            f"{str(v)[:40]!r}"})
            else:
                values[name] = float(v)
        if len(values) < len(CLV_FIELDS):
            continue
        if values["frequency"] != int(values["frequency"]):
            problems.append({"row": i + 1, "field": "frequency", "message": f"customer {i + 1}: "
                             "frequency counts repeat purchase days, a whole number"})
        if values["recency"] > values["T"]:
            problems.append({"row": i + 1, "field": "recency", "message": f"customer {i + 1}: "
                             "recency (first to last purchase) is more than T (first purchase to now)"})
        if values["frequency"] == 0 and values["recency"] != 0:
            problems.append({"row": i + 1, "field": "recency", "message": f"customer {i + 1}: "
                             "recency must be 0 without repeat purchases"})
    return problems


def clv_answer(model: SegmentModel, payload: Any, *, max_records: int) -> dict:
    """The answer of ``POST /v1/clv`` for a parsed JSON body."""
    section = model.info.get("clv")
    if not section:
        raise ApiError(404, "no-clv", "this model has no lifetime value section (it was fitted on "
                       "a customer table, or with --no-clv); fix: run custseg run on an order log "
                       "and serve that run")
    records = _customers(payload, max_records)
    problems = _problems(records)
    if problems:
        raise ApiError(422, "validation", f"{problems[0]['message']} ({len(problems)} problem"
                       f"{'s' if len(problems) != 1 else ''}); fix: {_FIX}",
                       [{"code": "invalid-value", "severity": "error", **p} for p in problems[:50]])
    frame = pd.DataFrame({name: [float(r[name]) for r in records] for name in CLV_FIELDS})
    scored = predict(section, frame)
    out = []
    for i, rec in enumerate(records):
        row = {k: float(scored[k].iat[i]) for k in ("p_alive", "expected_purchases",
                                                     "expected_avg_value", "clv")}
        if "id" in rec:
            row = {"id": rec["id"], **row}
        out.append(row)
    return {"model": section["model"], "unit": section["unit"],
            "horizon_months": section["horizon_months"], "discount_rate": section["discount_rate"],
            "customers": out}
