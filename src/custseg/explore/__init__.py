"""Descriptive statistics and tests that answer the marketing questions.

Two questions drive this package:

* **Does an attribute (e.g. acquisition channel) influence a numeric outcome
  (minutes watched, CLV), and which levels bring the best customers?** ->
  :func:`compare_levels` (:mod:`~custseg.explore.levels`).
* **Where is a group of customers (e.g. those who found the product through
  social media) concentrated, and what are they worth?** -> :func:`group_share`
  (:mod:`~custseg.explore.groups`).

Around them, :func:`summarize_columns` (:mod:`~custseg.explore.summaries`)
describes each column and :func:`associations`
(:mod:`~custseg.explore.column_pairs`) measures every pair of columns with the
measure that fits their kinds. Categorical columns hold *nominal codes*: they are
never correlated as numbers. Codes are compared as text, so ``1``, ``1.0`` and
``"1"`` are the same level.

The package is pure: it takes pandas objects and plain parameters and returns
plain JSON-safe dicts and lists (``str``, ``int``, ``float``, ``bool``, ``None``;
no NumPy scalars and no NaN -- an undefined number is ``None``), so a report can
be rendered from them. It draws nothing, reads and writes nothing, and starts no
thread unless a caller passes ``n_jobs`` > 1.

Modules
-------
``prepared``
    :class:`PreparedFrame`: each column converted, factorized and sorted once, for
    every call on the same table.
``rank_tests``
    Mann-Whitney, Kruskal-Wallis, Welch's ANOVA and Holm, from sorted arrays (no
    float array is ever argsorted; nothing is re-ranked per test).
``intervals``
    Bootstrap medians and means of the levels (per-level seeds, ``n_jobs``),
    analytic and Wilson intervals.
``summaries``, ``column_pairs``, ``levels``, ``groups``
    The four public analyses above.
``formatting``
    JSON-safe numbers, :func:`format_p` and the numbers of the verdicts.
``_checks``
    The parameter checks and their one message template.
"""

from .._lazy import lazy_names

#: public name -> the module of this package that defines it; imported when first asked
#: for, so that a module needing only ``formatting`` (the report's figures, in a worker
#: process) does not pay for scipy.stats and pandas
_HOMES = {
    "PreparedFrame": "prepared",
    "summarize_columns": "summaries",
    "associations": "column_pairs",
    "compare_levels": "levels",
    "compare_levels_many": "levels",
    "group_share": "groups",
    "holm": "rank_tests",
    "format_p": "formatting",
}

__all__ = list(_HOMES)
__getattr__, __dir__ = lazy_names(__name__, _HOMES)
