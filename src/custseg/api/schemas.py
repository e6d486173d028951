"""What the API says about itself: the response shapes, the request schemas, /openapi.json.

The response shapes are TypedDicts rather than pydantic models, so that
:mod:`custseg.api` imports without the api extra; FastAPI documents them in
``/openapi.json`` all the same. The descriptions of their fields are given to
:func:`described`, which records them in :data:`FIELD_DOCS` for
:func:`openapi_document` (pydantic's own ``use_attribute_docstrings`` would re-read
the source file for every app, ~0.7 s each).
"""

# No ``from __future__ import annotations``: pydantic reads these annotations at run time.
from collections.abc import Callable
from typing import Any, Literal

try:  # pydantic needs typing_extensions' TypedDict on Python < 3.12; it comes with the api extra
    from typing_extensions import TypedDict
except ImportError:  # pragma: no cover - without the extra the API cannot run anyway
    from typing import TypedDict

from ..model import SegmentModel
from ..validate import MAX_CELL_CHARS

__all__ = ["ProblemOut", "ErrorDetail", "ErrorResponse", "Assignment", "AssignResponse",
           "SegmentSummary", "SegmentsResponse", "Health", "FIELD_DOCS", "described",
           "get_responses", "post_responses", "request_schemas", "openapi_document"]

FIELD_DOCS: dict[str, dict[str, str]] = {}
"""``{shape: {field: description}}`` of the response shapes, for ``/openapi.json``."""


def described(**fields: str) -> Callable[[type], type]:
    """Class decorator: record the descriptions of a response shape's fields in :data:`FIELD_DOCS`."""

    def record(shape: type) -> type:
        unknown = [name for name in fields if name not in shape.__annotations__]
        if unknown:
            raise TypeError(f"{shape.__name__} has no field {unknown[0]!r}")
        FIELD_DOCS[shape.__name__] = {name: " ".join(text.split()) for name, text in fields.items()}
        return shape

    return record


# ------------------------------------------------------------ response shapes
@described(
    code="What kind of problem, e.g. ``not-numeric``, ``missing-column``, ``unseen-code``.",
    message="One line: what is wrong, where, and the fix.",
    rows="Example rows (customers counted from 1 in request order).",
    count="How many rows have the problem.",
)
class ProblemOut(TypedDict):
    """One finding of validation."""

    code: str
    severity: Literal["error", "warning"]
    message: str
    column: str | None
    rows: list[int]
    count: int


@described(
    status="The HTTP status code, repeated.",
    code="Machine-readable kind, e.g. ``validation``, ``invalid-json``, ``payload-too-large``.",
    message="One line for a human: what is wrong, where, and the fix.",
    problems="Every problem validation found (empty for other errors).",
)
class ErrorDetail(TypedDict):
    """What went wrong."""

    status: int
    code: str
    message: str
    problems: list[ProblemOut]


class ErrorResponse(TypedDict):
    """The one shape of every error answer."""

    error: ErrorDetail


@described(
    row="Position of the customer in the request, counted from 1.",
    id="The customer's value of the spec's id column, or null when it has none.",
    segment='Segment number from 0, or -1 for a customer left out by a missing = "drop" policy.',
    distance="Euclidean distance to the segment's centroid in feature space (null when left out).",
    unfamiliar="True when the customer is farther from its centroid than 99 % of the training "
               "customers of that segment, or has a category code the model never saw.",
)
class Assignment(TypedDict):
    """The segment of one customer."""

    row: int
    id: str | int | float | bool | None
    segment: int
    segment_name: str
    distance: float | None
    unfamiliar: bool


@described(warnings="Problems that did not stop the assignment (e.g. unseen category codes).")
class AssignResponse(TypedDict):
    """Segments of the customers, in request order."""

    assignments: list[Assignment]
    warnings: list[ProblemOut]


@described(
    size="Training customers in the segment (null when the model does not record it).",
    share="Fraction of the training customers in the segment.",
    centroid="The centroid's value of every numeric clustering column, in original units.",
    distance_quantiles="Training distances to the centroid at the 50th, 90th, 95th and 99th "
                       "percentile.",
)
class SegmentSummary(TypedDict):
    """One segment of the model."""

    segment: int
    name: str
    size: int | None
    share: float | None
    centroid: dict[str, float | None]
    distance_quantiles: dict[str, float]


@described(
    cluster_on="The columns every customer must have.",
    id_column="The spec's id column (optional in requests), if any.",
)
class SegmentsResponse(TypedDict):
    """The model's segments."""

    k: int
    algorithm: str | None
    cluster_on: list[str]
    id_column: str | None
    segments: list[SegmentSummary]


@described(k="Number of segments of the model.", format_version="model.json format version.")
class Health(TypedDict):
    """The server is up and holds a model."""

    status: Literal["ok"]
    k: int
    format_version: int


# ---------------------------------------------------------- documented errors
def get_responses() -> dict[int | str, dict]:
    """The error answers of the GET routes that need the token, for ``responses=``."""
    return {401: {"model": ErrorResponse,
                  "description": "Missing or wrong bearer token (when the server has one)"}}


def post_responses() -> dict[int | str, dict]:
    """The error answers of ``POST /v1/assign``, for ``responses=``."""
    errors = {"model": ErrorResponse}
    return {
        **get_responses(),
        400: {**errors, "description": "The body is not JSON, or is nested too deeply"},
        408: {**errors, "description": "The body did not arrive in time"},
        413: {**errors, "description": "The body is too large, or holds too many customers"},
        415: {**errors, "description": "The body is not application/json"},
        422: {**errors, "description": "The customers cannot be assigned (problems lists why)"},
    }


# ------------------------------------------------------------ request schemas
def request_schemas(model: SegmentModel, max_records: int) -> dict:
    """OpenAPI schemas of a customer and of the request body, for this model's columns.

    They say what validation accepts, so that data valid by the schema is
    assigned: numbers (not below 0 for value and engagement columns), ``null``
    only where the missing policy fills it, strings of at most
    :data:`custseg.validate.MAX_CELL_CHARS` characters. (Numbers sent as strings,
    such as ``"119.00"``, are accepted too, as in a CSV file.)
    """
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



def openapi_document(app, request: dict, *, token: str | None, open_paths: frozenset[str]) -> dict:
    """The OpenAPI document of ``app``: FastAPI's, with the field descriptions of
    :data:`FIELD_DOCS`, the request schemas of :func:`request_schemas` (``request``) and,
    with a ``token``, the bearer scheme on every path but ``open_paths``."""
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                      description=app.description, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, fields in FIELD_DOCS.items():
        props = components.get(name, {}).get("properties", {})
        for field, text in fields.items():
            if field in props:
                props[field].setdefault("description", text)
    components["Customer"] = request["Customer"]
    components["AssignRequest"] = request["AssignRequest"]
    doc["paths"]["/v1/assign"]["post"]["requestBody"] = request["_body"]
    if "/v1/clv" in doc["paths"]:
        from .clv import CLV_REQUEST_BODY

        doc["paths"]["/v1/clv"]["post"]["requestBody"] = CLV_REQUEST_BODY
    if token is not None:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, operations in doc["paths"].items():
            if path not in open_paths:
                for op in operations.values():
                    op["security"] = [{"bearer": []}]
    return doc
