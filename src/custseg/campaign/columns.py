"""The columns of a campaign's results, their arms and their checks.

:func:`guess_columns` names the id, arm (group), outcome and revenue columns of a
results table when the user does not (as :func:`custseg.rfm.guess_transaction_columns`
does for an order log); :func:`guess_arms` tells the control arm from the
treatment arm(s); :func:`check_results` turns the table into the typed frame the
analysis reads (``id``, ``arm``, ``outcome``, ``revenue``) or raises an
:class:`~custseg.errors.InputError` naming the problem, where and the fix.
Everything here is pure: DataFrames in, DataFrames and warnings out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._messages import count_text, did_you_mean, examples_text, more_text
from ..errors import InputError, ParameterError

__all__ = ["CampaignColumns", "guess_columns", "guess_arms", "check_results", "parse_split",
           "outcome_values"]

_ROLE_WORDS = {
    "id": re.compile(r"^(customer|client|user|member|account|contact)?[ _-]?(id|key|no|number)$"
                     r"|^(customer|client|user|member|account|contact)$", re.I),
    "group": re.compile(r"^(group|arm|variant|treatment|test[ _-]?group|ab[ _-]?group|bucket|"
                        r"cell|cohort|assignment|condition|experiment[ _-]?group)$", re.I),
    "outcome": re.compile(r"^(converted|conversion|outcome|purchased|bought|responded|response|"
                          r"clicked|success|redeemed|y|target|ordered|is[ _-]?converted)$", re.I),
    "revenue": re.compile(r"^(revenue|amount|value|sales|spend|order[ _-]?value|gmv|"
                          r"purchase[ _-]?amount|revenue[ _-]?usd)$", re.I),
}

#: arm names read as the control (compared in lower case)
CONTROL_WORDS = ("control", "ctrl", "holdout", "hold-out", "hold out", "baseline", "a", "0",
                 "false", "no", "c", "placebo", "untreated", "not treated", "none")
#: arm names read as a treatment
TREATMENT_WORDS = ("treatment", "treated", "test", "variant", "exposed", "b", "1", "true", "yes",
                   "t", "campaign", "offer")

_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


@dataclass(frozen=True)
class CampaignColumns:
    """Which column of the results holds the id, the arm, the outcome and the revenue."""

    id: str | None
    group: str
    outcome: str
    revenue: str | None = None

    def roles(self) -> dict[str, str]:
        return {k: v for k, v in (("id", self.id), ("group", self.group),
                                  ("outcome", self.outcome), ("revenue", self.revenue)) if v}


def _missing_column(option: str, name: str, columns: list) -> InputError:
    return InputError(f"the results have no column {name!r}{did_you_mean(name, columns)}",
                      where=f"--{option}",
                      fix=f"pick one of: {', '.join(map(str, columns[:12]))}")


def guess_columns(frame: pd.DataFrame, *, id: str | None = None, group: str | None = None,
                  outcome: str | None = None, revenue: str | None = None,
                  id_candidates: tuple[str, ...] = (), sample: int = 10_000) -> CampaignColumns:
    """The columns of a results table: those given, the rest guessed from names and values.

    The id is ``id``, else a column named like one of ``id_candidates`` (the run's
    id column), else one named like an id (``customer_id``, ``user_id``, ``id``
    ...). The group is a column named like one (``group``, ``arm``, ``variant``
    ...), else the only text column with two to five values. The outcome is named
    like one (``converted``, ``outcome`` ...), else the only column holding only
    0 and 1. The revenue is named like one, or absent.

    Raises
    ------
    InputError
        A named column is not in the table, or the group or outcome cannot be told.
    """
    columns = list(frame.columns)
    names = [c for c in columns if isinstance(c, str)]
    for option, name in (("id", id), ("group", group), ("outcome", outcome),
                         ("revenue", revenue)):
        if name is not None and name not in columns:
            raise _missing_column(option, name, columns)
    head = frame.head(sample)

    def pick(role: str, pool: list[str]) -> str | None:
        named = [c for c in pool if _ROLE_WORDS[role].search(c.strip())]
        return named[0] if named else None

    if id is None:
        id = next((c for c in id_candidates if c in columns), None) or pick("id", names)
    taken = {id}
    if group is None:
        group = pick("group", [c for c in names if c not in taken])
        if group is None:
            few = [c for c in names if c not in taken and not pd.api.types.is_numeric_dtype(head[c])
                   and 2 <= head[c].nunique() <= 5]
            group = few[0] if len(few) == 1 else None
        if group is None:
            raise InputError("cannot tell which column holds the arm (treatment or control) "
                             "of each customer", fix="pass --group COLUMN")
    taken.add(group)
    if outcome is None:
        outcome = pick("outcome", [c for c in names if c not in taken])
        if outcome is None:
            binary = [c for c in names if c not in taken and _is_binary(head[c])]
            outcome = binary[0] if len(binary) == 1 else None
        if outcome is None:
            raise InputError("cannot tell which column holds the 0/1 outcome (converted or not)",
                             fix="pass --outcome COLUMN")
    taken.add(outcome)
    if revenue is None:
        revenue = pick("revenue", [c for c in names if c not in taken
                                   and pd.api.types.is_numeric_dtype(head[c])
                                   and not pd.api.types.is_bool_dtype(head[c])])
    return CampaignColumns(id=id, group=group, outcome=outcome, revenue=revenue)


def _is_binary(s: pd.Series) -> bool:
    values = s.dropna()
    if values.empty:
        return False
    if pd.api.types.is_bool_dtype(values):
        return True
    return set(values.astype(str).str.strip().str.lower().unique()) <= (_TRUE | _FALSE) and \
        values.nunique() == 2


def guess_arms(values: list[str], *, control: str | None = None,
               treatment: str | None = None) -> tuple[str, list[str]]:
    """``(control, treatments)`` among the arm names ``values`` (as text).

    ``control`` and ``treatment`` are used when given (each must be one of the
    values); otherwise the control is the one arm named like a control
    (``control``, ``holdout``, ``A``, ``0`` ...), or, of two arms, the other one
    when exactly one is named like a treatment. With ``treatment`` given only that
    arm is compared; else every other arm is, in the order of their names.

    Raises
    ------
    InputError
        A named arm is not in the file, there is only one arm, or the control
        cannot be told.
    """
    shown = ", ".join(repr(v) for v in values[:10]) + more_text(values[:10], len(values))
    for option, name in (("control", control), ("treatment", treatment)):
        if name is not None and name not in values:
            raise InputError(f"the arm {name!r} is not in the results{did_you_mean(name, values)}",
                             where=f"--{option}", fix=f"the arms are {shown}")
    if len(values) < 2:
        raise InputError(f"the results have only one arm ({shown}): nothing to compare",
                         fix="include the control group's customers in the file")
    if control is None:
        lower = {v: v.strip().lower() for v in values}
        controls = [v for v in values if lower[v] in CONTROL_WORDS and v != treatment]
        if len(controls) != 1 and len(values) == 2:
            others = [v for v in values if lower[v] not in TREATMENT_WORDS]
            if treatment is not None:
                controls = [v for v in values if v != treatment]
            elif len(others) == 1:
                controls = others
        if len(controls) != 1:
            raise InputError(f"cannot tell which arm is the control among {shown}",
                             fix="pass --control NAME (and --treatment NAME)")
        control = controls[0]
    if treatment is not None:
        if treatment == control:
            raise ParameterError(f"--treatment and --control name the same arm {control!r}",
                                 fix="name two different arms")
        return control, [treatment]
    return control, sorted(v for v in values if v != control)


def parse_split(text: str | None, arms: list[str]) -> dict[str, float]:
    """The planned share of each arm from text such as ``"50/50"`` or ``"90/10"``.

    ``text`` lists one number per arm, in the order of ``arms`` (the treatment(s)
    first, then the control, as ``--split 90/10`` reads "90 % treated, 10 %
    held out"); None means equal shares. The numbers are normalised to sum to 1.

    Raises
    ------
    ParameterError
        Not one positive number per arm.
    """
    if text is None:
        return {a: 1.0 / len(arms) for a in arms}
    parts = [p.strip() for p in re.split(r"[/:,]", str(text))]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != len(arms) or not all(np.isfinite(n) and n > 0 for n in numbers):
        raise ParameterError(f"--split must give one positive number per arm ({' / '.join(arms)})"
                             f", got {text!r}", fix="e.g. --split " + "/".join(
                                 ["50"] * len(arms) if len(arms) == 2 else ["1"] * len(arms)))
    total = sum(numbers)
    return {a: n / total for a, n in zip(arms, numbers, strict=True)}


def outcome_values(s: pd.Series, column: str) -> np.ndarray:
    """The 0/1 outcome as int8, from numbers, booleans or text (``yes``/``no``, ``true``...).

    Raises
    ------
    InputError
        A cell is empty or holds anything else, with example rows.
    """
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.to_numpy().astype(np.int8)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        bad = ~((values == 0) | (values == 1))
        if not bad.any():
            return values.astype(np.int8)
    else:
        text = s.astype("string").str.strip().str.lower()
        ones = text.isin(list(_TRUE)).fillna(False).to_numpy(dtype=bool)
        zeros = text.isin(list(_FALSE)).fillna(False).to_numpy(dtype=bool)
        bad = ~(ones | zeros)
        if not bad.any():
            return ones.astype(np.int8)
        values = s.to_numpy(dtype=object)
    where = np.flatnonzero(bad)
    shown = where[:3]
    raise InputError(f"column {column!r} must hold 0 or 1 (converted or not), but "
                     f"{count_text(len(where), 'cell')} "
                     f"{'holds' if len(where) == 1 else 'hold'} something else "
                     f"({examples_text([int(r) + 1 for r in shown], [s.iloc[r] for r in shown])}"
                     f"{more_text(shown, len(where))})",
                     fix="write 1 for a customer who converted and 0 for one who did not, "
                         "or pass --outcome for another column")


def check_results(frame: pd.DataFrame, cols: CampaignColumns) -> tuple[pd.DataFrame, list[dict]]:
    """The typed results: columns ``id`` (as written), ``arm`` (text), ``outcome`` (0/1)
    and, with a revenue column, ``revenue`` (float), plus the warnings.

    Raises
    ------
    InputError
        An empty arm, an outcome other than 0/1, or an id that appears twice (in
        both arms, or twice in one).
    """
    warnings: list[dict] = []
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    if cols.id is not None:
        import pyarrow as pa

        # Arrow-backed: hashed (checks, join) without a Python object per id
        out["id"] = pd.arrays.ArrowExtensionArray(pa.array(frame[cols.id].to_numpy(),
                                                           from_pandas=True))
    arm = frame[cols.group]
    if arm.isna().any():
        rows = np.flatnonzero(arm.isna().to_numpy())
        raise InputError(f"column {cols.group!r} (the arm) is empty in "
                         f"{count_text(len(rows), 'row')} (row {rows[0] + 1}"
                         f"{more_text(rows[:1], len(rows))})",
                         fix="give every customer its arm, or leave them out of the file")
    text = arm.dtype == object and pd.api.types.infer_dtype(arm, skipna=False) == "string"
    out["arm"] = (arm if text else arm.astype(str)).to_numpy()
    out["outcome"] = outcome_values(frame[cols.outcome], cols.outcome)
    if cols.revenue is not None:
        rev = frame[cols.revenue]
        if not pd.api.types.is_numeric_dtype(rev) or pd.api.types.is_bool_dtype(rev):
            raise InputError(f"column {cols.revenue!r} (the revenue) must hold numbers, got "
                             f"{rev.dtype} values such as {str(rev.dropna().iloc[0])[:40]!r}"
                             if rev.notna().any() else f"column {cols.revenue!r} is empty",
                             fix="pass --revenue for a numeric column, or clean the column")
        values = rev.to_numpy(dtype=float, na_value=np.nan)
        empty = ~np.isfinite(values)
        if empty.any():
            warnings.append({"code": "revenue-missing", "message": (
                f"{count_text(int(empty.sum()), 'customer')} with an empty (or infinite) "
                f"{cols.revenue!r} count as 0 revenue")})
            values = np.where(empty, 0.0, values)
        stray = (out["outcome"].to_numpy() == 0) & (values != 0)
        if stray.any():
            warnings.append({"code": "revenue-without-conversion", "message": (
                f"{count_text(int(stray.sum()), 'customer')} did not convert but have a "
                f"non-zero {cols.revenue!r}; their revenue counts as 0 (customers who did not "
                "convert count as 0)")})
            values = np.where(stray, 0.0, values)
        out["revenue"] = values
    if cols.id is not None:
        _check_ids(out, cols)
    return out, warnings


def _check_ids(out: pd.DataFrame, cols: CampaignColumns) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = out["id"]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())
        raise InputError(f"column {cols.id!r} (the customer id) is empty in "
                         f"{count_text(len(rows), 'row')} (row {rows[0] + 1}"
                         f"{more_text(rows[:1], len(rows))})", fix="give every customer its id")
    # hashing in Arrow: ten million text ids take a second, not the ten pandas needs
    arrow = pa.array(ids.array)
    counts = pc.value_counts(arrow)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if len(repeated) == 0:
        return
    mask = pc.is_in(arrow, value_set=repeated).to_numpy(zero_copy_only=False)
    dup = out.loc[mask]
    arms = dup.groupby("id", sort=False)["arm"].nunique()
    crossed = arms[arms > 1]
    first = crossed.index[0] if len(crossed) else dup["id"].iloc[0]
    rows = np.flatnonzero(mask)[(dup["id"] == first).to_numpy()][:2] + 1
    if len(crossed):
        raise InputError(f"{count_text(len(crossed), 'customer')} "
                         f"{'appears' if len(crossed) == 1 else 'appear'} in more than one arm "
                         f"(id {str(first)[:40]!r} in rows {rows[0]} and {rows[1]})",
                         fix="a customer belongs to one arm: remove the customers who were "
                             "exposed to both (they invalidate the comparison)")
    extra = int(len(dup) - len(arms))
    raise InputError(f"{count_text(extra, 'id')} {'repeats' if extra == 1 else 'repeat'} an "
                     "earlier row "
                     f"(id {str(first)[:40]!r} in rows {rows[0]} and {rows[1]})",
                     fix="give one row per customer (sum their outcome and revenue first)")
