"""Rule-based recommendations, each with the evidence that triggered it.

These are heuristics, not findings: every recommendation names its rule and the
numbers behind it so a marketer can judge it. Thresholds come from
:data:`DEFAULT_RULES` and can be changed in the spec's ``[recommendations]`` table.

Segment rules (``v`` = value share / customer share, ``z`` = segment mean in
population standard deviations, on log1p for heavy-tailed columns):

- **retain**: ``v >= retain_value_index``: the segment holds far more value than
  its size; protect it (loyalty, service, early warning on churn).
- **nurture**: value ``z >= trait_z`` and engagement ``z <= -trait_z``: valuable
  but disengaged, at risk; re-engage them.
- **monetise**: engagement ``z >= trait_z`` and value ``z <= 0``: engaged but
  below-average value; upsell.
- **reconsider**: ``v <= reconsider_value_index`` and engagement ``z < 0``: little
  value, little engagement; cut acquisition spend that brings such customers.

Cell rules (levels of an attribute such as channel or region):

- **invest**: the level's median value is significantly above the rest
  (Mann-Whitney, Holm-adjusted p < alpha) by at least ``min_lift_pct`` percent.
- **reconsider**: significantly below the rest by at least ``min_lift_pct``.
- **invest** (group push): a group (e.g. social media) is over-represented in a
  level (adjusted residual > 1.96, Holm-adjusted p < alpha).
"""

from __future__ import annotations

import difflib

from .errors import SpecError

__all__ = ["DEFAULT_RULES", "rules_from_spec", "segment_recommendations", "cell_recommendations",
           "NOTE"]

DEFAULT_RULES = {
    "retain_value_index": 1.5,
    "reconsider_value_index": 0.5,
    "trait_z": 0.5,
    "alpha": 0.05,
    "min_lift_pct": 5.0,
}

NOTE = ("Recommendations are heuristics: each follows a stated rule from the numbers shown; "
        "check them against costs and context before acting.")


def rules_from_spec(overrides: dict | None) -> dict:
    """Default thresholds updated by the spec's ``[recommendations]`` table."""
    rules = dict(DEFAULT_RULES)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_RULES:
            close = difflib.get_close_matches(key, list(DEFAULT_RULES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"unknown key {key!r} in [recommendations]{hint}",
                            fix=f"allowed keys there are {', '.join(DEFAULT_RULES)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"[recommendations] {key} must be a number, got {value!r}",
                            fix=f"e.g. {key} = {DEFAULT_RULES[key]}")
        rules[key] = float(value)
    return rules


def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x) >= 0.1 else f"{x:.1%}"


def segment_recommendations(segments: list[dict], value_col: str | None, engagement_col: str | None,
                            rules: dict, *, engagement_better: str = "higher") -> list[dict]:
    """Recommendations per segment from profiles (with ``z`` and ``value_share``).

    ``engagement_better="lower"`` (days since the last login): the engagement
    rules read the column's z with its sign turned, so that a segment far above
    average there counts as disengaged; the evidence keeps the column's own z and
    says which end is better.
    """
    out = []
    sign = -1.0 if engagement_better == "lower" else 1.0
    better = " (lower is better)" if sign < 0 else ""
    tz = rules["trait_z"]
    for s in segments:
        share = s["share"]
        vshare = s["value_share"].get(value_col) if value_col else None
        index = (vshare / share) if (vshare is not None and share > 0) else None
        zv = s["z"].get(value_col) if value_col else None
        raw_ze = s["z"].get(engagement_col) if engagement_col else None
        ze = None if raw_ze is None else sign * raw_ze
        evidence = {"customer_share": round(share, 4)}
        if vshare is not None:
            evidence["value_share"] = round(vshare, 4)
            evidence["value_index"] = round(index, 3)
        if zv is not None:
            evidence["value_z"] = round(zv, 3)
        if ze is not None:
            evidence["engagement_z"] = round(raw_ze, 3)

        def rec(action, title, text, rule, _s=s, _ev=evidence):
            out.append({"target": "segment", "segment": _s["segment"], "cell": None,
                        "action": action, "title": title, "evidence": dict(_ev),
                        "evidence_text": text, "rule": rule})

        name = s["name"]
        if index is not None and index >= rules["retain_value_index"]:
            rec("retain", f"Retain {name}",
                f"{_pct(vshare)} of {value_col} from {_pct(share)} of customers "
                f"(value index {index:.2f})",
                f"value share / customer share >= {rules['retain_value_index']:g}")
        if zv is not None and ze is not None and zv >= tz and ze <= -tz:
            rec("nurture", f"Re-engage {name}",
                f"{value_col} {zv:+.2f} sd but {engagement_col} {raw_ze:+.2f} sd{better} vs all "
                "customers", f"value z >= {tz:g} and engagement z <= -{tz:g}"
                + (" (engagement z with its sign turned)" if better else ""))
        if ze is not None and zv is not None and ze >= tz and zv <= 0:
            rec("monetise", f"Upsell {name}",
                f"{engagement_col} {raw_ze:+.2f} sd{better} but {value_col} {zv:+.2f} sd vs all "
                "customers", f"engagement z >= {tz:g} and value z <= 0"
                + (" (engagement z with its sign turned)" if better else ""))
        if (index is not None and index <= rules["reconsider_value_index"]
                and (ze is None or ze < 0)):
            rec("reconsider", f"Reconsider spend on {name}",
                f"{_pct(vshare)} of {value_col} from {_pct(share)} of customers "
                f"(value index {index:.2f})"
                + (f", {engagement_col} {raw_ze:+.2f} sd{better}" if ze is not None else ""),
                f"value share / customer share <= {rules['reconsider_value_index']:g} and "
                "engagement below average")
    return out


