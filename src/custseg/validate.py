"""Check a table against its spec, reporting every problem at once.

:func:`validate` returns a typed copy of the data (numeric columns as float64,
categorical columns as canonical code strings) and the list of
:class:`~custseg.errors.Problem` found; :func:`check` raises
:class:`~custseg.errors.ValidationError` when any of them is an error. Row numbers
in messages count data rows from 1, the same numbering as the ``row`` column of
``segments.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._messages import (
    MAX_EXAMPLES,
    count_text,
    examples_text,
    more_text,
    number_mistakes,
    rows_text,
    short_text,
)
from ._parallel import beside
from .errors import Findings, Problem, ValidationError
from .spec import Spec, code_str

__all__ = ["Validated", "validate", "check", "coerce_numeric", "read_numbers", "coerce_codes", "MAX_COLUMNS",
           "MAX_CELL_CHARS", "close_column", "coerce_codes_and_levels"]

MAX_COLUMNS = 1000
MAX_CELL_CHARS = 10_000
MAX_ABS_NUMBER = 1e15  # larger magnitudes are unit errors (and overflow distances)


@dataclass
class Validated(Findings):
    """Typed data and the problems found.

    Attributes
    ----------
    frame : DataFrame
        The spec's columns (id first when there is one): numeric as float64 with NaN
        for empty, categorical as code strings with None for empty.
    problems : list of Problem
        Errors and warnings, in the order checked.
    drop : ndarray of bool
        Rows left out by a ``missing = "drop"`` policy.
    """

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    drop: np.ndarray | None = None



def coerce_numeric(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values and a mask of cells that are present but not numbers."""
    if pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        return values, np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s):
        values = s.to_numpy(dtype=float, na_value=np.nan, copy=True)
        bad = np.isinf(values)
        values[bad] = np.nan
        return values, bad
    present = s.notna().to_numpy()
    text = s.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    blank = (text == "").fillna(False).to_numpy(dtype=bool)
    bad = present & ~blank & (np.isnan(values) | np.isinf(values))
    values[blank] = np.nan
    values[np.isinf(values)] = np.nan
    return values, bad


