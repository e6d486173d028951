"""The request: the body's JSON, the customer records in it, and the frame the model reads.

Everything a client sends is checked here before any assigning: unreadable JSON
and nesting deeper than :data:`MAX_DEPTH` are 400, more customers than allowed
413, values that are not plain (string, number, boolean, null) 422 naming the
field and the rows.
"""

import json
from typing import Any

import pandas as pd

from ..errors import Problem, ValidationError
from ..model import SegmentModel
from .errors import ApiError, short

__all__ = ["MAX_DEPTH", "MAX_EXAMPLES", "BODY_FIX", "is_json", "parse_body", "records_of",
           "frame_of", "customers_word"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body."""
MAX_EXAMPLES = 3
"""Rows named as examples in one problem."""
BODY_FIX = 'send {"customers": [{...}, ...]}, a list of customer objects, or one customer object'

_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAX_FIELD_PROBLEMS = 10


def is_json(content_type: str) -> bool:
    """Is ``content_type`` JSON (``application/json`` or ``application/*+json``)?"""
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def parse_body(body: bytes) -> Any:
    """The JSON document of a request body; :class:`ApiError` 400 when it is not one."""
    if not body.strip():
        raise ApiError(400, "invalid-json", f"the request body is empty; fix: {BODY_FIX}")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "too-deep", f"the JSON body is nested more than {MAX_DEPTH} levels "
                       f"deep; fix: {BODY_FIX}") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the body is not valid JSON: {exc.msg} (line "
                       f"{exc.lineno}, column {exc.colno}); fix: {BODY_FIX}") from None
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid-json", f"the body is not UTF-8 text (byte "
                       f"0x{body[exc.start]:02x} at offset {exc.start}); fix: send the JSON "
                       "encoded as UTF-8") from None
    except ValueError as exc:  # not UTF-8, NaN/Infinity, an integer with thousands of digits
        raise ApiError(400, "invalid-json", f"the body is not valid JSON: {short(str(exc))}; "
                       f"fix: {BODY_FIX}") from None
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
                       f"deep; fix: {BODY_FIX}")


def customers_word(n: int) -> str:
    """"customer" or "customers", for ``n`` of them."""
    return "customer" if n == 1 else "customers"


def _examples(found: list[tuple[int, str]]) -> str:
    return ", ".join(f"row {row}: {kind}" for row, kind in found[:MAX_EXAMPLES])


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
            raise ApiError(422, "validation", f"unknown key {short(extra[0])!r} next to "
                           f"'customers' in the request body; fix: {BODY_FIX}")
        records, base = doc["customers"], 2
    elif isinstance(doc, dict):
        records, base = [doc], 0
    elif isinstance(doc, list):
        records = doc
    else:
        raise ApiError(422, "validation", f"the request body is {_kind(doc)}, not customers; "
                       f"fix: {BODY_FIX}")
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
            rows=[r for r, _ in not_objects[:MAX_EXAMPLES]],
            message=f"each customer must be a JSON object, but {n} {'is' if n == 1 else 'are'} "
                    f"not ({_examples(not_objects)}); fix: send "
                    "each customer as an object of field: value"))
    fields = list(wrong.items())
    for key, found in fields[:_MAX_FIELD_PROBLEMS]:
        n = len(found)
        problems.append(Problem(
            code="wrong-type", severity="error", column=key, count=n,
            rows=[r for r, _ in found[:MAX_EXAMPLES]],
            message=f"field {short(key)!r} must be a string, number, boolean or null, but is "
                    f"not in {n} {customers_word(n)} ({_examples(found)}); fix: send one plain value "
                    "per field"))
    if len(fields) > _MAX_FIELD_PROBLEMS:
        more = fields[_MAX_FIELD_PROBLEMS:]
        n = sum(len(found) for _, found in more)
        problems.append(Problem(
            code="wrong-type", severity="error", count=n,
            message=f"{len(more)} more fields are not a string, number, boolean or null "
                    f"(first: {short(more[0][0])!r}); fix: send one plain value per field"))
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
    from ..validate import close_column

    needed = set(model.features.columns_) | set(model.spec.used) | set(model.input_spec.used)
    if model.spec.id:
        needed.add(model.spec.id)
    present: dict[str, None] = {}
    for rec in records:
        present.update(dict.fromkeys(rec))
    others = [k for k in present if k not in needed and isinstance(k, str)][:1000]
    for name in model.features.columns_:
        if name not in present:
            close = close_column(name, others)
            if close is not None:
                needed.add(close)
    keep = [k for k in present if k in needed]
    if not keep:  # from_records would lose the row count
        return pd.DataFrame(index=pd.RangeIndex(len(records)))
    return pd.DataFrame.from_records(records, columns=keep)

