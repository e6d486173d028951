"""Does a categorical attribute influence a numeric outcome, and which levels are best?

:func:`compare_levels` (and :func:`compare_levels_many` for several outcomes)
describe each level of the attribute with bootstrap or analytic intervals
(:mod:`custseg.explore.intervals`), test the levels against each other with rank
tests (:mod:`custseg.explore.rank_tests`): Kruskal-Wallis overall, each level
against the rest and every pair with Mann-Whitney (Holm-adjusted), Welch's ANOVA
beside them, and write the answer as one sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._parallel import check_n_jobs
from ._checks import (
    bad_parameter,
    check_alpha,
    check_columns,
    check_int,
    check_labels,
    check_names,
)
from .formatting import format_num, format_p, json_safe, sentence
from .intervals import all_level_cis
from .prepared import PreparedFrame, as_frame, compact, kept, labels_map
from .rank_tests import (
    SMALL_MWU,
    anova,
    holm,
    kruskal,
    median_excluding,
    median_sorted,
    mwu_p,
    mwu_pair,
    split_sorted,
    tie_sum,
    uniq,
)

__all__ = ["compare_levels", "compare_levels_many"]

_MAX_PAIRWISE_LEVELS = 30  # more tested levels than this: pairwise tests are skipped


def _compare_verdict(attribute: str, word: str, out: dict[str, Any],
                     labels: dict[str, str]) -> str:
    kw = out["kruskal"]
    if kw is None:
        reason = "; ".join(out["notes"][-1:]) or "too little data"
        return sentence(f"cannot test whether {attribute} affects {word}: {reason}")
    p_text = f"Kruskal-Wallis {format_p(kw['p_value'])}"
    if not out["significant"]:
        return sentence(f"no evidence that {attribute} affects {word} ({p_text})")
    explained = out["variance_explained"]
    if explained is None:
        explained = kw["epsilon_squared"]
    share = "less than 0.1%" if explained < 0.001 else f"{100 * explained:.1f}%"
    head = f"{attribute} explains {share} of {word} variation ({p_text})"

    def describe(level: dict[str, Any], direction: str) -> str:
        name = labels.get(level["code"], level["code"])
        pct = level["median_vs_rest_pct"]
        if pct is not None and abs(pct) >= 1 and (pct > 0) == (direction == "above"):
            return f"{name} customers' median {word} is {abs(pct):.0f}% {direction} the rest"
        rest = level["median_rest"]
        rest_text = f" vs {format_num(rest)}" if rest is not None else ""
        return (f"{name} customers tend to have {'higher' if direction == 'above' else 'lower'} "
                f"{word} than the rest (rank-biserial {level['rank_biserial']:+.2f}; median "
                f"{format_num(level['median'])}{rest_text})")

    for key, direction in (("best_levels", "above"), ("worst_levels", "below")):
        ranked = out[key]
        if ranked:
            text = f"{head}; {describe(ranked[0], direction)}"
            others = []
            for lv in ranked[1:]:
                name, pct = labels.get(lv["code"], lv["code"]), lv["median_vs_rest_pct"]
                others.append(f"{name} ({pct:+.0f}%)" if pct is not None and abs(pct) >= 1
                              else name)
            if others:
                text += f" (also significantly {direction}: {', '.join(others)})"
            return sentence(text)
    return sentence(f"{head}, but no single {attribute} level stands out from the rest "
                    "after correction")


def compare_levels(
    df: pd.DataFrame,
    attribute: str,
    target: str,
    *,
    labels: dict[str, str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    boot_max_rows: int = 50_000,
    alpha: float = 0.05,
    value_word: str | None = None,
    n_jobs: int | None = None,
) -> dict:
    """Does a categorical attribute influence a numeric target, and which levels are best?

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column (e.g. ``"channel"``); codes are compared as text.
    target : str
        Numeric column (e.g. ``"CLV"``). Rows missing either column are dropped.
    labels : dict of str to str, optional
        Label for each attribute code, used in the output and the verdict.
    seed : int, default 0
        Seed of the bootstrap; each level gets its own generator seeded by
        ``(seed, crc32(code))``, so results do not depend on the other levels.
    n_boot : int, default 2000
        Bootstrap replicates.
    boot_max_rows : int, default 50_000
        Levels with at most this many rows get percentile-bootstrap intervals;
        larger levels get the t interval (mean) and the binomial order-statistic
        interval (median). See :mod:`custseg.explore.intervals` for how the
        bootstrap is done.
    alpha : float, default 0.05
        Significance level; intervals have level ``1 - alpha``.
    value_word : str, optional
        How the verdict names the target (default: the column name).
    n_jobs : int or None, default None
        Threads for the bootstrap of the levels (joblib; -1: all CPUs). None or 1:
        one job, in this thread, and no thread is started. Little bootstrap work
        (fewer than 20 million resampled values) runs in this thread whatever
        ``n_jobs``. The results are the same for every ``n_jobs``.

    Returns
    -------
    dict
        Keys: ``attribute, target, value_word, alpha, ci_level, n`` (rows
        analysed), ``n_dropped, n_levels``;

        * ``levels``: list in code order of ``{code, label, n, tested, mean, sd,
          mean_low, mean_high, median, median_low, median_high, ci_method``
          (``"bootstrap"``, ``"analytic"`` or None), ``total, share_of_total,
          median_rest, median_vs_rest_pct, vs_rest}``: ``median_rest`` is the
          median of all other analysed rows, ``median_vs_rest_pct`` the level's
          median relative to it in percent (None if it is 0); ``vs_rest`` is None
          or ``{u, p_value, p_adjusted, rank_biserial}`` (Mann-Whitney, level vs
          the other tested rows, Holm across levels);
        * ``kruskal``: None or ``{h, dof, p_value, epsilon_squared}``;
        * ``welch``: None or ``{f, df1, df2, p_value}`` (Welch's ANOVA);
        * ``variance_explained`` (eta^2, between/total sum of squares) and
          ``omega_squared``;
        * ``pairwise``: list of ``{a, b, a_label, b_label, n_a, n_b, u, p_value,
          p_adjusted, rank_biserial, median_a, median_b, median_diff,
          significant}`` (two-sided Mann-Whitney, Holm across pairs;
          ``rank_biserial > 0`` means ``a`` tends to be higher);
        * ``best_levels`` / ``worst_levels``: levels whose median is significantly
          above / below the rest, ranked, each ``{code, label, n, median,
          median_rest, median_vs_rest_pct, rank_biserial, p_adjusted}``; empty
          unless the Kruskal-Wallis test is significant (protected procedure);
        * ``significant`` (Kruskal-Wallis p < alpha), ``verdict`` (one sentence),
          ``notes`` (list of str).

        Levels with fewer than 2 rows are reported (``tested`` False) but left out
        of every test.
    """
    func = "compare_levels"
    frame = as_frame(func, df)
    for name, value in (("attribute", attribute), ("target", target)):
        if not isinstance(value, str):
            raise bad_parameter(func, name, "a column name (str)", value)
    if attribute == target:
        raise bad_parameter(func, "target", "a different column than 'attribute'", target)
    check_columns(func, frame.df, [attribute, target])
    check_labels(func, "labels", labels)
    seed = check_int(func, "seed", seed, 0)
    n_boot = check_int(func, "n_boot", n_boot, 1)
    boot_max_rows = check_int(func, "boot_max_rows", boot_max_rows, 0)
    alpha = check_alpha(func, alpha)
    if value_word is not None and not isinstance(value_word, str):
        raise bad_parameter(func, "value_word", "a str or None", value_word)
    n_jobs = check_n_jobs(n_jobs)
    return _compare(frame, attribute, [target], label_of=labels_map(labels), seed=seed,
                    n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha,
                    words=[value_word or target], n_jobs=n_jobs)[0]


def compare_levels_many(
    df: pd.DataFrame,
    attribute: str,
    targets: list[str],
    *,
    labels: dict[str, str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    boot_max_rows: int = 50_000,
    alpha: float = 0.05,
    n_jobs: int | None = None,
) -> list[dict]:
    """:func:`compare_levels` of one attribute against several targets, sharing work.

    Returns the list ``[compare_levels(df, attribute, t, ...) for t in targets]``,
    identical number for number, but faster: a level with the same rows under
    several targets is bootstrapped from one set of resampling indices (the
    generator of a level is seeded by ``(seed, crc32(code))``, so separate calls
    would draw the very same indices), and the attribute is factorized once.

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column.
    targets : list of str
        Numeric columns, none of them ``attribute``.
    labels, seed, n_boot, boot_max_rows, alpha, n_jobs
        As in :func:`compare_levels`.

    Returns
    -------
    list of dict
        One :func:`compare_levels` result per target, in order.
    """
    func = "compare_levels_many"
    frame = as_frame(func, df)
    if not isinstance(attribute, str):
        raise bad_parameter(func, "attribute", "a column name (str)", attribute)
    targets = check_names(func, "targets", targets)
    if attribute in targets:
        raise bad_parameter(func, "targets", "columns other than 'attribute'", targets)
    check_columns(func, frame.df, [attribute, *targets])
    check_labels(func, "labels", labels)
    seed = check_int(func, "seed", seed, 0)
    n_boot = check_int(func, "n_boot", n_boot, 1)
    boot_max_rows = check_int(func, "boot_max_rows", boot_max_rows, 0)
    alpha = check_alpha(func, alpha)
    n_jobs = check_n_jobs(n_jobs)
    return _compare(frame, attribute, targets, label_of=labels_map(labels), seed=seed,
                    n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha, words=targets,
                    n_jobs=n_jobs)


def _compare(frame: PreparedFrame, attribute: str, targets: list[str], *,
             label_of: dict[str, str], seed: int, n_boot: int, boot_max_rows: int,
             alpha: float, words: list[str], n_jobs: int | None) -> list[dict]:
    """The work of :func:`compare_levels` for each target (inputs already validated)."""
    prepared = []
    for target in targets:
        codes, levels = frame.codes(attribute)
        keep = (codes >= 0) & ~np.isnan(frame.numeric(target))
        n_kept = int(keep.sum())
        x, s_all = kept(frame, target, keep, n_kept)
        n_dropped = len(keep) - n_kept
        codes, used = compact(codes if n_dropped == 0 else codes[keep], len(levels))
        levels = [levels[i] for i in used]
        s_all, groups = split_sorted(x, codes, len(levels), s_all)
        prepared.append((target, x, n_dropped, levels, s_all, groups))
    cis = all_level_cis([p[5] for p in prepared], [p[3] for p in prepared], seed=seed,
                        n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha, n_jobs=n_jobs)
    return [_compare_one(attribute, *p, level_cis, label_of=label_of, alpha=alpha, word=word)
            for p, level_cis, word in zip(prepared, cis, words, strict=True)]


def _compare_one(attribute: str, target: str, x: np.ndarray, n_dropped: int, levels: list[str],
                 s_all: np.ndarray, groups: list[np.ndarray], cis: list[dict], *,
                 label_of: dict[str, str], alpha: float, word: str) -> dict:
    notes: list[str] = []
    if n_dropped:
        notes.append(f"{n_dropped} rows with a missing {attribute} or {target} were left out")
    total_sum = float(x.sum()) if len(x) else 0.0
    out: dict[str, Any] = {
        "attribute": attribute, "target": target, "value_word": word, "alpha": alpha,
        "ci_level": 1 - alpha, "n": len(x), "n_dropped": n_dropped, "n_levels": len(levels),
        "levels": [], "kruskal": None, "welch": None, "variance_explained": None,
        "omega_squared": None, "pairwise": [], "best_levels": [], "worst_levels": [],
        "significant": False, "verdict": "", "notes": notes,
    }
    for code, g, ci in zip(levels, groups, cis, strict=True):
        median = median_sorted(g)
        rest = median_excluding(s_all, g)
        pct = None
        if rest is not None and rest != 0:
            pct = 100 * (median - rest) / abs(rest)
        entry = {
            "code": code, "label": label_of.get(code, code), "n": len(g), "tested": len(g) >= 2,
            "mean": float(g.mean()), "sd": float(g.std(ddof=1)) if len(g) >= 2 else None,
            "median": median, **ci, "total": float(g.sum()),
            "share_of_total": float(g.sum()) / total_sum if total_sum else None,
            "median_rest": rest, "median_vs_rest_pct": pct, "vs_rest": None,
        }
        out["levels"].append(entry)

    small = [lv["label"] for lv in out["levels"] if not lv["tested"]]
    if small:
        notes.append(f"{len(small)} {attribute} level(s) with fewer than 2 rows are left out of "
                     f"the tests: {', '.join(small)}")
    tested = [j for j, lv in enumerate(out["levels"]) if lv["tested"]]
    if len(tested) < 2:
        notes.append(f"fewer than 2 {attribute} levels have 2 or more rows, so there is "
                     "nothing to compare")
    elif min(groups[j][0] for j in tested) == max(groups[j][-1] for j in tested):
        notes.append(f"{target} is constant ({format_num(float(groups[tested[0]][0]))} for every "
                     "row), so the tests are undefined")
    else:
        _run_tests(out, [groups[j] for j in tested], tested, alpha,
                   s_all if len(tested) == len(groups) else None)
    out["verdict"] = _compare_verdict(attribute, word, out, label_of)
    return json_safe(out)


def _run_tests(out: dict[str, Any], groups: list[np.ndarray], tested: list[int],
               alpha: float, s_tested: np.ndarray | None) -> None:
    """Omnibus, level-vs-rest and pairwise tests on the tested levels (fills ``out``).

    ``s_tested`` is the sorted union of ``groups`` when the caller has it.
    """
    levels = out["levels"]
    if s_tested is None:
        s_tested = np.sort(np.concatenate(groups))
    n = len(s_tested)
    kw = kruskal(groups, s_tested)
    effects = anova(groups)
    out["welch"] = effects["welch"]
    out["variance_explained"] = effects["eta_squared"]
    out["omega_squared"] = effects["omega_squared"]
    if effects["welch"] is None:
        out["notes"].append("Welch's ANOVA is undefined: a level has no variation")
    if kw is None:
        out["notes"].append("Kruskal-Wallis test is undefined")
        return
    ties_all = tie_sum(uniq(s_tested)[1])
    vs_rest = []
    for j, g, rank_sum in zip(tested, groups, kw.pop("rank_sums"), strict=True):
        n1, n2 = len(g), n - len(g)
        u = rank_sum - n1 * (n1 + 1) / 2
        if n <= SMALL_MWU:
            rest = np.concatenate([h for h in groups if h is not g])
            p = float(stats.mannwhitneyu(g, rest, alternative="two-sided").pvalue)
        else:
            p = mwu_p(u, n1, n2, ties_all)
        vs_rest.append({"u": u, "p_value": p, "rank_biserial": 2 * u / (n1 * n2) - 1})
        levels[j]["vs_rest"] = vs_rest[-1]
    for entry, adjusted in zip(vs_rest, holm([v["p_value"] for v in vs_rest]), strict=True):
        entry["p_adjusted"] = adjusted
    out["kruskal"] = kw
    out["significant"] = kw["p_value"] < alpha

    if len(tested) > _MAX_PAIRWISE_LEVELS:
        out["notes"].append(f"pairwise tests skipped: {len(tested)} levels (more than "
                            f"{_MAX_PAIRWISE_LEVELS}); use the level-vs-rest tests")
    else:
        distinct = [uniq(g) for g in groups]
        pairs = []
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                la, lb = levels[tested[a]], levels[tested[b]]
                u, p = mwu_pair(groups[a], groups[b], distinct[a], distinct[b])
                pairs.append({
                    "a": la["code"], "b": lb["code"], "a_label": la["label"],
                    "b_label": lb["label"], "n_a": la["n"], "n_b": lb["n"], "u": u,
                    "p_value": p, "rank_biserial": 2 * u / (la["n"] * lb["n"]) - 1,
                    "median_a": la["median"], "median_b": lb["median"],
                    "median_diff": la["median"] - lb["median"],
                })
        for pair, adjusted in zip(pairs, holm([q["p_value"] for q in pairs]), strict=True):
            pair["p_adjusted"] = adjusted
            pair["significant"] = adjusted < alpha
        out["pairwise"] = pairs

    if not out["significant"]:
        return
    for key, sign in (("best_levels", 1), ("worst_levels", -1)):
        chosen = [
            levels[j] for j in tested
            if levels[j]["vs_rest"]["p_adjusted"] < alpha
            and sign * levels[j]["vs_rest"]["rank_biserial"] > 0
        ]
        chosen.sort(key=lambda lv: (-sign * (lv["median_vs_rest_pct"] or 0.0),
                                    -sign * lv["vs_rest"]["rank_biserial"]))
        out[key] = [
            {"code": lv["code"], "label": lv["label"], "n": lv["n"], "median": lv["median"],
             "median_rest": lv["median_rest"], "median_vs_rest_pct": lv["median_vs_rest_pct"],
             "rank_biserial": lv["vs_rest"]["rank_biserial"],
             "p_adjusted": lv["vs_rest"]["p_adjusted"]}
            for lv in chosen
        ]