def read_numbers(s: pd.Series, fmt=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, present-but-not-numbers, and cells read as missing through ``fmt.na_values``.

    ``fmt`` (a :class:`~custseg.numbers.NumberFormat`, from the spec) reads text written
    in that format; cells that already hold numbers (a numeric column, numbers in an
    Excel column of mixed cells) are taken as they are. None: :func:`coerce_numeric`.
    """
    if fmt is None or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        values, bad = coerce_numeric(s)
        return values, bad, np.zeros(len(s), dtype=bool)
    from .numbers import parse_numbers

    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        numbers = np.zeros(len(s), dtype=bool)  # text only
    else:  # an Excel or JSON column of mixed cells: the numbers stay as they are
        numbers = s.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                        and not isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    values, bad, na = parse_numbers(s.where(~numbers), fmt)
    if numbers.any():
        values[numbers], bad[numbers] = coerce_numeric(s[numbers])
    return values, bad, na


def _spreadsheet_errors(s: pd.Series, fmt) -> np.ndarray:
    """Cells holding a spreadsheet error value (``#DIV/0!``), not a missing spelling."""
    from .numbers import SPREADSHEET_ERRORS

    if fmt is None or not fmt.na_values:
        return np.zeros(len(s), dtype=bool)
    return (s.astype("string").str.strip().str.lower().isin(SPREADSHEET_ERRORS).fillna(False)
            .to_numpy(dtype=bool))


def coerce_codes(s: pd.Series) -> pd.Series:
    """Canonical category codes as strings (``1.0`` -> ``"1"``), missing for empty.

    The canonical text is worked out once per distinct value (``pd.factorize``)
    and spread to the rows with an Arrow ``take``, so a column of ten million
    rows costs no Python string per row. Booleans become ``"True"``/``"False"``,
    whole numbers their integer text, other finite floats their ``repr``, text
    is stripped; empty text and non-finite floats are missing.
    """
    return coerce_codes_and_levels(s)[0]


def coerce_codes_and_levels(s: pd.Series) -> tuple[pd.Series, list[str]]:
    """:func:`coerce_codes`, and the distinct canonical codes it found (no order promised)."""
    import pyarrow as pa

    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    canonical = _canonical_codes(list(uniques), s.dtype)
    table = pa.array(canonical, type=pa.large_string())
    codes = np.asarray(codes, dtype=np.int64)
    taken = table.take(pa.array(codes, mask=codes < 0)) if len(codes) else table[:0]
    levels = sorted({c for c in canonical if c is not None})
    return pd.Series(pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
                     index=s.index, name=s.name), levels


def _canonical_codes(values: list, dtype) -> list[str | None]:
    """The canonical code text of each distinct value (see :func:`coerce_codes`)."""
    out: list[str | None] = []
    for v in values:
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            text = code_str(v)
        elif pd.api.types.is_float_dtype(dtype):
            f = float(v)
            text = code_str(f) if math.isfinite(f) else None
        elif pd.api.types.is_object_dtype(dtype):  # mixed cells: 1.0 and "2" (Excel, JSON)
            text = code_str(v)
        else:
            text = str(v).strip()
        out.append(text if text else None)
    return out


def _bad_number_hint(values: list[str], count: int, fmt=None, column: str = "") -> tuple[str, str]:
    """What the bad cells are (``count`` of them, ``values`` examples) and the fix."""
    if fmt is not None:
        return (count_text(count, "value") + f" not written as {fmt.example!r} (its format)",
                f"correct or empty {'that cell' if count == 1 else 'those cells'}, or correct "
                f"[columns.{column}] format and na_values")
    mistakes = number_mistakes(values)
    if "placeholder" in mistakes:
        return (count_text(count, "placeholder") + " for a missing or infinite number",
                "leave the cell empty for a missing value and set the column's missing policy")
    if "thousands" in mistakes:
        return (count_text(count, "number") + " with thousands separators",
                "export plain numbers without separators (1234.5, not 1,234.5)")
    if "decimal-comma" in mistakes:
        return (count_text(count, "number") + " with a decimal comma",
                "export numbers with a decimal point (12.5, not 12,5)")
    return (count_text(count, "non-numeric value"),
            f"correct or empty {'that cell' if count == 1 else 'those cells'}, or declare the "
            "column kind = \"categorical\"")


#: In a category column without labels, values that are not integers are taken for a
#: data error when every other value is an integer code and they are this few: at
#: most this share of the non-empty cells (and at least one cell).
STRAY_CODE_SHARE = 0.01
_INTEGER_CODE = r"^-?[0-9]+$"


def _stray_non_integers(codes: pd.Series, levels: list[str], missing: np.ndarray
                        ) -> np.ndarray | None:
    """Rows of a category column that break its integer codes, or None when it has none.

    A column whose codes (``levels``: its distinct codes) are integers but for a
    few cells (``5;0`` where a decimal-comma export shifted the columns, ``2.5``)
    holds integer codes with errors, not text categories: the few cells are
    returned. A column with no integer code, or with many other values, is a
    column of text codes.
    """
    if not levels:
        return None
    text = pd.Series(levels, dtype=object)
    integer = text.str.fullmatch(_INTEGER_CODE).to_numpy(dtype=bool)
    if integer.all() or not integer.any():
        return None
    stray = codes.isin(list(text[~integer])).to_numpy(dtype=bool) & ~missing
    if stray.sum() > max(1, STRAY_CODE_SHARE * int((~missing).sum())):
        return None
    return stray


def _ids_apart_only_by_spaces(ids: pd.Series, column: str, err: Callable[..., None],
                              rows_of: Callable[[np.ndarray], tuple[list[int], int]]) -> None:
    """A warning when text ids are the same but for spaces around them ("C1" and "C1 ").

    The ids stay as written (they are given back byte for byte), so such rows are
    separate customers; most often they are one customer typed twice, which the
    warning names so that the file can be fixed.
    """
    if not (pd.api.types.is_string_dtype(ids) or ids.dtype == object):
        return
    present = ids.notna().to_numpy()
    text = ids.astype("str")
    stripped = text.str.strip()
    if not ((stripped != text).to_numpy() & present).any():
        return
    same = stripped.duplicated(keep=False).to_numpy() & present
    if not same.any():
        return
    rows, count = rows_of(same)
    vals = ids.to_numpy()[np.flatnonzero(same)[:MAX_EXAMPLES]]
    err("id-spaces", f"id column {column!r} has {count} rows whose ids are the same but for "
        f"spaces around them ({examples_text(rows, list(vals))}{more_text(rows, count)}); they "
        "are kept as separate customers, ids as written; fix: if they are one customer, remove "
        "the spaces or the duplicate rows in the file",
        column=column, rows=rows, count=count, severity="warning")


def _repeated_rows(df: pd.DataFrame) -> np.ndarray:
    return df.duplicated(keep="first").to_numpy()


def validate(df: pd.DataFrame, spec: Spec, *, min_rows: int = 2, mode: str = "fit",
             required: list[str] | None = None, row_offset: int = 0,
             n_jobs: int | None = None, row_numbers: np.ndarray | None = None) -> Validated:
    """Check ``df`` against ``spec`` and return typed data with every problem found.

    Parameters
    ----------
    df : DataFrame
        Raw data as read.
    spec : Spec
        The data dictionary.
    min_rows : int
        Fewest usable rows the clustering needs (e.g. the largest k + 1).
    mode : {"fit", "assign"}
        ``"assign"`` checks new customers for a fitted model: only the id (when
        present) and the ``required`` columns are checked, other columns are
        ignored, category codes the spec does not know are a warning (the model
        flags those customers as unfamiliar), and the checks that only matter for
        fitting (row count, constant columns, duplicated rows) are skipped.
    required : list of str, optional
        In ``"assign"`` mode, the columns the model needs (default: ``cluster_on``).
    row_offset : int
        Added to row numbers in messages (for data read in chunks).
    row_numbers : array of int, optional
        The position in the file of each row of ``df`` (from 0), when rows that are not
        customers were taken out first (:func:`custseg.rows.non_customer_rows`), so
        messages name the rows of the file.
    n_jobs : int, optional
        With two or more, repeated rows are looked for in a second thread while the
        columns are checked (pandas' hashing releases the GIL; on large tables it is
        the most expensive check). None or 1: all in the calling thread.
    """
    available = [str(c) for c in df.columns]  # for "did you mean", before any selection
    if mode == "assign":
        need = list(required if required is not None else spec.cluster_on)
        spec = Spec(columns={c: spec.columns[c] for c in need},
                    id=spec.id if spec.id in df.columns else None, cluster_on=need, describe=[])
        df = df[[c for c in df.columns if c in need or c == spec.id]]
        min_rows = 0
    fitting = mode == "fit"
    problems: list[Problem] = []

    def _rows(mask: np.ndarray) -> tuple[list[int], int]:
        idx = np.flatnonzero(mask)
        if row_numbers is not None:
            idx_shown = row_numbers[idx[:MAX_EXAMPLES]]
            return [int(i) + 1 + row_offset for i in idx_shown], int(idx.size)
        return [int(i) + 1 + row_offset for i in idx[:MAX_EXAMPLES]], int(idx.size)

    def err(code, msg, column=None, rows=(), count=0, severity="error"):
        problems.append(Problem(code=code, severity=severity, message=msg, column=column,
                                rows=list(rows), count=count))

    n = len(df)
    if df.shape[1] > MAX_COLUMNS:
        err("too-many-columns",
            f"the data has {df.shape[1]} columns, more than custseg handles ({MAX_COLUMNS}); "
            "fix: select the columns to segment on (e.g. with --sql) before running")
        raise ValidationError(problems)
    present = [str(c) for c in df.columns]
    wanted = ([spec.id] if spec.id else []) + list(spec.columns)
    known = set(wanted) | set(spec.ignore) | set(spec.text)
    suggested: set[str] = set()  # data columns offered as "did you mean" for a missing one
    for col in wanted:
        if col not in present:
            close = close_column(col, [c for c in available if c not in known])
            hint = f"did you mean {close!r}? " if close else ""
            if close:
                suggested.add(close)
            what = ("the model needs" if not fitting else "named in the spec")
            fix = (f"rename that column of the data to {col!r}" if not fitting and close else
                   "correct the name in the data" if not fitting else
                   "correct the name in the spec or the data")
            err("missing-column",
                f"column {col!r} {what} is missing from the data (columns there: "
                f"{', '.join(available[:20])}{', ...' if len(available) > 20 else ''}); fix: {hint}"
                f"{fix}", column=col)
    for col in present:
        if col not in known and col not in suggested:
            err("unexpected-column",
                f"column {col!r} is in the data but not in the spec; fix: add a "
                f"[columns.{col}] table to the spec, or list it under ignore = [...]", column=col)
    if n == 0:
        err("no-rows", "the data has no rows; fix: check the file or the --sql query")
    if any(p.code == "missing-column" for p in problems) or n == 0:
        raise ValidationError(problems)

    typed: dict[str, object] = {}
    drop = np.zeros(n, dtype=bool)
    repeated = None
    if fitting and not spec.id and n > 1:
        repeated = beside(_repeated_rows, df, n_jobs=n_jobs, prefer="threads")
    if spec.id:
        ids = df[spec.id]
        missing_id = ids.isna().to_numpy()
        if missing_id.any():
            rows, count = _rows(missing_id)
            err("missing-id", f"id column {spec.id!r} is empty in {count_text(count, 'row', 'rows')} "
                f"({rows_text(rows, count)}); fix: give every customer an id",
                column=spec.id, rows=rows, count=count)
        dup = ids.duplicated(keep=False).to_numpy() & ~missing_id
        if dup.any():
            rows, count = _rows(dup)
            vals = ids.to_numpy()[np.flatnonzero(dup)[:MAX_EXAMPLES]]
            err("duplicate-id", f"id column {spec.id!r} has {count} rows sharing an id "
                f"({examples_text(rows, list(vals))}); fix: remove the duplicates or "
                + ("choose another id column" if fitting else
                   "leave the id column out (customers are then numbered)"),
                column=spec.id, rows=rows, count=count)
        else:
            _ids_apart_only_by_spaces(ids, spec.id, err, _rows)
        typed[spec.id] = ids.to_numpy()

    for name, col in spec.columns.items():
        s = df[name]
        textual = pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        all_empty = s.isna().all() or (textual and s.astype("string").str.strip().eq("").all())
        if all_empty and (fitting or col.missing == "error"):
            err("empty-column", f"column {name!r} is entirely empty; fix: remove it from the "
                "spec (or list it under ignore) or fill it" if fitting else
                f"column {name!r} is entirely empty and the model needs it (missing = "
                "\"error\"); fix: fill it", column=name)
            continue
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            lengths = s.astype("string").str.len().fillna(0).to_numpy()
            huge = lengths > MAX_CELL_CHARS
            if huge.any():
                rows, count = _rows(huge)
                err("huge-cell", f"column {name!r} has {count_text(count, 'cell', 'cells')} longer "
                    f"than {MAX_CELL_CHARS:,} characters ({rows_text(rows, count)}); fix: check "
                    "the file's quoting and delimiter", column=name, rows=rows, count=count)
                continue
        if col.kind == "numeric":
            fmt = col.number_format
            values, bad, na = read_numbers(s, fmt)
            errors = na & _spreadsheet_errors(s, fmt)
            if errors.any():
                rows, count = _rows(errors)
                examples = s.to_numpy()[np.flatnonzero(errors)[:MAX_EXAMPLES]]
                err("spreadsheet-errors", f"column {name!r} has "
                    f"{count_text(count, 'spreadsheet error value', 'spreadsheet error values')} "
                    f"({examples_text(rows, list(examples))}), read as missing (na_values); fix: "
                    "correct the formulas in the spreadsheet if these customers have a value",
                    column=name, rows=rows, count=count, severity="warning")
            if bad.any():
                rows, count = _rows(bad)
                examples = s.to_numpy()[np.flatnonzero(bad)[:MAX_EXAMPLES]]
                what, fix = _bad_number_hint(list(examples), count, fmt, name)
                err("not-numeric", f"column {name!r} has {what} "
                    f"({examples_text(rows, list(examples))}); fix: {fix}", column=name, rows=rows,
                    count=count)
            huge_num = np.abs(np.nan_to_num(values)) > MAX_ABS_NUMBER
            if huge_num.any():
                rows, count = _rows(huge_num)
                err("out-of-range", f"column {name!r} has {count_text(count, 'value', 'values')} beyond "
                    f"{MAX_ABS_NUMBER:.0e} in size "
                    f"({examples_text(rows, list(values[np.flatnonzero(huge_num)[:MAX_EXAMPLES]]))}); "
                    "fix: check the units and correct those values", column=name, rows=rows,
                    count=count)
                values = np.where(huge_num, np.nan, values)
            if col.role in ("value", "engagement"):
                neg = values < 0
                if neg.any():
                    rows, count = _rows(neg)
                    err("negative", f"column {name!r} ({col.role}) has "
                        f"{count_text(count, 'negative value', 'negative values')} "
                        f"({examples_text(rows, list(values[np.flatnonzero(neg)[:MAX_EXAMPLES]]))}); "
                        f"fix: correct {'it' if count == 1 else 'them'}, or set role = "
                        "\"attribute\" if negatives are meaningful", column=name, rows=rows,
                        count=count)
            missing = np.isnan(values) & ~bad
            typed[name] = values
        else:
            codes, levels = coerce_codes_and_levels(s)
            missing = codes.isna().to_numpy()
            stray = (_stray_non_integers(codes, levels, missing) if fitting and not col.labels
                     else None)
            if stray is not None:
                rows, count = _rows(stray)
                examples = examples_text(rows, list(codes.to_numpy()[np.flatnonzero(stray)[:MAX_EXAMPLES]]))
                err("not-integer-code", f"column {name!r} holds integer codes, but "
                    f"{count_text(count, 'row has a value that is not one', 'rows have values that are not')}"
                    f" ({examples}); fix: correct {'it' if count == 1 else 'them'} (a decimal comma "
                    "or a shifted column?), or, if the column holds text codes, name every code "
                    f"in [columns.{name}] labels", column=name, rows=rows, count=count)
            if col.labels:
                unknown = ~missing & ~codes.isin(list(col.labels)).to_numpy()
                if unknown.any():
                    rows, count = _rows(unknown)
                    levels = sorted({str(x) for x in codes[unknown].unique()})
                    shown = ", ".join(map(repr, levels[:5]))
                    examples = examples_text(rows, list(codes.to_numpy()[np.flatnonzero(unknown)[:3]]))
                    what = count_text(count, "value with a code", "values with codes")
                    if fitting:
                        err("unknown-code", f"column {name!r} has {what} not in the spec's labels "
                            f"({shown}; {examples}); fix: add "
                            f"{'it' if len(levels) == 1 else 'them'} to [columns.{name}] labels "
                            "or correct the data", column=name, rows=rows, count=count)
                    else:
                        err("unseen-code", f"column {name!r} has {what} the model never saw "
                            f"({shown}; {examples}); "
                            f"{'that customer is' if count == 1 else 'those customers are'} "
                            "flagged unfamiliar", column=name, rows=rows, count=count,
                            severity="warning")
            typed[name] = codes.array
        if missing.any():
            rows, count = _rows(missing)
            if col.missing == "error":
                alt = '"median"' if col.kind == "numeric" else '"unknown"'
                err("missing-value", f"column {name!r} is empty in {count_text(count, 'row', 'rows')} ("
                    f"{rows_text(rows, count)}); fix: fill them, or set missing = "
                    f"{alt} for the column",
                    column=name, rows=rows, count=count)
            elif col.missing == "drop":
                drop |= missing
                err("dropped-rows", f"column {name!r} is empty in {count_text(count, 'row', 'rows')}, "
                    f"which {'is' if count == 1 else 'are'} left out (missing = \"drop\"; "
                    f"{rows_text(rows, count)})", column=name,
                    rows=rows, count=count, severity="warning")
        present_values = typed[name][~missing] if name in typed else []
        if fitting and len(present_values) and name in spec.cluster_on:
            first = present_values[0]
            if (col.kind == "numeric" and np.all(present_values == first)) or (
                    col.kind == "categorical" and len(pd.unique(present_values)) == 1):
                err("constant-column", f"column {name!r} has the same value ({short_text(first)!r}) "
                    "in every row, so it cannot separate segments and is left out of the "
                    "clustering", column=name, severity="warning")

    usable = int(n - drop.sum())
    if fitting and usable < min_rows:
        err("too-few-rows", f"the data has {count_text(usable, 'usable row', 'usable rows')} "
            f"(n_samples = {usable}) but the "
            f"clustering needs at least {min_rows}; fix: use more customers, or a smaller --k or "
            "--k-range")

    if repeated is not None:
        dup_rows = repeated.result()
        if dup_rows.any():
            rows, count = _rows(dup_rows)
            err("duplicate-rows", f"{count_text(count, 'row repeats', 'rows repeat')} an earlier row "
                f"exactly ({rows_text(rows, count)}); without an id column they are kept as separate "
                "customers", rows=rows, count=count, severity="warning")

    frame = pd.DataFrame({k: typed[k] for k in typed}, index=pd.RangeIndex(n))
    return Validated(frame=frame, problems=problems, drop=drop)


def close_column(name: str, candidates: list[str]) -> str | None:
    """The data column ``name`` was probably meant to be: same letters in another case, else close."""
    import difflib

    for candidate in candidates:
        if candidate.casefold() == name.casefold():
            return candidate
    folded = {c.casefold(): c for c in candidates}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def check(df: pd.DataFrame, spec: Spec, *, min_rows: int = 2) -> Validated:
    """Like :func:`validate`, raising :class:`ValidationError` if any problem is an error."""
    result = validate(df, spec, min_rows=min_rows)
    if result.errors:
        raise ValidationError(result.problems)
    return result
