"""RFM scores and named segments of a customer table.

:func:`rfm_scores` adds ``R``, ``F``, ``M`` scores 1..5 (5 is best) by quintiles
(customers with equal values share a score) or explicit cut points;
:func:`rfm_segments` names each customer by the first matching rule of a table
(:data:`DEFAULT_RFM_RULES`); :func:`rfm_segment_summary` sums up the segments.
They take a DataFrame (such as :func:`custseg.rfm.aggregate` returns) and read
no file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._messages import count_text, did_you_mean
from ..errors import ParameterError

__all__ = ["rfm_scores", "rfm_segments", "rfm_segment_summary", "DEFAULT_RFM_RULES", "FALLBACK_SEGMENT",
           "min_rank"]

#: Name given to a customer that no rule matches.
FALLBACK_SEGMENT = "Needs attention"

#: The default segment table of :func:`rfm_segments`, on scores 1..5 (5 = best).
#: The first matching rule wins, so the specific comes before the general:
#:
#: ====================== ============================ =====================================
#: segment                rule                         meaning
#: ====================== ============================ =====================================
#: Champions              R 4-5, F 4-5, M 4-5          bought recently, often, and much
#: Cannot lose them       R 1-2, F 4-5, M 4-5          were frequent big spenders; lapsing
#: At risk                R 1-2, F 3-5                 bought often, not lately
#: Loyal                  F 4-5                        buy often (and R 3-5 here)
#: Potential loyalists    R 4-5, F 2-3                 recent, a few purchases
#: New                    R 4-5, F 1                   recent, one purchase
#: Lost                   R 1, F 1                     one purchase, long ago
#: Hibernating            R 1-2, F 1-2                 few purchases, long ago
#: Needs attention        any (the fallback)           the rest: R 3 and F 1-3
#: ====================== ============================ =====================================
DEFAULT_RFM_RULES: tuple[dict[str, Any], ...] = (
    {"name": "Champions", "R": [4, 5], "F": [4, 5], "M": [4, 5]},
    {"name": "Cannot lose them", "R": [1, 2], "F": [4, 5], "M": [4, 5]},
    {"name": "At risk", "R": [1, 2], "F": [3, 5]},
    {"name": "Loyal", "F": [4, 5]},
    {"name": "Potential loyalists", "R": [4, 5], "F": [2, 3]},
    {"name": "New", "R": [4, 5], "F": [1, 1]},
    {"name": "Lost", "R": [1, 1], "F": [1, 1]},
    {"name": "Hibernating", "R": [1, 2], "F": [1, 2]},
    {"name": FALLBACK_SEGMENT},
)


_MEASURES = {"recency": "R", "frequency": "F", "monetary": "M"}


def rfm_scores(customers: pd.DataFrame, *, recency: str = "recency_days",
               frequency: str = "frequency_orders", monetary: str = "monetary_total",
               bins: int = 5, cuts: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """Add ``R``, ``F`` and ``M`` scores 1..``bins`` (``bins`` = best) to a customer table.

    Parameters
    ----------
    customers : DataFrame
        One row per customer, e.g. from :func:`aggregate`.
    recency, frequency, monetary : str
        The columns to score. Lower recency is better (a recent buyer gets
        ``R = bins``); higher frequency and monetary are better.
    bins : int, default 5
        Number of score levels (quintiles by default).
    cuts : dict, optional
        Explicit cut points per measure instead of quantiles, keys among
        ``"recency"``, ``"frequency"``, ``"monetary"``, each ``bins - 1``
        increasing numbers. Each cut is the inclusive upper end of a band:
        ``{"recency": [30, 90, 180, 365]}`` scores recency <= 30 days 5,
        31-90 days 4, 91-180 days 3, 181-365 days 2, more 1, and
        ``{"frequency": [1, 2, 4, 8]}`` scores 1 order 1, 2 orders 2, 3-4 orders
        3, 5-8 orders 4, more 5.

    Returns
    -------
    pandas.DataFrame
        A copy of ``customers`` with int64 columns ``R``, ``F``, ``M``.

    Raises
    ------
    ParameterError
        A column is missing (with the closest name), not numeric or has missing
        values; ``bins`` is below 2; ``cuts`` has an unknown key or cut points
        that are not ``bins - 1`` increasing numbers.

    Notes
    -----
    The tie rule: without cuts, a score comes from the customer's rank,
    ``rank = 1 + (number of customers with a strictly worse value)`` (pandas'
    ``rank(method="min")``) and ``score = 1 + floor(bins * (rank - 1) / n)``
    for ``n`` customers. Customers with equal values always get equal scores,
    so a measure can have fewer than ``bins`` levels: if every value is equal,
    every score is 1; in CDNOW about half of the customers bought once, so they
    all share ``F = 1`` and the next level is ``F = 3`` (F takes 4 distinct
    values, not 5). Scores never depend on row order.

    Examples
    --------
    >>> df = pd.DataFrame({"recency_days": [1, 50, 300, 300], "frequency_orders": [5, 1, 1, 2],
    ...                    "monetary_total": [90.0, 10.0, 20.0, 30.0]})
    >>> rfm_scores(df, bins=4)[["R", "F", "M"]].to_numpy().tolist()
    [[4, 4, 4], [3, 1, 1], [1, 1, 2], [1, 3, 3]]
    """
    if not isinstance(customers, pd.DataFrame):
        raise ParameterError(f"rfm_scores needs a DataFrame of customers, got {type(customers).__name__}")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ParameterError(f"the 'bins' parameter of rfm_scores must be an integer >= 2, got {bins!r}")
    bins = int(bins)
    cuts = dict(cuts or {})
    for key in cuts:
        if key not in _MEASURES:
            raise ParameterError(f"unknown key {key!r} in the RFM cuts"
                                 f"{did_you_mean(str(key), list(_MEASURES), ignore_case=True)}",
                                 fix="use the keys recency, frequency, monetary")
    out = customers.copy(deep=False)  # copy-on-write: the new columns never reach customers
    present = [str(c) for c in customers.columns]
    for measure, column in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        if column not in customers.columns:
            raise ParameterError(f"column {column!r} (the {measure} to score) is missing from the "
                                 f"customer table{did_you_mean(str(column), present, ignore_case=True)}",
                                 fix=f"pass {measure}= with one of its columns")
        s = customers[column]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_timedelta64_dtype(s)) or \
                pd.api.types.is_bool_dtype(s):
            raise ParameterError(f"column {column!r} (the {measure} to score) is not numeric "
                                 f"(dtype {s.dtype})", fix=f"pass {measure}= with a numeric column")
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            n = int(np.isnan(values).sum())
            raise ParameterError(f"column {column!r} (the {measure} to score) has "
                                 f"{count_text(n, 'missing value')}",
                                 fix="fill them or leave those customers out before scoring")
        better_low = measure == "recency"
        if measure in cuts:
            out[_MEASURES[measure]] = _cut_scores(values, _check_cuts(cuts[measure], measure, bins),
                                                  bins, better_low)
        else:
            out[_MEASURES[measure]] = _rank_scores(values, bins, better_low)
    return out


def _rank_scores(values: np.ndarray, bins: int, better_low: bool) -> np.ndarray:
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key = -values if better_low else values
    rank = min_rank(key)
    return (1 + np.floor(bins * (rank - 1) / n)).astype(np.int64)


def min_rank(key: np.ndarray) -> np.ndarray:
    """``pandas.Series(key).rank(method="min")``: 1 + the number of values strictly below.

    Whole numbers in a narrow range (days, order counts) are ranked by counting, in
    linear time; other values by pandas' sort.
    """
    lo, hi = float(key.min()), float(key.max())
    if math.isfinite(lo) and math.isfinite(hi) and hi - lo <= 4 * len(key) + 1024 \
            and bool((key == np.floor(key)).all()):
        offsets = (key - lo).astype(np.int64)
        counts = np.bincount(offsets)
        below = np.cumsum(counts) - counts
        return (below[offsets] + 1).astype(np.float64)
    return pd.Series(key).rank(method="min").to_numpy()


def _check_cuts(points: Any, measure: str, bins: int) -> np.ndarray:
    try:
        arr = np.asarray(list(points), dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.ndim != 1 or len(arr) != bins - 1 or not np.isfinite(arr).all() or (np.diff(arr) <= 0).any():
        raise ParameterError(f"the {measure} cuts must be {bins - 1} increasing numbers (one fewer "
                             f"than bins={bins}), got {points!r}",
                             fix=f"e.g. {measure} = {[30, 90, 180, 365] if bins == 5 else 'a list'}")
    return arr


def _cut_scores(values: np.ndarray, cuts: np.ndarray, bins: int, better_low: bool) -> np.ndarray:
    below = np.searchsorted(cuts, values, side="left")  # number of cuts strictly below the value
    return (bins - below if better_low else 1 + below).astype(np.int64)


_RULE_KEYS = ("name", "R", "F", "M")


def _check_rules(rules: Any) -> list[dict[str, Any]]:
    if isinstance(rules, (str, bytes, Mapping)) or not isinstance(rules, Sequence) or not rules:
        raise ParameterError("the RFM segment rules must be a non-empty list of tables such as "
                             "{\"name\": \"Champions\", \"R\": [4, 5]}")
    checked = []
    for number, rule in enumerate(rules, start=1):
        where = f"RFM segment rule {number}"
        if not isinstance(rule, Mapping):
            raise ParameterError(f"{where} must be a table, got {type(rule).__name__}",
                                 fix="write it as {\"name\": \"Champions\", \"R\": [4, 5]}")
        for key in rule:
            if key not in _RULE_KEYS:
                raise ParameterError(f"unknown key {key!r} in {where}"
                                     f"{did_you_mean(str(key), _RULE_KEYS, ignore_case=True)}",
                                     fix=f"allowed keys are {', '.join(_RULE_KEYS)}")
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"{where} needs a \"name\" (a non-empty string), got {name!r}")
        ranges = {}
        for score in ("R", "F", "M"):
            if score not in rule:
                continue
            value = rule[score]
            if isinstance(value, int | np.integer) and not isinstance(value, bool):
                value = [value, value]
            ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
                  and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                          and math.isfinite(v) for v in value) and value[0] <= value[1])
            if not ok:
                raise ParameterError(f"{score} in {where} ({name!r}) must be [low, high] with "
                                     f"low <= high, got {rule[score]!r}",
                                     fix=f"e.g. \"{score}\": [4, 5]")
            ranges[score] = (float(value[0]), float(value[1]))
        checked.append({"name": name, **ranges})
    return checked


def rfm_segments(scored: pd.DataFrame, rules: Sequence[Mapping[str, Any]] | None = None) -> pd.Series:
    """Name each customer by the first rule its scores match.

    Parameters
    ----------
    scored : DataFrame
        Customers with ``R``, ``F``, ``M`` columns (from :func:`rfm_scores`).
    rules : list of dict, optional
        The segment table, first match wins; default :data:`DEFAULT_RFM_RULES`.
        Each rule is ``{"name": str, "R": [lo, hi], "F": [lo, hi], "M": [lo, hi]}``
        with inclusive bounds; an omitted score matches any value and a single
        number ``n`` means ``[n, n]``.

    Returns
    -------
    pandas.Series
        The segment name per customer, named ``"segment"``, on the index of
        ``scored``. Customers no rule matches get :data:`FALLBACK_SEGMENT`.

    Raises
    ------
    ParameterError
        A rule has an unknown key (with the closest key), no name or a bad range,
        or ``scored`` lacks a score column a rule uses.

    Examples
    --------
    >>> scores = pd.DataFrame({"R": [5, 1, 3], "F": [5, 1, 2], "M": [5, 1, 1]})
    >>> rfm_segments(scores).tolist()
    ['Champions', 'Lost', 'Needs attention']
    """
    checked = _check_rules(DEFAULT_RFM_RULES if rules is None else rules)
    used = sorted({k for rule in checked for k in rule if k != "name"})
    for score in used:
        if score not in scored.columns:
            raise ParameterError(f"column {score!r} is missing from the scored customers",
                                 fix="compute the scores with rfm_scores first")
    import pyarrow as pa

    values = {s: scored[s].to_numpy(dtype=np.float64, na_value=np.nan) for s in used}
    labels = list(dict.fromkeys([rule["name"] for rule in checked] + [FALLBACK_SEGMENT]))
    codes = np.full(len(scored), labels.index(FALLBACK_SEGMENT), dtype=np.int32)
    open_ = np.ones(len(scored), dtype=bool)
    for rule in checked:
        match = open_.copy()
        for score in used:
            if score in rule:
                lo, hi = rule[score]
                match &= (values[score] >= lo) & (values[score] <= hi)
        codes[match] = labels.index(rule["name"])
        open_ &= ~match
    # decoded by Arrow: far faster than numpy strings for millions of customers
    names = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels, pa.large_string()))
    text = names.cast(pa.large_string()).to_pandas(
        types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get)
    return pd.Series(text.array, index=scored.index, name="segment")


def rfm_segment_summary(scored: pd.DataFrame, names: pd.Series, value: str = "monetary_total",
                        rules: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Size, value share and mean scores of each segment, as JSON-safe dicts.

    Parameters
    ----------
    scored : DataFrame
        Customers with ``R``, ``F``, ``M`` and the ``value`` column.
    names : Series
        Segment per customer (from :func:`rfm_segments`), aligned with ``scored``.
    value : str, default "monetary_total"
        The column whose share each segment holds.
    rules : list of dict, optional
        Order of the segments (default :data:`DEFAULT_RFM_RULES`); segments not
        in the rules follow, largest first.

    Returns
    -------
    list of dict
        One per non-empty segment: ``segment``, ``n``, ``share`` (of customers),
        ``value_share`` (of the total ``value``; None when the total is 0),
        ``mean_R``, ``mean_F``, ``mean_M``.

    Raises
    ------
    ParameterError
        A column is missing, or ``names`` does not have one name per customer.
    """
    if len(names) != len(scored):
        raise ParameterError(f"names has {len(names)} entries but there are {len(scored)} customers",
                             fix="pass the segments computed from the same table")
    present = [str(c) for c in scored.columns]
    for column in ("R", "F", "M", value):
        if column not in scored.columns:
            raise ParameterError(f"column {column!r} is missing from the scored customers"
                                 f"{did_you_mean(str(column), present, ignore_case=True)}",
                                 fix="compute the scores with rfm_scores first, or pass value=")
    frame = pd.DataFrame({
        "segment": np.asarray(names, dtype=object),
        "R": scored["R"].to_numpy(dtype=np.float64), "F": scored["F"].to_numpy(dtype=np.float64),
        "M": scored["M"].to_numpy(dtype=np.float64),
        "value": scored[value].to_numpy(dtype=np.float64, na_value=np.nan),
    })
    n_total = len(frame)
    total_value = float(np.nansum(frame["value"].to_numpy()))
    grouped = frame.groupby("segment", sort=False).agg(
        n=("R", "size"), mean_R=("R", "mean"), mean_F=("F", "mean"), mean_M=("M", "mean"),
        value=("value", "sum"))
    order = [r["name"] for r in _check_rules(DEFAULT_RFM_RULES if rules is None else rules)]
    rank = {name: i for i, name in enumerate(dict.fromkeys(order))}
    keys = sorted(grouped.index, key=lambda s: (rank.get(s, len(rank)), -int(grouped.at[s, "n"]), str(s)))
    out = []
    for segment in keys:
        row = grouped.loc[segment]
        out.append({
            "segment": str(segment),
            "n": int(row["n"]),
            "share": float(row["n"]) / n_total,
            "value_share": (float(row["value"]) / total_value) if total_value else None,
            "mean_R": float(row["mean_R"]),
            "mean_F": float(row["mean_F"]),
            "mean_M": float(row["mean_M"]),
        })
    return out
