"""Segment profiles and automatic names.

A profile says, for one segment, its size and share of customers, the mean and
median of every numeric column in original units, the share of each category and
its lift over the whole population, and its share of the total of each value
column (e.g. of all CLV). Names come from the most distinctive traits.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .dates import DAYS_SUFFIX, days_name
from .derive import MISSING_SUFFIX
from .spec import RECENCY_NAMES, Spec, skewness

__all__ = ["profile_segments", "add_category_shares", "name_segments", "numeric_z", "TRAIT_Z", "TRAIT_LIFT",
           "category_levels"]

TRAIT_Z = 0.5
TRAIT_LIFT = 1.5
TRAIT_MIN_SHARE = 0.3
ONLY_SHARE = 0.9


def _group_medians(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    s = pd.Series(values).groupby(labels).median()
    return s.reindex(range(k)).to_numpy(dtype=float)


def factorize(values) -> tuple[np.ndarray, list]:
    """Codes (-1 for empty) and distinct values of a column, without a Python object per row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), list(uniques)


def _category_counts(codes: np.ndarray, values: list, levels: list[str], labels: np.ndarray,
                     k: int) -> np.ndarray:
    where = pd.Index(levels, dtype=object).get_indexer(pd.Index(values, dtype=object))
    idx = np.where(codes >= 0, where[np.maximum(codes, 0)], -1) if values else codes
    ok = idx >= 0
    flat = labels[ok] * len(levels) + idx[ok]
    return np.bincount(flat, minlength=k * len(levels)).reshape(k, len(levels))


def category_levels(spec: Spec, name: str, values: list) -> list[str]:
    """The levels a profile lists for categorical column ``name``: the spec's labels
    that occur in ``values`` (in the spec's order), then the other codes sorted."""
    col = spec.columns[name]
    seen = set(values)
    levels = [c for c in col.labels if c in seen] if col.labels else []
    levels += sorted(str(s) for s in seen if s not in levels)
    return levels


