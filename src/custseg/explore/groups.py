"""Where is a group of customers concentrated, and what are they worth?

:func:`group_share` breaks a group (e.g. customers who found the product through
social media) down by a categorical attribute: the group's share of each level
with a Wilson interval, the chi-square test of independence, each level's
adjusted residual (Holm-adjusted), the group's value per level, and the answer
as one sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import bad_parameter, check_alpha, check_columns, check_labels
from .column_pairs import cramers_v
from .formatting import finite, format_p, format_pct, json_safe, sentence
from .intervals import wilson
from .prepared import as_frame, compact, labels_map
from .rank_tests import holm

__all__ = ["group_share"]


def _member_mask(func: str, df: pd.DataFrame, member: Any) -> np.ndarray:
    """Membership as float (1, 0, NaN = unknown), aligned to ``df``."""
    if isinstance(member, pd.Series):
        if not member.index.equals(df.index):
            if not df.index.is_unique or not member.index.is_unique:
                raise bad_parameter(func, "member",
                                    "a boolean Series with the same index as df",
                                    "a Series with a different, non-unique index")
            member = member.reindex(df.index)
        series = member
    else:
        array = np.asarray(member)
        if array.ndim != 1 or len(array) != len(df):
            raise bad_parameter(func, "member",
                                f"a boolean Series or array of length {len(df)}",
                                f"an array of shape {array.shape}")
        series = pd.Series(array)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        out = series.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(out) & (out != 0) & (out != 1)
    else:
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=object)
        truth = {True: 1.0, False: 0.0}
        out = np.array([np.nan if m else truth.get(v, -1.0) if isinstance(v, bool | np.bool_)
                        else -1.0 for v, m in zip(values, missing, strict=True)])
        bad = out == -1.0
    if bad.any():
        examples = list(pd.unique(series[bad]))[:3]
        raise bad_parameter(func, "member",
                            "boolean (True/False or 1/0) with optional missing values", examples)
    return out


def _value_summary(v: np.ndarray, grand_total: float) -> dict[str, Any]:
    v = v[~np.isnan(v)]
    total = float(v.sum()) if len(v) else 0.0
    return {
        "count": len(v),
        "mean": float(v.mean()) if len(v) else None,
        "median": float(np.median(v)) if len(v) else None,
        "total": total,
        "share_of_total": total / grand_total if grand_total else None,
    }


def _group_verdict(out: dict[str, Any], attribute: str, group: str, word: str | None) -> str:
    overall = format_pct(out["overall_share"]) if out["overall_share"] is not None else "n/a"
    chi = out["chi2"]
    if chi is None:
        return sentence(f"cannot test whether {group} varies by {attribute}: "
                        f"{'; '.join(out['notes'][-1:]) or 'too little data'}")
    if chi["p_value"] >= out["alpha"]:
        return sentence(f"no evidence that {group} varies by {attribute} "
                        f"(chi-square {format_p(chi['p_value'])}); {overall} overall")
    if not out["over_represented"]:
        return sentence(f"{group} varies by {attribute} (chi-square {format_p(chi['p_value'])}, "
                        f"Cramer's V {chi['cramers_v']:.2f}), but no {attribute} level is "
                        f"significantly above the overall {overall} after correction")
    top = out["over_represented"][0]
    text = (f"{group} is most concentrated in {top['label']}: {format_pct(top['share'])} of "
            f"customers vs {overall} overall (adjusted residual "
            f"{top['adjusted_residual']:.1f}, {format_p(top['p_adjusted'])})")
    value = top.get("value")
    if value is not None and value["in_group"]["share_of_total"] is not None:
        text += (f"; those {top['in_group']:,} customers hold "
                 f"{format_pct(value['in_group']['share_of_total'])} of {word}")
    return sentence(text)


def group_share(
    df: pd.DataFrame,
    attribute: str,
    member: pd.Series,
    *,
    group_name: str,
    value: str | None = None,
    labels: dict[str, str] | None = None,
    alpha: float = 0.05,
    value_word: str | None = None,
) -> dict:
    """Where is a group of customers concentrated, and what are they worth?

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column to break the group down by (e.g. ``"region"``).
    member : pandas.Series of bool
        Group membership per row (e.g. ``df["channel"].isin(social)``), aligned
        to ``df`` by index (or an array of ``len(df)``). True/False or 1/0;
        missing values drop the row.
    group_name : str
        How the verdict names the group (e.g. ``"social-media discovery"``).
    value : str, optional
        Numeric column (e.g. ``"CLV"``) whose in-group worth is reported per level.
    labels : dict of str to str, optional
        Label for each attribute code.
    alpha : float, default 0.05
        Significance level; Wilson intervals have level ``1 - alpha``.
    value_word : str, optional
        How the verdict names ``value`` (default: the column name).

    Returns
    -------
    dict
        Keys: ``attribute, group_name, value, alpha, ci_level, n, n_dropped,
        in_group`` (count), ``overall_share``;

        * ``levels``: list in code order of ``{code, label, n, in_group, out_group,
          share, share_low, share_high`` (Wilson), ``lift`` (share / overall
          share), ``expected_in_group, adjusted_residual`` (Agresti's adjusted
          standardized residual of the in-group cell; the out-group cell's is its
          negative), ``p_value`` (two-sided normal), ``p_adjusted`` (Holm across
          levels), ``value}``, where ``value`` is None or ``{"in_group": S,
          "out_group": S}`` with ``S = {count, mean, median, total,
          share_of_total}`` (share of the value of all analysed rows);
        * ``crosstab``: ``{levels, labels, columns, counts, adjusted_residuals}``
          (rows = levels, columns = [in group, not in group]);
        * ``chi2``: None or ``{chi2, dof, p_value, cramers_v, cramers_v_corrected,
          min_expected}`` (no continuity correction);
        * ``over_represented`` / ``under_represented``: level dicts (as in
          ``levels``) whose share is significantly above / below the overall share
          (``p_adjusted < alpha``), ranked by share (highest / lowest first);
        * ``total_value`` (None without ``value``), ``significant`` (chi-square
          p < alpha), ``verdict`` (one sentence) and ``notes``.
    """
    func = "group_share"
    frame = as_frame(func, df)
    df = frame.df
    if not isinstance(attribute, str):
        raise bad_parameter(func, "attribute", "a column name (str)", attribute)
    if not isinstance(group_name, str) or not group_name.strip():
        raise bad_parameter(func, "group_name", "a non-empty str", group_name)
    if value is not None and not isinstance(value, str):
        raise bad_parameter(func, "value", "a column name (str) or None", value)
    check_columns(func, df, [attribute] + ([value] if value else []))
    check_labels(func, "labels", labels)
    alpha = check_alpha(func, alpha)
    label_of = labels_map(labels)
    word = value_word or value

    mask = _member_mask(func, df, member)
    codes, levels = frame.codes(attribute)
    keep = (codes >= 0) & ~np.isnan(mask)
    notes: list[str] = []
    n_dropped = int(len(keep) - keep.sum())
    if n_dropped:
        notes.append(f"{n_dropped} rows with a missing {attribute} or membership were left out")
    inside = mask[keep] == 1
    codes, used = compact(codes[keep], len(levels))
    levels = [levels[i] for i in used]
    k, n = len(levels), int(keep.sum())
    n_in = np.bincount(codes[inside], minlength=k).astype(float)
    n_lv = np.bincount(codes, minlength=k).astype(float)
    total_in = float(n_in.sum())
    overall = total_in / n if n else None

    values = total_value = None
    if value is not None:
        values = frame.numeric(value)[keep]
        total_value = float(np.nansum(values))
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            notes.append(f"{n_missing} rows with a missing {value} count in the shares but not "
                         "in the value totals")

    out: dict[str, Any] = {
        "attribute": attribute, "group_name": group_name, "value": value, "alpha": alpha,
        "ci_level": 1 - alpha, "n": n, "n_dropped": n_dropped, "in_group": int(total_in),
        "overall_share": overall, "levels": [], "crosstab": None, "chi2": None,
        "over_represented": [], "under_represented": [], "total_value": total_value,
        "significant": False, "verdict": "", "notes": notes,
    }
    low, high = wilson(n_in, n_lv, alpha)
    residual = np.full(k, np.nan)
    expected = n_lv * (overall or 0.0)
    if k >= 2 and 0 < total_in < n:
        col = overall
        residual = (n_in - expected) / np.sqrt(expected * (1 - n_lv / n) * (1 - col))
        residual[~np.isfinite(residual)] = np.nan
    p_raw = [finite(2 * stats.norm.sf(abs(r))) for r in residual]
    p_adj = holm(p_raw)
    for j, code in enumerate(levels):
        share = n_in[j] / n_lv[j]
        entry = {
            "code": code, "label": label_of.get(code, code), "n": int(n_lv[j]),
            "in_group": int(n_in[j]), "out_group": int(n_lv[j] - n_in[j]), "share": share,
            "share_low": low[j], "share_high": high[j],
            "lift": share / overall if overall else None,
            "expected_in_group": expected[j], "adjusted_residual": residual[j],
            "p_value": p_raw[j], "p_adjusted": p_adj[j], "value": None,
        }
        if values is not None:
            level_rows = codes == j
            entry["value"] = {
                "in_group": _value_summary(values[level_rows & inside], total_value),
                "out_group": _value_summary(values[level_rows & ~inside], total_value),
            }
        out["levels"].append(entry)
    out["crosstab"] = {
        "levels": levels, "labels": [lv["label"] for lv in out["levels"]],
        "columns": [group_name, f"not {group_name}"],
        "counts": [[int(a), int(b - a)] for a, b in zip(n_in, n_lv, strict=True)],
        "adjusted_residuals": [[finite(r), finite(-r)] for r in residual],
    }

    if k < 2:
        notes.append(f"fewer than 2 {attribute} levels, so there is nothing to compare")
    elif not 0 < total_in < n:
        notes.append(f"every customer is {'in' if total_in else 'outside'} {group_name}, "
                     "so the test is undefined")
    else:
        table = np.column_stack([n_in, n_lv - n_in])
        chi = cramers_v(table)
        out["chi2"] = chi
        out["significant"] = chi["p_value"] < alpha
        if chi["min_expected"] < 5:
            notes.append(f"smallest expected count is {chi['min_expected']:.1f} (< 5): the "
                         "chi-square approximation may be poor")
        for key, sign in (("over_represented", 1), ("under_represented", -1)):
            chosen = [e for e in out["levels"] if e["p_adjusted"] is not None
                      and e["p_adjusted"] < alpha and sign * e["adjusted_residual"] > 0]
            chosen.sort(key=lambda e: (-sign * e["share"], -abs(e["adjusted_residual"])))
            out[key] = chosen
    out["verdict"] = _group_verdict(out, attribute, group_name, word)
    return json_safe(out)
