"""One segmentation run as data: the tables and manifest a run directory holds.

:func:`segment` is pure: it takes a DataFrame and options and returns a
:class:`RunResult`; :mod:`custseg.rundir` writes it to disk.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from ._parallel import Later, beside
from .segmenter import CustomerSegmenter, Progress
from .spec import Spec

__all__ = ["RunOptions", "RunResult", "segment", "profiles_table", "package_versions"]

#: The stages after which the part of the analysis known so far is handed out
#: (``on_partial_analysis``): from the final fit on, and with the questions'
#: answers after the last.
EARLY_STAGES = ("final_fit", "stability", "profiles")


@dataclass
class RunOptions:
    """Options of one run; None means "as the spec's [clustering] says"."""

    k: int | None = None
    k_range: tuple[int, int] | None = None
    n_init: int | None = None
    seed: int | None = None
    log_transform: str = "spec"
    cluster_on: list[str] | str | None = None
    algorithm: str | None = None
    ward_exact_max: int = 10_000
    silhouette_max: int = 20_000
    silhouette_sample: int = 5_000
    selection_max: int = 100_000
    stability_runs: int = 5
    analysis: bool = True
    reference: object = None  # a SegmentModel of an earlier run
    fast: bool | None = None  # None: the fast path above selection_max rows
    aggregate_only: bool = False
    title: str = "Customer segmentation"
    n_jobs: int | None = None  # None or 1: everything in the calling thread; -1: every CPU

    def estimator(self, spec: Spec | None) -> CustomerSegmenter:
        c = spec.clustering if spec is not None else None
        return CustomerSegmenter(
            spec,
            k=self.k if self.k is not None else (c.k if c else None),
            k_range=tuple(self.k_range or (c.k_range if c else (2, 10))),
            n_init=self.n_init if self.n_init is not None else (c.n_init if c else 10),
            random_state=self.seed if self.seed is not None else (c.seed if c else 0),
            log_transform=self.log_transform,
            cluster_on=self.cluster_on,
            algorithm=self.algorithm or (c.algorithm if c else "kmeans"),
            ward_exact_max=self.ward_exact_max,
            silhouette_max=self.silhouette_max,
            silhouette_sample=self.silhouette_sample,
            selection_max=self.selection_max,
            stability_runs=self.stability_runs,
            reference=self.reference,
            fast=self.fast,
            n_jobs=self.n_jobs,
        )


@dataclass
class RunResult:
    """Everything a run directory holds, as data."""

    segmenter: CustomerSegmenter
    segments: pd.DataFrame | None  # None: too large for this process (a Spark run's stays there)
    profiles: list[dict]
    selection: pd.DataFrame
    manifest: dict[str, Any]
    spec_inferred: bool = False
    analysis: dict | None = None

    @property
    def spec(self) -> Spec:
        return self.segmenter.spec_

    @property
    def input_spec(self) -> Spec:
        """The spec as written (date columns under their own names, ``as_of`` set)."""
        return getattr(self.segmenter, "input_spec_", self.segmenter.spec_)


def profiles_table(profiles: list[dict], spec: Spec) -> pd.DataFrame:
    """One row per segment: size, share, means and medians, value shares, category shares."""
    rows = []
    for p in profiles:
        row: dict[str, Any] = {"segment": p["segment"], "segment_name": p["name"],
                               "size": p["size"], "share": p["share"]}
        for col, stats in p["numeric"].items():
            row[f"{col}_mean"] = stats["mean"]
            row[f"{col}_median"] = stats["median"]
        for col, share in p["value_share"].items():
            row[f"{col}_value_share"] = share
        for col, levels in p["categorical"].items():
            for lvl in levels:
                row[f"{col}={lvl['label']}_share"] = lvl["share"]
                row[f"{col}={lvl['label']}_lift"] = lvl["lift"]
        rows.append(row)
    return pd.DataFrame(rows)


def _names_of(names: list[str], labels: np.ndarray) -> pd.Series:
    """The name of each row's segment as a string column, built in Arrow (no str per row)."""
    import pyarrow as pa

    taken = pa.array(names, pa.large_string()).take(pa.array(labels))
    return pd.Series(pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def package_versions() -> dict[str, str]:
    """The versions recorded in a manifest's ``package_versions`` (every engine)."""
    import scipy
    import sklearn

    return {"custseg": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def segment(df: pd.DataFrame, spec: Spec | None, options: RunOptions | None = None, *,
            progress: Progress | None = None, input_info: dict | None = None,
            on_partial_analysis: Callable[[dict], object] | None = None,
            n_jobs: int | None = None) -> RunResult:
    """Run the whole segmentation on a DataFrame.

    Parameters
    ----------
    df : DataFrame
        Raw customer data.
    spec : Spec or None
        The data dictionary; None infers one (``RunResult.segmenter.spec_notes_``
        says what was inferred).
    options : RunOptions
    progress : callable, optional
        ``progress(stage, detail)``.
    input_info : dict, optional
        Recorded in the manifest (e.g. path and sha256 of the input file).
    on_partial_analysis : callable, optional
        Called after the final fit, and again after each later stage of
        :data:`EARLY_STAGES`, with the parts of the analysis known by then
        (:func:`custseg.analysis.partial_analysis`: the same keys and values the
        final ``RunResult.analysis`` will hold), so that their figures can be
        drawn while the run goes on. It must not change them.
    n_jobs : int, optional
        Overrides ``options.n_jobs``: jobs to run at once (joblib). None or 1 runs
        everything in the calling thread; with two or more, the statistical
        questions (which need only the data) are answered in a worker process
        beside the clustering. The results are the same for every value.
    """
    options = options or RunOptions()
    if n_jobs is not None:
        options = RunOptions(**{**options.__dict__, "n_jobs": n_jobs})
    est = options.estimator(spec)
    questions: list[Later] = []

    def on_stage(name: str) -> None:
        from .analysis import partial_analysis
        from .questions import answer_questions_one_thread

        if name == "preprocess":
            # the statistical questions need only the data: answered beside the clustering
            questions.append(beside(answer_questions_one_thread, est.spec_, est._data,
                                    int(est.random_state), n_jobs=options.n_jobs))
        elif name in EARLY_STAGES and on_partial_analysis is not None:
            # after the last of them the analysis is built at once, which needs the answers
            answers = questions[0].result() if name == EARLY_STAGES[-1] else None
            on_partial_analysis(partial_analysis(est, answers))

    try:
        est.fit(df, progress=progress, on_stage=on_stage if options.analysis else None)
    except BaseException:
        for job in questions:
            job.cancel()
        raise
    data, Z = est.__dict__.pop("_data"), est.__dict__.pop("_Z")
    spec_used = est.spec_
    n_total = len(df)
    rows = est.rows_
    seg = pd.DataFrame()
    if spec_used.id:
        seg[spec_used.id] = df[spec_used.id].to_numpy()[rows]
    else:
        seg["row"] = rows + 1
    seg["segment"] = est.labels_
    seg["segment_name"] = _names_of(est.segment_names_, est.labels_)
    seg["distance"] = np.round(est.distances_, 6)
    if getattr(est, "proba_", None) is not None:
        for j in range(est.proba_.shape[1]):
            seg[f"p_{j}"] = np.round(est.proba_[:, j], 6)

    selection = pd.DataFrame(est.selection_)
    selection.insert(1, "chosen", selection["k"] == est.k_)
    manifest = {
        "custseg_version": __version__,
        "input": {**(input_info or {}), "rows": int(n_total), "columns": int(df.shape[1])},
        "spec_inferred": spec is None,
        "spec_notes": list(est.spec_notes_),
        "k": int(est.k_),
        "k_reason": est.k_reason_,
        "criteria_picks": est.criteria_picks_,
        "k_range": list(est.k_range),
        "k_forced": est.k is not None,
        "seed": int(est.random_state),
        "n_init": int(est.n_init),
        "algorithm": est.algorithm,
        "cluster_on": list(est.features_.columns_),
        "features": list(est.features_.feature_names_),
        "transforms": list(est.features_.notes_),
        "rows_segmented": int(rows.size),
        "path": "fast" if est.fast_ else "exact",
        "selection_sample_size": est.selection_sample_size_,
        "start_sample_size": est.start_sample_size_,
        "silhouette_sample_size": est.silhouette_sample_size_,
        "ward_method": est.ward_.method,
        "stability_adjusted_rand": [round(a, 6) for a in est.stability_],
        "reference": est.reference_matches_,
        "segments": [{"segment": p["segment"], "name": p["name"], "size": p["size"],
                      "share": p["share"]} for p in est.profiles_],
        "warnings": list(est.warnings_) + [
            {"code": p["code"], "message": p["message"],
             **({"column": p["column"]} if p["column"] else {}), "rows": p["rows"],
             "count": p["count"]}
            for p in est.problems_
        ],
        "package_versions": package_versions(),
        "timings": dict(est.timings_),
    }
    analysis = None
    if options.analysis:
        if progress:
            progress("analysis", "answering the marketing questions")
        t0 = time.perf_counter()
        from .analysis import build_analysis

        analysis = build_analysis(est, data, Z, manifest, aggregate_only=options.aggregate_only,
                                  synthetic=bool((input_info or {}).get("synthetic")),
                                  title=options.title,
                                  questions=questions[0].result() if questions else None)
        manifest["timings"]["analysis"] = round(time.perf_counter() - t0, 4)
    return RunResult(segmenter=est, segments=seg, profiles=est.profiles_, selection=selection,
                     manifest=manifest, spec_inferred=spec is None, analysis=analysis)


def compare_algorithms(df: pd.DataFrame, spec: Spec | None, options: RunOptions,
                       algorithms: list[str], *, progress: Progress | None = None,
                       metric_rows: int = 10_000) -> dict:
    """Fit each algorithm with the same data, features and options; compare them side by side.

    Every algorithm is scored on the same fixed-seed sample of at most
    ``metric_rows`` customers in the same feature space (silhouette,
    Calinski-Harabasz, Davies-Bouldin), with its segment sizes, its stability (mean
    adjusted Rand over refits with other seeds) and its agreement with every other
    algorithm (adjusted Rand between their labels).
    """
    from sklearn.metrics import (
        adjusted_rand_score,
        calinski_harabasz_score,
        davies_bouldin_score,
        silhouette_score,
    )

    from .cluster.algorithms import get_algorithm

    for name in algorithms:
        get_algorithm(name)  # unknown names fail before any work
    fitted = {}
    rows = []
    Z = None
    pick = None
    for name in algorithms:
        if progress:
            progress("compare", f"fitting {name}")
        t0 = time.perf_counter()
        opts = RunOptions(**{**options.__dict__, "algorithm": name, "analysis": False,
                             "stability_runs": min(options.stability_runs, 3)})
        est = opts.estimator(spec)
        est.fit(df)
        seconds = time.perf_counter() - t0
        data, Zi = est.__dict__.pop("_data"), est.__dict__.pop("_Z")
        del data
        if Z is None:
            Z = Zi
            n = Z.shape[0]
            pick = (np.sort(np.random.default_rng(int(est.random_state)).choice(
                n, size=metric_rows, replace=False)) if n > metric_rows else np.arange(n))
        labels = est.labels_
        sl = labels[pick]
        ok = 1 < np.unique(sl).size < sl.size
        rows.append({
            "algorithm": name, "k": int(est.k_),
            "silhouette": float(silhouette_score(Z[pick], sl)) if ok else None,
            "calinski_harabasz": float(calinski_harabasz_score(Z[pick], sl)) if ok else None,
            "davies_bouldin": float(davies_bouldin_score(Z[pick], sl)) if ok else None,
            "stability": float(np.mean(est.stability_)) if est.stability_ else None,
            "sizes": [p["size"] for p in est.profiles_],
            "smallest_share": float(min(p["share"] for p in est.profiles_)),
            "warnings": [w["code"] for w in est.warnings_],
            "seconds": round(seconds, 3),
            "k_reason": est.k_reason_,
        })
        fitted[name] = labels
    agreement = [[float(adjusted_rand_score(fitted[a], fitted[b])) for b in algorithms]
                 for a in algorithms]
    return {"algorithms": list(algorithms), "rows": rows, "agreement": agreement,
            "metric_sample_size": int(len(pick)),
            "note": "metrics on the same customers and features for every algorithm; "
                    "agreement is the adjusted Rand index between two algorithms' segments"}
