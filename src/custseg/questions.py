"""The answers that need only the data, not the segments: the first part of a run's analysis.

The column summary, the associations, the two marketing questions (does an
attribute's level go with more value or engagement; do named groups of levels
differ), the overall medians and the crosstab chart.
:func:`custseg.analysis.build_analysis` adds them to the analysis of a fitted
run; a run with two jobs or more answers them in a worker process beside the
clustering, as soon as the data is validated and filled in (this module imports
no clustering library, so such a worker starts quickly).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from . import explore
from ._parallel import map_ordered
from ._threads import one_thread
from .spec import Spec

__all__ = ["answer_questions", "answer_questions_one_thread", "TESTS_MAX"]

TESTS_MAX = 1_000_000  # customers the statistical tests use at most (a fixed-seed sample)


def answer_questions(spec: Spec, data: pd.DataFrame, seed: int, *, n_jobs: int | None = None) -> dict:
    """The answers that need only the data, not the segments.

    The column summary, the associations, questions 1 and 2, the overall medians
    and the crosstab chart. :func:`custseg.analysis.build_analysis` computes them
    itself unless it is given them; a run with two jobs or more answers them beside the clustering,
    in a worker process (:func:`custseg.pipeline.segment`), as soon as the data is
    validated and filled in.

    Parameters
    ----------
    spec : Spec
        The data dictionary the run used.
    data : DataFrame
        The used columns with empty cells filled, rows as segmented.
    seed : int
        The run's seed (the tests' bootstrap draws and sample).
    n_jobs : int, optional
        Threads for the independent answers (numpy releases the GIL in its sorts,
        searches and bootstrap draws); None or 1: all in the calling thread. The
        answers are the same for every value.

    Returns
    -------
    dict
        ``summary``, ``associations``, ``question1``, ``question2``,
        ``tests_sample``, ``overall`` (median of every numeric column) and
        ``crosstab`` (chart data, or None).
    """
    numeric = spec.numeric(spec.used)
    cats = spec.categorical(spec.used)
    attributes = [c for c in cats if spec.columns[c].role == "attribute"]
    targets = [c for c in numeric if spec.columns[c].role in ("value", "engagement")]
    value_cols = [c for c in spec.numeric(spec.with_role("value")) if c in numeric]
    label_maps = {c: dict(spec.columns[c].labels) for c in cats}

    # Every column is converted, factorized and sorted once, for all the calls below;
    # with n_jobs the calls then run on threads. Each call is independent and
    # deterministic, and results are collected in a fixed order, so the output does
    # not depend on the scheduling.
    #
    # Above TESTS_MAX customers the tests and intervals (questions 1 and 2, the
    # associations) use a fixed-seed random sample of TESTS_MAX customers, stated in
    # the output; the column summary, segments and value shares use every customer.
    full = explore.PreparedFrame(data)
    tests_sample = None
    frame = full
    if len(data) > TESTS_MAX:
        rows = np.sort(np.random.default_rng(seed + 5).choice(len(data), TESTS_MAX,
                                                               replace=False))
        frame = explore.PreparedFrame(data.iloc[rows].reset_index(drop=True))
        tests_sample = {"rows": TESTS_MAX, "of": int(len(data))}
    map_ordered(frame.sorted, numeric, n_jobs=n_jobs)
    map_ordered(frame.codes, cats, n_jobs=n_jobs)
    answers = map_ordered(_call, [
        *(partial(explore.compare_levels_many, frame, a, targets, labels=label_maps[a], seed=seed,
                  n_jobs=n_jobs) for a in attributes),
        partial(explore.associations, frame, numeric, cats),
        partial(explore.summarize_columns, full, numeric, cats, label_maps),
    ], n_jobs=n_jobs)
    q1 = [result for per_attribute in answers[:len(attributes)] for result in per_attribute]
    assoc, summary = answers[len(attributes):]
    q2 = []
    for col, groups in spec.groups.items():
        if col not in data.columns:
            continue
        codes = spec.group_codes(col)
        col_codes, col_levels = frame.codes(col)
        for gname in groups:
            # membership of each level, then of each row (a missing value is not in the group)
            inside = set(codes[gname])
            member = np.array([lv in inside for lv in col_levels] + [False])[col_codes]
            for a in attributes:
                if a == col:
                    continue
                q2.append(explore.group_share(frame, a, member, group_name=gname,
                                              value=value_cols[0] if value_cols else None,
                                              labels=label_maps[a]))
    return {"summary": summary, "associations": assoc, "question1": q1, "question2": q2,
            "tests_sample": tests_sample,
            "overall": {c: _median_of_sorted(full.sorted(c)) for c in numeric},
            "crosstab": _crosstab_chart(frame, spec, attributes)}


def answer_questions_one_thread(spec: Spec, data: pd.DataFrame, seed: int) -> dict:
    """:func:`answer_questions` with one native (BLAS, OpenMP) thread, as a run computes them."""
    with one_thread():
        return answer_questions(spec, data, seed)



def _call(fn):
    return fn()


def _crosstab_chart(frame: explore.PreparedFrame, spec, cats: list[str]) -> dict | None:
    if len(cats) < 2:
        return None
    a, b = cats[0], cats[1]
    (ca, la), (cb, lb) = frame.codes(a), frame.codes(b)
    keep = (ca >= 0) & (cb >= 0)
    table = np.bincount(ca[keep].astype(np.int64) * len(lb) + cb[keep],
                        minlength=len(la) * len(lb)).reshape(len(la), len(lb))
    present_a, present_b = table.sum(1) > 0, table.sum(0) > 0

    def order(col, values):
        labels = spec.columns[col].labels
        known = [c for c in labels if c in values]
        return known + sorted(v for v in values if v not in known)

    rows = order(a, [v for v, ok in zip(la, present_a, strict=True) if ok])
    cols = order(b, [v for v, ok in zip(lb, present_b, strict=True) if ok])
    counts = table[np.ix_([la.index(r) for r in rows], [lb.index(c) for c in cols])]
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    return {"row": a, "col": b, "shares_of": "row",
            "row_labels": [spec.columns[a].label(r) for r in rows],
            "col_labels": [spec.columns[b].label(c) for c in cols],
            "counts": counts.astype(int).tolist(),
            "shares": [[round(float(x), 6) for x in r] for r in shares]}


def _median_of_sorted(s: np.ndarray) -> float:
    n = len(s)
    if n == 0:
        return float("nan")
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2)
