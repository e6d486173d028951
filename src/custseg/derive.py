"""Columns that are read one way and segmented another: dates as days, yes/no as two levels.

:func:`derive_spec` is the spec everything after validation sees: a ``kind = "date"``
column becomes the numeric ``<column> (days)`` (see :mod:`custseg.dates`), a
``kind = "boolean"`` column a category with the levels ``no`` and ``yes`` (see
:mod:`custseg.booleans`), and a ``missing = "never"`` column gains the 0/1 feature
``<column> missing`` beside it. :func:`derive_columns` does the same to a table, with
the problems found. A spec without such columns is returned as it is. Pure.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ._messages import count_text, examples_text
from .booleans import parse_booleans
from .dates import days_name, latest, parse_as_of, parse_dates
from .errors import Problem
from .spec import RECENCY_NAMES, ColumnSpec
from .validate import read_numbers

__all__ = ["derive_spec", "derive_columns", "missing_name", "MISSING_SUFFIX", "source_columns",
           "date_formats", "never_flags"]


def never_flags(spec) -> dict[str, str]:
    """The ``<column> missing`` flag of each ``missing = "never"`` column, by column."""
    return {n: missing_name(n) for n, c in spec.columns.items() if c.missing == "never"}


def date_formats(spec) -> dict[str, str]:
    """The spec's date columns and their formats."""
    return {n: c.format for n, c in spec.columns.items() if c.kind == "date"}


def source_columns(spec, names: list[str]) -> list[str]:
    """The data's own column names behind derived ones (``Signup Date (days)`` and
    ``Last Login missing`` are ``Signup Date`` and ``Last Login``), each once, in order."""
    back = {days_name(name): name for name in date_formats(spec)}
    back.update({flag: name for name, flag in never_flags(spec).items()})
    return list(dict.fromkeys(back.get(n, n) for n in names))


def _empty(s: pd.Series, col) -> np.ndarray:
    """Which cells of a column are empty, as its missing-value policy sees them."""
    if col.kind == "date":
        values, bad = parse_dates(s, col.format)
        return np.isnat(values) & ~bad
    values, bad, _ = read_numbers(s, col.number_format)
    return np.isnan(values) & ~bad


def missing_name(column: str) -> str:
    """The 0/1 feature of a ``missing = "never"`` column: ``Last Login missing``."""
    return column + MISSING_SUFFIX


MISSING_SUFFIX = " missing"


def derive_spec(spec, as_of: str | None = None):
    """The spec validation, features and profiles see (see the module docstring)."""
    dates = [n for n, c in spec.columns.items() if c.kind == "date"]
    flags = [n for n, c in spec.columns.items() if c.kind == "boolean"]
    never = never_flags(spec)
    if not dates and not flags and not never:
        return spec
    rename = {n: days_name(n) for n in dates}
    columns = {}
    for name, col in spec.columns.items():
        if name in rename:
            columns[rename[name]] = replace(
                col, name=rename[name], kind="numeric", format="", na_values=(),
                description=col.description or f"days from {name} to the observation date")
        elif name in flags:
            columns[name] = replace(col, kind="categorical")
        else:
            columns[name] = col
    cluster_on = [rename.get(c, c) for c in spec.cluster_on]
    describe = [rename.get(c, c) for c in spec.describe]
    for name, flag in never.items():  # the flag goes where its column goes
        recency = spec.columns[name].better == "lower" and bool(RECENCY_NAMES.search(name))
        columns[flag] = ColumnSpec(
            name=flag, kind="numeric", role="attribute", missing="zero", transform="none",
            words=(f"{name} recorded", "never active" if recency else f"no {name}"),
            description=f"1 where {name} is empty (missing = \"never\"), else 0")
        for used in (cluster_on, describe):
            if rename.get(name, name) in used:
                used.insert(used.index(rename.get(name, name)) + 1, flag)
    return replace(spec, columns=columns, cluster_on=cluster_on, describe=describe,
                   groups={rename.get(c, c): g for c, g in spec.groups.items()},
                   as_of=as_of if as_of is not None else spec.as_of)


