"""Draft a data dictionary (:class:`~custseg.spec.Spec`) from a table: :func:`infer_spec`.

Column names and value shapes decide each column's kind and role: a column of unique
strings is the id, e-mail addresses, phone numbers, person names and addresses are
personal data (``kind = "text"``, ``pii = true``), dates are days to the observation date,
numbers written as ``$1,234.50`` are numbers, small integer codes are
categories unless the name or shape says they count something, heavy tails get a ``log``
transform, names such as ``CLV`` are values and ``minutes`` engagement, and "days since
the last login" is better low. Every choice is explained in a comment of the written spec.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .booleans import detect_booleans
from .dates import days_name, detect_date_format
from .derive import missing_name
from .errors import SpecError
from .numbers import Detected, detect_format, parse_numbers
from .spec import HEAVY_TAIL_SKEW, RECENCY_NAMES, ColumnSpec, Spec, skewness

__all__ = ["infer_spec", "RECENCY_NAMES", "MAX_CATEGORICAL_INT_LEVELS",
           "MAX_CATEGORICAL_TEXT_LEVELS"]

_VALUE_NAMES = re.compile(r"clv|ltv|value|revenue|spend|sales|amount|monetary|profit|price|"
                          r"\bmrr\b|\barr\b|arpu|charges?\b", re.I)
_ENGAGE_NAMES = re.compile(r"minute|watch|time|session|visit|engag|view|click|login|hours|days_active",
                           re.I)
_ID_NAMES = re.compile(r"(^|[_\s])id$|^id|uuid|customer$", re.I)
#: an e-mail address: personal data, never the customer id, never a category
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
#: phone numbers: 7 to 15 digits with the usual separators, an optional + and extension
_PHONE = re.compile(r"^\+?\(?[0-9][0-9 ().\-/]{5,20}[0-9](\s*(x|ext\.?)\s*[0-9]{1,5})?$", re.I)
_PHONE_NAMES = re.compile(r"phone|tel\b|telephone|mobile|cell|fax|whatsapp|msisdn", re.I)
#: person names: one to four words of letters (with ' - .), in a column named so
_PERSON = re.compile(r"^[^\W\d_][\w'’.\-]*( [^\W\d_][\w'’.\-]*){0,3}$")
_PERSON_NAMES = re.compile(r"(^|[\s_-])(first|last|full|given|family|sur|middle|contact|"
                           r"customer|client|account[\s_-]*holder)[\s_-]*name$|^name$|"
                           r"^(first|last|sur)name$|contact[\s_-]*person", re.I)
_ADDRESS_NAMES = re.compile(r"address|street|addr\b|addr[\s_-]*line|house[\s_-]*number", re.I)
#: names of columns where less is better (days since the last login, returns, churn)
_LOWER_NAMES = re.compile(r"days?[\s_-]*since|since[\s_-]*last|recency|last[\s_-]*\w*[\s_-]*days|"
                          r"days[\s_-]*ago|inactiv|dormant|churn|complain|returns?\b|returned|"
                          r"refund|cancel|unsubscrib|bounce|overdue|late[\s_-]*pay", re.I)
#: names of columns that count something (orders, visits, n_items): numbers, not codes
_COUNT_NAMES = re.compile(r"(^|[\s_-])(n|num|no|nb)[\s_-]|count|\borders?\b|purchases|visits|"
                          r"sessions|logins|items|tickets|transactions|quantity|\bqty\b|"
                          r"number[\s_-]*of|frequency|complaints|returns\b|cancellations", re.I)
MAX_CATEGORICAL_INT_LEVELS = 20
MAX_CATEGORICAL_TEXT_LEVELS = 50


def infer_spec(df: pd.DataFrame) -> tuple[Spec, dict[str, str], list[str]]:
    """Draft a spec from data.

    Returns
    -------
    spec : Spec
    comments : dict
        Comments explaining each inference, for :meth:`Spec.to_toml`.
    notes : list of str
        One line per inference, for the terminal.
    """
    comments: dict[str, str] = {}
    notes: list[str] = []
    columns: dict[str, ColumnSpec] = {}
    id_col = None
    ignore: list[str] = []
    text_cols: dict[str, ColumnSpec] = {}
    formats: dict[str, Detected] = {}
    n = len(df)
    for name in df.columns:
        s = df[name]
        nonnull = s.dropna()
        if nonnull.empty:
            ignore.append(name)
            notes.append(f"{name}: entirely empty, ignored")
            continue
        what = _personal(str(name), nonnull)
        if what:
            text_cols[name] = ColumnSpec(name=name, kind="text", pii=True)
            comments[f"columns.{name}"] = (
                f"{what}: personal data (pii = true). Never the id, never segmented on; its "
                "values stay out of every output of a run,\nand custseg export adds it only "
                "when named in --columns.")
            notes.append(f"{name}: {what} (personal data), never the id, kept out of outputs")
            continue
        if detect_booleans(str(name), nonnull):
            columns[name] = ColumnSpec(name=name, kind="boolean", role="attribute")
            comments[f"columns.{name}"] = ("yes/no values (" + ", ".join(
                sorted({str(v) for v in nonnull.unique()[:4]})) + "): read as the two levels "
                "yes and no.")
            notes.append(f"{name}: yes/no, boolean")
            continue
        dated = detect_date_format(nonnull)
        if dated is not None:
            columns[name], comments[f"columns.{name}"], note = _date_column(name, s, *dated)
            notes.append(note)
            continue
        written = _written_numbers(nonnull)
        if written is not None:  # "$1,234.50", "12,5", "N/A": numbers as people write them
            values, detected = written
            s, nonnull = pd.Series(values, index=s.index, name=name), pd.Series(values).dropna()
            formats[name] = detected
            if nonnull.empty:
                ignore.append(name)
                notes.append(f"{name}: no numbers, only missing-value words, ignored")
                continue
        nunique = nonnull.nunique()
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        is_unique = nunique == len(nonnull) == n
        if id_col is None and is_unique and n > 1 and (
            not numeric or (_ID_NAMES.search(str(name)) and _integer_like(nonnull))
        ):
            id_col = name
            notes.append(f"{name}: unique for every row, used as the customer id")
            continue
        if nunique == 1:
            ignore.append(name)
            notes.append(f"{name}: constant ({nonnull.iloc[0]!r}), ignored")
            continue
        count = numeric and _integer_like(nonnull) and _count_like(str(name), nonnull)
        if (numeric and not count and _integer_like(nonnull)
                and nunique <= MAX_CATEGORICAL_INT_LEVELS):
            codes = sorted(nonnull.astype("int64").unique().tolist())
            columns[name] = ColumnSpec(name=name, kind="categorical", role="attribute")
            comments[f"columns.{name}"] = (
                f"{nunique} integer codes ({', '.join(map(str, codes[:12]))}"
                f"{', ...' if len(codes) > 12 else ''}): read as categories, not numbers.\n"
                "Add labels = { 1 = \"...\" } to name the codes in the report."
                + ("\nIf they count something (0, 1, 2, ... of it), set kind = \"numeric\" "
                   "instead." if codes == list(range(len(codes))) and len(codes) >= 5 else "")
            )
            notes.append(f"{name}: {nunique} integer codes, categorical")
            continue
        if numeric:
            lower = bool(_LOWER_NAMES.search(str(name)))
            recency = lower and bool(RECENCY_NAMES.search(str(name)))
            if lower:  # a value column is summed into value shares: more must be better
                role = ("engagement" if recency or _ENGAGE_NAMES.search(str(name))
                        else "attribute")
            else:
                role = ("value" if _VALUE_NAMES.search(str(name))
                        else "engagement" if count or _ENGAGE_NAMES.search(str(name))
                        else "attribute")
            # an empty "days since the last login" is not "today": never zero for recency
            missing = ("never" if recency
                       else "zero" if role == "engagement" or count else "median")
            sk = skewness(nonnull.to_numpy(dtype=float))
            nonneg = bool((nonnull >= 0).all())
            transform = "log" if (sk > HEAVY_TAIL_SKEW and nonneg) else "none"
            detected = formats.get(name)
            fmt = detected.fmt if detected else None
            columns[name] = ColumnSpec(name=name, kind="numeric", role=role, missing=missing,
                                       transform=transform, better="lower" if lower else "higher",
                                       format="" if fmt is None or fmt.is_plain else fmt.example,
                                       na_values=fmt.na_values if fmt else ())
            text = [f"role {role!r} guessed from the name."]
            if detected is not None:
                text.append(_format_comment(detected))
                notes.append(f"{name}: numbers written as text ({detected.fmt.describe()})"
                             + (", read as " + repr(fmt.example) if not fmt.is_plain else "")
                             + (" (ambiguous, see the spec comment)" if detected.ambiguous else ""))
            if count:
                text.append(f"integers {int(nonnull.min())} to {int(nonnull.max())}: a count, so "
                            "a number (not categories); if they are codes, set kind = "
                            "\"categorical\".")
            if lower:
                text.append("better = \"lower\" from the name: fewer is better, so segments "
                            "high on it are named for it (inactive, lapsed), never as engaged; "
                            "delete the line if more is better.")
            n_missing = int(s.isna().sum())
            if n_missing:
                text.append(
                    f"{n_missing} empty cells: missing = {missing!r}"
                    + (" (empty engagement usually means none, e.g. bought but never watched)"
                       if missing == "zero" else "")
                    + (" (empty here usually means never, not today: such a customer gets the "
                       "largest value seen and the 0/1 feature '" + missing_name(str(name))
                       + "'; zero would call them the most recent)" if recency else "")
                    + "; alternatives: zero, median, mean, never, drop, error."
                )
            if transform == "log":
                text.append(f"skewness {sk:.1f}: heavy tail, log1p suggested so a few extreme "
                            "customers do not dominate the distances.")
            comments[f"columns.{name}"] = "\n".join(text)
            notes.append(f"{name}: numeric, role {role}, missing={missing}"
                         + (", count" if count else "") + (", lower is better" if lower else "")
                         + (f", log transform (skewness {sk:.1f})" if transform == "log" else ""))
            continue
        if nunique <= MAX_CATEGORICAL_TEXT_LEVELS:
            columns[name] = ColumnSpec(name=name, kind="categorical", role="attribute")
            notes.append(f"{name}: {nunique} text levels, categorical")
            continue
        text_cols[name] = ColumnSpec(name=name, kind="text")
        comments[f"columns.{name}"] = (f"{nunique} distinct texts, too many for a category: "
                                       "free text, read but not segmented on.")
        notes.append(f"{name}: {nunique} distinct texts, free text, not segmented on")
    if not columns:
        raise SpecError("no usable column found to describe customers",
                        fix="check the file has numeric or categorical columns besides the id")
    numeric_cols = [c for c, col in columns.items() if col.kind in ("numeric", "date")]
    categorical_cols = [c for c, col in columns.items() if col.kind == "categorical"]
    cluster_on = numeric_cols or categorical_cols
    describe = [c for c in columns if c not in cluster_on]
    comments["cluster_on"] = (
        "Columns the clustering uses. Categorical attributes are left out on purpose: one-hot\n"
        "columns dominate distances and yield segments that merely copy them. They go under\n"
        "'describe' and still appear in every profile. Use --cluster-on all to include them."
    )
    comments["describe"] = "Columns that only describe the segments."
    if ignore:
        comments["ignore"] = "Columns present in the data that custseg does not use." + (
            "")
    comments["clustering"] = ("k_range is searched unless k is set; n_init k-means "
                              "initialisations per k; seed makes runs reproducible.")
    spec = Spec(columns=columns, id=id_col, cluster_on=cluster_on, describe=describe, text=text_cols,
                ignore=ignore)
    return spec, comments, notes


#: share of a text column's non-empty cells that must read as numbers (or missing-value
#: words) for the column to be numbers; the rest are errors validation names by row
NUMBER_SHARE = 0.95


def _written_numbers(values: pd.Series) -> tuple[np.ndarray, Detected] | None:
    """A text column's numbers and how they are written, or None when it is not numbers.

    Integer text with leading zeros (``00123``) is an identifier or a code, never numbers.
    """
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    if len(values) > 2_000:  # the first thousand decide whether the rest are looked at
        head = detect_format(values.head(1_000))
        if head is None or head.share < NUMBER_SHARE:
            return None
    text = values.astype(str)
    if text.str.match(r"^\s*-?0[0-9]+\s*$").any():
        return None
    detected = detect_format(values)
    if detected is None or detected.share < NUMBER_SHARE:
        return None
    parsed, _, _ = parse_numbers(values, detected.fmt)
    return parsed, detected


def _date_column(name: str, s: pd.Series, fmt: str, ambiguous: bool
                 ) -> tuple[ColumnSpec, str, str]:
    """A date column's spec, comment and note: days to the observation date, in the
    direction its name says (days since a last purchase: lower is better)."""
    since = bool(RECENCY_NAMES.search(str(name)))
    col = ColumnSpec(name=name, kind="date", role="engagement" if since else "attribute",
                     missing="never" if since else "median", transform="none",
                     better="lower" if since else "higher",
                     format=fmt)
    what = ("days since it: fewer is better (better = \"lower\"), a lapsed customer has many"
            if since else "the customer's tenure when it is a sign-up or first-order date")
    text = [f"dates written {fmt}: segmented as {days_name(name)!r}, the days from the date to "
            f"the observation date (as_of; default the newest date in the file): {what}."]
    if ambiguous:
        text.append("Ambiguous: every date here reads day-first and month-first (no day above "
                    "12); check format (DD/MM/YYYY or MM/DD/YYYY).")
    n_missing = int(s.isna().sum())
    if n_missing:
        text.append(f"{n_missing} empty cells: missing = {col.missing!r}" + (
            " (empty here usually means never: such a customer gets the largest days seen and "
            f"the 0/1 feature '{missing_name(str(name))}')" if since else "")
            + "; alternatives: zero, median, mean, never, drop, error.")
    note = (f"{name}: dates ({fmt}{', ambiguous' if ambiguous else ''}), segmented as "
            f"{days_name(name)!r}" + (", lower is better" if since else ""))
    return col, "\n".join(text), note


def _format_comment(detected: Detected) -> str:
    """The spec comment for a column read through a number format."""
    fmt = detected.fmt
    text = []
    if fmt.is_plain:
        text.append("numbers stored as text: read as numbers.")
    else:
        text.append(f"written as {fmt.example!r} ({fmt.describe()}): format says so and the "
                    "numbers are read by it.")
    if detected.ambiguous:
        text.append("Ambiguous: every value reads as a number another way too (1,234 may be "
                    "1234 or 1.234 written with a decimal comma); check format.")
    if fmt.na_values:
        errors = (f"; {', '.join(detected.errors)} are spreadsheet errors (formulas that "
                  "failed), also read as missing, with a warning" if detected.errors else "")
        text.append(f"{detected.na_cells} cells spelt {', '.join(fmt.na_values)} are read as "
                    f"missing (na_values){errors}.")
    unread = 1 - detected.share
    if unread > 0:
        text.append(f"{unread:.1%} of the cells are not numbers in this format: validation "
                    "names their rows.")
    return "\n".join(text)


def _personal(name: str, values: pd.Series) -> str:
    """What personal data a column holds ("e-mail addresses", ...), or "" when none.

    Judged on the first 1,000 non-empty values: nine in ten must have the shape, and
    for phone numbers, person names and addresses (whose shapes other data shares)
    the column's name must say so too.
    """
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        if _PHONE_NAMES.search(name) and bool((values.head(1_000).abs() >= 1e6).all()):
            return "phone numbers"  # digits only, read as a number
        return ""
    head = values.head(1_000).astype(str).str.strip()
    if head.str.match(_EMAIL).mean() >= 0.9:
        return "e-mail addresses"
    distinct = head.nunique() > min(50, len(head) // 2)  # a column of a few values is no person
    if _PHONE_NAMES.search(name) and head.str.match(_PHONE).mean() >= 0.9:
        return "phone numbers"
    if _PERSON_NAMES.search(name) and distinct and head.str.match(_PERSON).mean() >= 0.9:
        return "person names"
    if _ADDRESS_NAMES.search(name) and distinct and head.str.contains(r"[A-Za-z]").mean() >= 0.9:
        return "addresses"
    return ""


def _count_like(name: str, values: pd.Series) -> bool:
    """Whether non-negative integer values count something rather than code it.

    The name says so (orders, visits, n_items, complaints), or the values run from
    0 to at least 9 with most of the numbers in between present, the larger ones
    rarer: the shape of a count. Codes such as region 0-2 or channel 1-8 are
    neither.
    """
    if (values < 0).any():
        return False
    if _COUNT_NAMES.search(name):
        return True
    top = int(values.max())
    if int(values.min()) != 0 or top < 9:
        return False
    counts = values.astype("int64").value_counts()
    if len(counts) < 0.6 * (top + 1):
        return False
    low, high = counts[counts.index <= top // 2].sum(), counts[counts.index > top // 2].sum()
    return bool(low > high)


def _integer_like(s: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(s):
        return False
    v = s.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))