def cell_recommendations(question1: list[dict], question2: list[dict], value_cols: list[str],
                         rules: dict) -> list[dict]:
    """Recommendations per attribute level from the answers to questions 1 and 2."""
    out = []
    alpha = rules["alpha"]
    min_pct = rules["min_lift_pct"]
    for q in question1:
        if q.get("target") not in value_cols or not q.get("significant"):
            continue
        for kind, levels in (("invest", q.get("best_levels") or []),
                             ("reconsider", q.get("worst_levels") or [])):
            for lvl in levels:
                pct = lvl.get("median_vs_rest_pct")
                p = lvl.get("p_adjusted")
                if p is None or p >= alpha or pct is None or abs(pct) < min_pct:
                    continue
                verb = "Invest in" if kind == "invest" else "Reconsider"
                out.append({
                    "target": "cell", "segment": None,
                    "cell": {"attribute": q["attribute"], "level": lvl["label"],
                             "code": lvl["code"]},
                    "action": kind,
                    "title": f"{verb} {q['attribute']} {lvl['label']}",
                    "evidence": {"n": lvl["n"], "median": lvl["median"],
                                 "median_rest": lvl["median_rest"], "median_vs_rest_pct": pct,
                                 "rank_biserial": lvl.get("rank_biserial"), "p_adjusted": p},
                    "evidence_text": (f"median {q['target']} {lvl['median']:,.2f} vs "
                                      f"{lvl['median_rest']:,.2f} for the rest ({pct:+.0f}%), "
                                      f"n = {lvl['n']:,}, Holm-adjusted p = {p:.2g}"),
                    "rule": (f"median {'above' if kind == 'invest' else 'below'} the rest by "
                             f">= {min_pct:g}% with Mann-Whitney Holm-adjusted p < {alpha:g}"),
                })
    for q in question2:
        for lvl in q.get("over_represented") or []:
            p = lvl.get("p_adjusted")
            if p is None or p >= alpha:
                continue
            value = (lvl.get("value") or {}).get("in_group") if lvl.get("value") else None
            evidence = {"n": lvl["n"], "share": lvl["share"], "overall_share": q["overall_share"],
                        "lift": lvl["lift"], "adjusted_residual": lvl["adjusted_residual"],
                        "p_adjusted": p}
            text = (f"{_pct(lvl['share'])} of customers here came through {q['group_name']} vs "
                    f"{_pct(q['overall_share'])} overall (adjusted residual "
                    f"{lvl['adjusted_residual']:.1f}, Holm-adjusted p = {p:.2g})")
            if value:
                evidence["group_value_share"] = value.get("share_of_total")
                text += (f"; they hold {_pct(value['share_of_total'])} of {q['value']}"
                         if value.get("share_of_total") is not None else "")
            out.append({
                "target": "cell", "segment": None,
                "cell": {"attribute": q["attribute"], "level": lvl["label"], "code": lvl["code"],
                         "group": q["group_name"]},
                "action": "invest",
                "title": f"Push {q['group_name']} in {lvl['label']}",
                "evidence": evidence, "evidence_text": text,
                "rule": (f"{q['group_name']} over-represented: adjusted residual > 1.96 with "
                         f"Holm-adjusted p < {alpha:g}"),
            })
    return out