def derive_columns(df: pd.DataFrame, spec, as_of: str | None = None, *,
                   row_numbers: np.ndarray | None = None):
    """``df`` with each date column as its days and each yes/no column as ``yes``/``no``.

    Returns ``(frame, derived spec, as_of used (YYYY-MM-DD, None without dates),
    problems)``. ``as_of`` (or the spec's) is the observation date; without one, the
    newest date in the data's date columns. Cells that are not dates in the column's
    format, or not a yes/no spelling, are errors naming their rows; dates after the
    observation date a warning (negative days).
    """
    kinds = {n: c.kind for n, c in spec.columns.items() if c.kind in ("date", "boolean")}
    flagged = never_flags(spec)
    never = [n for n in flagged if n in df.columns]
    if not kinds and not flagged:
        return df, spec, None, []
    problems: list[Problem] = []

    def rows_of(mask: np.ndarray) -> tuple[list[int], int]:
        idx = np.flatnonzero(mask)
        shown = idx[:3] if row_numbers is None else row_numbers[idx[:3]]
        return [int(i) + 1 for i in shown], int(idx.size)

    def bad_cells(name: str, bad: np.ndarray, code: str, what: tuple[str, str], fix: str) -> None:
        rows, count = rows_of(bad)
        examples = list(df[name].to_numpy()[np.flatnonzero(bad)[:3]])
        problems.append(Problem(
            code=code, severity="error", column=name, rows=rows, count=count,
            message=f"column {name!r} has {count_text(count, 'value')} that "
                    f"{'is not ' + what[0] if count == 1 else 'are not ' + what[1]} "
                    f"({examples_text(rows, examples)}); "
                    f"fix: correct or empty {'that cell' if count == 1 else 'those cells'}, "
                    f"or {fix}"))

    frame = df.copy(deep=False)
    for name in never:  # 1 where the cell is empty (or one of the column's na_values)
        frame[flagged[name]] = _empty(df[name], spec.columns[name]).astype(float)
    parsed = {}
    for name, kind in kinds.items():
        if name not in df.columns:
            continue  # validation names the missing column
        if kind == "boolean":
            codes, bad = parse_booleans(df[name])
            if bad.any():
                bad_cells(name, bad, "not-yes-no", ("a yes/no value", "yes/no values"),
                          f"correct [columns.{name}] kind")
            frame[name] = codes
            continue
        fmt = spec.columns[name].format
        values, bad = parse_dates(df[name], fmt)
        parsed[name] = values
        if bad.any():
            bad_cells(name, bad, "not-a-date", (f"a date written {fmt}", f"dates written {fmt}"),
                      f"correct [columns.{name}] format")
    if not [k for k in kinds.values() if k == "date"]:
        return frame, derive_spec(spec), None, problems
    chosen = as_of if as_of is not None else spec.as_of
    if chosen is not None:
        end = parse_as_of(chosen)
    else:
        end = pd.Timestamp(latest(parsed.values()) or "1970-01-01")
    for name, values in parsed.items():
        days = (np.datetime64(end.to_datetime64(), "ns") - values) / np.timedelta64(1, "D")
        days = np.floor(days.astype(float))
        future = days < 0
        if future.any():
            rows, count = rows_of(future)
            problems.append(Problem(
                code="future-date", severity="warning", column=name, rows=rows, count=count,
                message=f"column {name!r} has {count_text(count, 'date')} after the observation "
                        f"date {end.date()} ({', '.join(f'row {r}' for r in rows)}); their days "
                        "are negative; fix: check as_of (or --as-of) and those dates"))
        frame = frame.drop(columns=[name])
        frame[days_name(name)] = days
    as_of_used = str(end.date())
    return frame, derive_spec(spec, as_of_used), as_of_used, problems