def profile_segments(data: pd.DataFrame, labels: np.ndarray, k: int, spec: Spec) -> list[dict]:
    """Profiles of segments ``0..k-1``.

    Parameters
    ----------
    data : DataFrame
        The spec's used columns, empty cells already filled (original units).
    labels : ndarray of int
        Segment of each row of ``data``.
    k : int
        Number of segments.
    spec : Spec
        Supplies kinds, roles and labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    sizes = np.bincount(labels, minlength=k)
    profiles = [{"segment": s, "size": int(sizes[s]), "share": float(sizes[s] / n),
                 "numeric": {}, "categorical": {}, "value_share": {}} for s in range(k)]
    for name in spec.used:
        col = spec.columns[name]
        if col.kind == "numeric":
            v = data[name].to_numpy(dtype=float)
            sums = np.bincount(labels, weights=v, minlength=k)
            means = np.divide(sums, sizes, out=np.full(k, np.nan), where=sizes > 0)
            medians = _group_medians(v, labels, k)
            total = float(v.sum())
            for s in range(k):
                profiles[s]["numeric"][name] = {"mean": float(means[s]), "median": float(medians[s])}
                if col.role == "value":
                    profiles[s]["value_share"][name] = float(sums[s] / total) if total else 0.0
        else:
            codes, values = factorize(data[name])
            present = np.bincount(codes[codes >= 0], minlength=len(values)) > 0
            levels = category_levels(spec, name, [v for v, p in zip(values, present, strict=True) if p])
            counts = _category_counts(codes, values, levels, labels, k)
            add_category_shares(profiles, name, col, levels, counts, sizes, n)
    return profiles


def add_category_shares(profiles: list[dict], name: str, col, levels: list[str],
                        counts: np.ndarray, sizes: np.ndarray, n: int) -> None:
    """Each segment's share of every level of ``name`` and its lift over the population.

    ``counts[s, i]`` is the number of segment ``s``'s customers at ``levels[i]``.
    """
    overall = counts.sum(0) / n
    for s in range(len(profiles)):
        shares = counts[s] / max(sizes[s], 1)
        profiles[s]["categorical"][name] = [
            {"code": lvl, "label": col.label(lvl), "share": float(shares[i]),
             "lift": float(shares[i] / overall[i]) if overall[i] > 0 else 0.0}
            for i, lvl in enumerate(levels)
        ]


def numeric_z(data: pd.DataFrame, labels: np.ndarray, k: int, spec: Spec) -> dict[str, np.ndarray]:
    """Per numeric column, each segment's mean in population standard deviations.

    Heavy-tailed non-negative columns are compared on ``log1p`` so one extreme
    customer does not make a whole segment look "high".
    """
    out = {}
    for name in spec.numeric(spec.used):
        v = data[name].to_numpy(dtype=float)
        if v.min() >= 0 and skewness(v) > 2:
            v = np.log1p(v)
        sd = v.std()
        sizes = np.bincount(labels, minlength=k)
        means = np.bincount(labels, weights=v, minlength=k) / np.maximum(sizes, 1)
        out[name] = (means - v.mean()) / sd if sd > 0 else np.zeros(k)
    return out




def _words(spec: Spec, name: str) -> tuple[str, str]:
    """(low, high): what a segment low or high on ``name`` is called.

    The spec's ``words`` win. A column where less is better (``better = "lower"``)
    is never described by the words of one where more is: a segment with many
    days since its last login is "inactive", not "high engagement".
    """
    col = spec.columns[name]
    if col.words:
        return col.words
    if col.better == "lower":
        if col.role == "engagement" and _is_recency(spec, name):
            return ("recently active", "inactive")
        return (f"few {name}", f"many {name}")
    if col.role == "value":
        return ("low value", "high value")
    if col.role == "engagement":
        return ("low engagement", "high engagement")
    if name.endswith(DAYS_SUFFIX):  # the days since a date (custseg.dates)
        date = name[:-len(DAYS_SUFFIX)]
        if _TENURE_NAMES.search(date):
            return ("new customers", "long-standing customers")
        return (f"recent {date}", f"early {date}")
    return (f"low {name}", f"high {name}")


#: a date column whose days are the customer's tenure
_TENURE_NAMES = re.compile(r"sign[\s_-]*up|join|regist|creat|first|since|start|acquir|onboard|"
                           r"member|customer[\s_-]*since|opened", re.I)


def _is_recency(spec: Spec, name: str) -> bool:
    """Whether ``name`` says how long ago a customer was active (less is better)."""
    return spec.columns[name].better == "lower" and bool(RECENCY_NAMES.search(name))


def _mid_word(spec: Spec, name: str) -> str:
    low, high = _words(spec, name)
    if high.startswith("high "):
        return "mid " + high[len("high "):]
    return f"average {name}"


def name_segments(profiles: list[dict], z: dict[str, np.ndarray], spec: Spec) -> list[str]:
    """A readable name per segment from its most distinctive traits.

    Numeric traits (value columns first, then engagement, how long ago a customer
    was active first among them, then others) use the
    column's ``words`` when ``|z| >= 0.5``; the first value column always says
    high, mid or low. A category enters the name when its share in the segment is
    at least 30% and its lift at least 1.5 (``"<label>-heavy"``), or its share is
    90% or more (``"<label> only"``). A trait that every segment has is left out
    of every name (it tells none apart); names that are still the same get the
    next trait, then a number. Names from ``spec.names`` win.
    """
    engagement = spec.numeric(spec.with_role("engagement"))
    # how long ago a customer was active tells engagement best: "inactive" before "low
    # engagement" from a count
    engagement = ([c for c in engagement if _is_recency(spec, c)]
                  + [c for c in engagement if not _is_recency(spec, c)])
    order = (spec.numeric(spec.with_role("value")) + engagement
             + spec.numeric(spec.with_role("attribute")))
    order = [c for c in order if c in z]
    value_cols = [c for c in order if spec.columns[c].role == "value"]
    names = []
    alternatives = []
    candidates: list[tuple[list[tuple[float, str]], list[tuple[float, str]]]] = []
    for p in profiles:
        s = p["segment"]
        traits: list[tuple[float, str]] = []
        # customers flagged as never having a value ("never active") are not also named for
        # the value they were given in its place ("inactive")
        flagged = {name[:-len(MISSING_SUFFIX)] for name in order
                   if name.endswith(MISSING_SUFFIX) and float(z[name][s]) >= TRAIT_Z}
        flagged |= {days_name(name) for name in flagged}
        for rank, name in enumerate(order):
            if name in flagged:
                continue
            zs = float(z[name][s])
            low, high = _words(spec, name)
            if abs(zs) >= TRAIT_Z:
                traits.append((10 - rank + abs(zs), high if zs > 0 else low))
            elif value_cols and name == value_cols[0]:
                traits.append((10 - rank, _mid_word(spec, name)))
        cats: list[tuple[float, str]] = []
        for levels in p["categorical"].values():
            for lvl in levels:
                if lvl["share"] >= ONLY_SHARE and lvl["lift"] > 1.05:
                    cats.append((lvl["lift"] + 100, f"{lvl['label']} only"))
                elif lvl["share"] >= TRAIT_MIN_SHARE and lvl["lift"] >= TRAIT_LIFT:
                    cats.append((lvl["lift"], f"{lvl['label']}-heavy"))
        cats.sort(key=lambda t: -t[0])
        traits.sort(key=lambda t: -t[0])
        candidates.append((traits, cats))
    # a trait every segment has ("mid value" everywhere) tells none of them apart
    words = [{t for _, t in traits + cats} for traits, cats in candidates]
    shared = set.intersection(*words) if len(words) > 1 else set()
    for traits, cats in candidates:
        traits = [t for t in traits if t[1] not in shared]
        cats = [t for t in cats if t[1] not in shared]
        parts = [t for _, t in traits[:2]] + [t for _, t in cats[:1]]
        extra = [t for _, t in traits[2:]] + [t for _, t in cats[1:]]
        if not parts:
            parts = ["typical customers"]
        names.append(", ".join(parts))
        alternatives.append(extra)
    # make names unique: add the next trait, then a number. "Inactive, mid value" and
    # "mid value, inactive" say the same: names are compared as sets of traits
    def same(nm: str) -> frozenset[str]:
        return frozenset(nm.split(", "))

    for _ in range(3):
        counts = pd.Series([same(nm) for nm in names]).value_counts()
        dups = set(counts[counts > 1].index)
        if not dups:
            break
        for i, nm in enumerate(names):
            if same(nm) in dups and alternatives[i]:
                names[i] = f"{nm}, {alternatives[i].pop(0)}"
    seen: dict[frozenset[str], int] = {}
    for i, nm in enumerate(names):
        if same(nm) in seen:
            seen[same(nm)] += 1
            names[i] = f"{nm} ({seen[same(nm)]})"
        else:
            seen[same(nm)] = 1
    names = [nm[0].upper() + nm[1:] for nm in names]
    for seg, override in spec.names.items():
        if 0 <= seg < len(names):
            names[seg] = override
    return names
