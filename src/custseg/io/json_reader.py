"""Reading JSON: JSON lines (one object per line) and JSON arrays of objects.

Nested objects become dotted column names (``metrics.CLV``); arrays are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .sources import empty_error, no_rows_error
from .text import decode_text, resolve_encoding

__all__ = ["read_json_lines", "read_json"]


def _json_records(path: Path, items: list[Any], labels: list[str]) -> pd.DataFrame:
    """Build the frame from JSON records; ``labels`` say where each one is.

    A nested object becomes columns named by its path (``{"metrics": {"CLV": 9}}``
    gives the column ``metrics.CLV``), as ``pandas.json_normalize`` names them; an
    array, which has no single value for a column, is refused in one line.
    """
    for item, label in zip(items, labels, strict=True):
        if not isinstance(item, dict):
            raise InputError(
                f"{label} of {path} is a JSON {type(item).__name__}, not an object",
                fix='make every record an object such as {"customer_id": 1, "CLV": 9.5}',
            )
    if not items:
        raise no_rows_error(path)
    if any(isinstance(v, dict | list) for item in items for v in item.values()):
        items = [_flat(item, label, path) for item, label in zip(items, labels, strict=True)]
    return pd.DataFrame(items)


def _flat(record: dict, label: str, path: Path) -> dict:
    """``record`` with its nested objects as dotted keys; an array is an error."""
    out: dict[str, Any] = {}

    def walk(prefix: str, obj: dict) -> None:
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                walk(f"{name}.", value)
                continue
            if isinstance(value, list):
                raise InputError(
                    f"{label} of {path}: {name!r} holds a JSON array of {len(value)} items, "
                    "not one value",
                    fix="give each key one value (a count, or the items joined with commas), "
                        "or flatten the arrays before reading")
            if name in out:
                raise InputError(
                    f"{label} of {path}: the column {name!r} comes twice once nested objects "
                    "are named by their path",
                    fix=f"rename the key {name!r} or the nested one")
            out[name] = None if isinstance(value, dict) else value
    walk("", record)
    return out


def read_json_lines(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read JSON lines (``.jsonl``, ``.ndjson``): one JSON object per line."""
    text, _ = decode_text(path, resolve_encoding(path, encoding))
    if not text.strip():
        raise empty_error(path)
    return _parse_json_lines(path, text)


def _parse_json_lines(path: Path, text: str) -> pd.DataFrame:
    records: list[Any] = []
    labels: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            _raise_if_single_object(path, text)
            raise InputError(
                f"line {number} of {path} is not valid JSON: {exc.msg} at column {exc.colno}",
                fix="write one JSON object per line (JSON lines), or a JSON array of objects",
            ) from exc
        labels.append(f"line {number}")
    return _json_records(path, records, labels)


def _raise_if_single_object(path: Path, text: str) -> None:
    """Explain a file holding one multi-line JSON object instead of records."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return
    if isinstance(document, dict):
        keys = ", ".join(map(str, list(document)[:5]))
        raise InputError(
            f"{path} holds a single JSON object (keys: {keys}), not one record per line",
            fix="write a JSON array of records, or one JSON object per line (JSON lines)",
        )


def read_json(path: Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read ``.json``: a JSON array of objects, or JSON lines."""
    text, _ = decode_text(path, resolve_encoding(path, encoding))
    stripped = text.lstrip()
    if not stripped:
        raise empty_error(path)
    if not stripped.startswith("["):
        return _parse_json_lines(path, text)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            fix="fix the JSON syntax there (a missing comma or quote?)",
        ) from exc
    if not isinstance(items, list):
        items = [items]
    return _json_records(path, items, [f"item {number}" for number in range(len(items))])
