"""CustomerSegmenter: the estimator that ties spec, features and clustering together.

It follows scikit-learn's conventions: ``__init__`` stores parameters, ``fit``
learns, and fitted state ends in ``_``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.validation import check_is_fitted, validate_data

from ._parallel import beside_many
from ._timing import StageClock
from .cluster.algorithms import get_algorithm
from .cluster.hierarchy import ward_tree
from .cluster.selection import choose_k, consensus_beside, forced_k, starts_then_polish, sweep
from .compare import reference_distributions
from .derive import derive_columns, never_flags
from .errors import ParameterError, ValidationError
from .features import FeatureSpace
from .infer import infer_spec
from .model import SegmentModel
from .profile import name_segments, numeric_z, profile_segments
from .quality import quality_warnings
from .rows import non_customer_rows
from .spec import TRANSFORMS, Spec
from .validate import validate

__all__ = ["CustomerSegmenter", "relabel_by_size"]

Progress = Callable[[str, str], None]
STABILITY_MAX = 20_000  # rows refitted with other seeds to measure stability
START_MAX = 10_000  # fast path: rows the k-means++ starts of the k sweep run on
FAST_MIN_ROWS = 20_000  # above this many rows the fast path is the default


def size_order(labels: np.ndarray, centers: np.ndarray) -> list[int]:
    """Old segment ids, largest first; ties by centroid coordinates (noise ignored)."""
    k = centers.shape[0]
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    return sorted(range(k), key=lambda s: (-sizes[s], tuple(np.round(centers[s], 12))))


def relabel_by_size(labels: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber segments so 0 is the largest; ties by centroid coordinates."""
    order = size_order(labels, centers)
    new_of_old = np.empty(len(order), dtype=np.int64)
    new_of_old[order] = np.arange(len(order))
    return new_of_old[labels], centers[order]


def _permute_model(model: dict, order: list[int]) -> dict:
    """An algorithm's assignment data with segments renumbered in ``order``."""
    out = dict(model)
    for key in ("weights", "means", "covariances", "numeric_centers", "modes"):
        if key in out:
            out[key] = [out[key][i] for i in order]
    if "exemplar_segment" in out:
        new_of_old = {old: new for new, old in enumerate(order)}
        out["exemplar_segment"] = [new_of_old[s] for s in out["exemplar_segment"]]
    return out


def _array_frame(est, X, *, reset: bool) -> pd.DataFrame:
    """A DataFrame of array input, checked the way scikit-learn checks arrays.

    DataFrames pass through (the spec validates them by column name); arrays and
    lists must be 2-D numeric (NaN allowed: the missing-value policy handles it),
    dense, and as wide as at fit.
    """
    if isinstance(X, pd.DataFrame):
        if reset:
            est.n_features_in_ = X.shape[1]
            est.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return X
    arr = validate_data(est, X, reset=reset, dtype="numeric", ensure_all_finite="allow-nan",
                        ensure_min_samples=1)
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


class CustomerSegmenter(TransformerMixin, ClusterMixin, BaseEstimator):
    """Segment customers: validate, build features, choose k, cluster, profile, name.

    Parameters
    ----------
    spec : Spec, optional
        The data dictionary. When None, one is inferred from the data at fit.
    k : int, optional
        Force the number of segments; otherwise chosen from ``k_range``.
    k_range : tuple of int
        Smallest and largest k to consider, both included.
    n_init : int
        k-means initialisations per fit (the best is kept).
    random_state : int
        Seed for every random choice.
    log_transform : {"spec", "auto", "log", "none"}
        ``log1p`` policy for numeric columns (``"spec"``: per column, as the spec says).
    cluster_on : list of str or "all", optional
        Override the spec's ``cluster_on``.
    algorithm : str
        Name in :data:`custseg.cluster.algorithms.ALGORITHMS`.
    ward_exact_max : int
        Largest number of rows for exact Ward; above it, the two-stage method.
    silhouette_max : int
        Largest row count for an exact silhouette.
    silhouette_sample : int
        Above ``silhouette_max`` rows, the silhouette is computed on a fixed-seed
        sample of this many rows.
    selection_max : int
        k is chosen on a fixed-seed sample of this many rows above it; the final
        fit then uses every row, started from the sample's centroids.
    stability_runs : int
        Extra seeds refitted at the chosen k to measure stability (0 to skip).
    fast : bool, optional
        The path for large tables. None (default) takes it above ``FAST_MIN_ROWS``
        (20,000) rows; True forces it (e.g. to check it against the exact path on
        small data), False never takes it. On the fast path the features are
        float32 and, for k-means, each k's ``n_init`` k-means++ starts run on a
        fixed-seed subsample of ``START_MAX`` (10,000) rows of the selection
        sample, the best three then refined by Lloyd on the whole sample. Above
        ``selection_max`` rows the final fit runs once on every row from the
        sample's best centroids until no label changes (``n_init=1, tol=0``);
        otherwise the final fit is the better of that and ``n_init`` ordinary
        starts on every row. The exact path fits every k on every row with
        ``n_init`` k-means++ starts, in float64.
    reference : SegmentModel, optional
        An earlier run's model: new segments matched to a predecessor (see
        :func:`custseg.compare.align_segments`) take its name and, where the ids
        stay contiguous, its number, so labels are stable from run to run.
    n_jobs : int, optional
        Jobs to run at once (joblib): None (default) or 1 runs everything in the
        calling thread, with no process or thread of custseg's own; -1 uses every
        CPU. With two or more, the gap statistic and bootstrap stability are
        computed in a worker process beside the k sweep, and the model's reference
        distributions in a thread beside the profiles. The results are the same
        for every value.
    """

    def __init__(self, spec: Spec | None = None, *, k: int | None = None,
                 k_range: tuple[int, int] = (2, 10), n_init: int = 10, random_state: int = 0,
                 log_transform: str = "spec", cluster_on=None, algorithm: str = "kmeans",
                 ward_exact_max: int = 10_000, silhouette_max: int = 20_000,
                 silhouette_sample: int = 5_000,
                 selection_max: int = 100_000, stability_runs: int = 5,
                 reference: SegmentModel | None = None, fast: bool | None = None,
                 n_jobs: int | None = None):
        self.spec = spec
        self.k = k
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state
        self.log_transform = log_transform
        self.cluster_on = cluster_on
        self.algorithm = algorithm
        self.ward_exact_max = ward_exact_max
        self.silhouette_max = silhouette_max
        self.silhouette_sample = silhouette_sample
        self.selection_max = selection_max
        self.stability_runs = stability_runs
        self.reference = reference
        self.fast = fast
        self.n_jobs = n_jobs

    # ----------------------------------------------------------- parameters
    def check_params(self) -> list[int]:
        """Check the parameters (one ParameterError naming the first bad one) and return
        the values of k to try; engines other than the local one call it too."""
        def bad(name, allowed, value):
            raise ParameterError(f"The {name!r} parameter of CustomerSegmenter must be {allowed}. "
                                 f"Got {value!r} instead.")

        lo_hi = self.k_range
        if (not isinstance(lo_hi, tuple | list) or len(lo_hi) != 2
                or not all(isinstance(v, int | np.integer) for v in lo_hi)
                or not 2 <= lo_hi[0] <= lo_hi[1]):
            bad("k_range", "a pair (low, high) of integers with 2 <= low <= high", lo_hi)
        if self.k is not None and (not isinstance(self.k, int | np.integer) or self.k < 1):
            bad("k", "None or an integer >= 1", self.k)
        if not isinstance(self.n_init, int | np.integer) or self.n_init < 1:
            bad("n_init", "an integer >= 1", self.n_init)
        if self.log_transform not in ("spec", *TRANSFORMS):
            bad("log_transform", f"one of {('spec', *TRANSFORMS)}", self.log_transform)
        for name in ("ward_exact_max", "silhouette_max", "silhouette_sample", "selection_max"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < 2:
                bad(name, "an integer >= 2", v)
        if self.fast not in (None, True, False):
            bad("fast", "None, True or False", self.fast)
        if self.n_jobs is not None and (not isinstance(self.n_jobs, int | np.integer)
                                        or isinstance(self.n_jobs, bool) or self.n_jobs == 0):
            bad("n_jobs", "None or a non-zero integer (-1 for all CPUs)", self.n_jobs)
        get_algorithm(self.algorithm)
        ks = list(range(int(lo_hi[0]), int(lo_hi[1]) + 1))
        if self.k is not None and self.k not in ks:
            ks = sorted({*ks, int(self.k)} - {1})
        return ks

    def _resolve_spec(self, df: pd.DataFrame) -> tuple[Spec, list[str]]:
        notes: list[str] = []
        spec = self.spec
        if spec is None:
            spec, _, notes = infer_spec(df)
        if self.cluster_on is not None:
            if self.cluster_on == "all":
                cols = spec.used
            else:
                cols = list(self.cluster_on)
            spec = spec.with_cluster_on(cols)
        return spec, notes

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, progress: Progress | None = None,
            on_stage: Callable[[str], object] | None = None):
        """Segment the customers in ``X`` (a DataFrame of raw data).

        ``progress(stage, detail)`` is called as stages start, if given.
        ``on_stage(name)`` is called as each stage ends (``validate``,
        ``preprocess``, ``ward``, ``choose_k``, ``final_fit``, ``stability``,
        ``profiles``), if given, with what that stage learnt already set: a run
        starts the work that needs only that there, beside the rest of the fit
        (from ``preprocess`` on, ``_data`` holds the used columns with empty cells
        filled, rows as segmented). It must not change the estimator or its data.
        """
        say = progress or (lambda stage, detail="": None)
        clock = StageClock()

        def lap(name: str) -> None:
            clock.lap(name)
            if on_stage is not None:
                on_stage(name)

        ks = self.check_params()
        df = _array_frame(self, X, reset=True)
        say("validate", "checking the data against the spec")
        max_k = int(self.k) if self.k is not None else max(ks)
        if len(df) < max_k + 1:  # before inferring a spec, which needs rows to look at
            raise ValidationError([_problem(
                "too-few-rows", f"the data has {len(df)} rows (n_samples = {len(df)}) but the "
                f"clustering needs at least {max_k + 1}; fix: use more customers, or a smaller "
                "--k or --k-range")])
        # empty rows, repeated headers and Total rows are not customers: left out, said
        skip, skipped = non_customer_rows(df)
        kept = df.loc[~skip].reset_index(drop=True) if skip.any() else df
        positions = np.flatnonzero(~skip) if skip.any() else None
        input_spec, spec_notes = self._resolve_spec(kept)
        # a date column is segmented as the days from it to the observation date
        derived, spec, as_of, dated = derive_columns(kept, input_spec, row_numbers=positions)
        checked = validate(derived, spec, min_rows=max_k + 1, n_jobs=self.n_jobs,
                           row_numbers=positions)
        if checked.errors or any(p.severity == "error" for p in dated):
            raise ValidationError(skipped + dated + checked.problems)
        self.input_spec_ = input_spec if as_of is None else replace(input_spec, as_of=as_of)
        self.spec_ = spec
        self.spec_notes_ = spec_notes
        constant = tuple(p.column for p in checked.warnings if p.code == "constant-column")
        # a "<column> missing" flag is all 0 when nothing is missing: left out, not worth a word
        flags = set(never_flags(input_spec).values())
        self.problems_ = [p.to_dict() for p in skipped + dated + checked.warnings
                          if not (p.code == "constant-column" and p.column in flags)]
        keep = ~checked.drop
        frame = (checked.frame.reset_index(drop=True) if keep.all()
                 else checked.frame.loc[keep].reset_index(drop=True))
        self.rows_ = np.flatnonzero(keep) if positions is None else positions[keep]
        self.n_rows_in_ = len(df)
        lap("validate")

        say("features", "imputing, transforming, encoding and scaling")
        if set(constant) >= set(spec.cluster_on):
            raise ValidationError([_problem("no-varying-column",
                                            "every cluster_on column is constant, so there is "
                                            "nothing to segment on; fix: choose other columns "
                                            "with --cluster-on or in the spec")])
        self.features_ = FeatureSpace(spec, log_transform=self.log_transform,
                                      exclude=constant).fit(frame)
        n = len(frame)
        fast = n > FAST_MIN_ROWS if self.fast is None else bool(self.fast)
        self.fast_ = fast
        Z = self.features_.transform(frame, dtype=np.float32 if fast else np.float64)
        data = self.features_.impute(frame)
        # kept for the analysis of a run (custseg.pipeline), which takes them away
        self._data, self._Z = data, Z
        lap("preprocess")

        seed = int(self.random_state)
        rng = np.random.default_rng(seed)
        if n > self.selection_max:
            sample = np.sort(rng.choice(n, size=self.selection_max, replace=False))
            Zs = Z[sample]
        else:
            sample = None
            Zs = Z
        # the sweep's many small fits are faster in float64 (scikit-learn computes
        # float32 distances by upcasting in blocks); only the big final fit is float32
        Zs = np.ascontiguousarray(Zs, dtype=np.float64)
        self.selection_sample_size_ = int(Zs.shape[0])
        self.silhouette_sample_size_ = int(
            Zs.shape[0] if Zs.shape[0] <= self.silhouette_max
            else min(self.silhouette_sample, self.silhouette_max))
        ks, too_few = _within_distinct(Zs, Z, ks, self.k)
        # the gap statistic and stability need only the sample: started first, beside the rest
        with consensus_beside(Zs, ks, seed=seed, n_jobs=self.n_jobs) as consensus:
            say("ward", "building the Ward hierarchy")
            self.ward_ = ward_tree(Zs, exact_max=self.ward_exact_max, seed=seed)
            lap("ward")

            algo = get_algorithm(self.algorithm)
            sweep_algo = "kmeans" if algo.chooses_k else self.algorithm
            say("choose_k", f"trying k = {ks[0]}..{ks[-1]}")
            extra_kw = ({"layout": self.features_.layout()}
                        if get_algorithm(sweep_algo).needs_layout else {})
            rows, fits = sweep(Zs, ks, algorithm=sweep_algo, n_init=int(self.n_init), seed=seed,
                               ward=self.ward_, silhouette_max=self.silhouette_max,
                               silhouette_sample=self.silhouette_sample,
                               start_max=START_MAX if fast else None,
                               progress=lambda d: say("choose_k", d), fit_kwargs=extra_kw,
                               consensus=consensus)
        note = (f"Chosen on a fixed-seed sample of {Zs.shape[0]:,} of {n:,} customers"
                if sample is not None else "")
        if too_few:
            note = f"{note}; {too_few}" if note else too_few[0].upper() + too_few[1:]
        self.start_sample_size_ = None
        if fast and sweep_algo == "kmeans" and Zs.shape[0] > START_MAX:
            self.start_sample_size_ = START_MAX
            starts = (f"the k-means++ starts for each k ran on {START_MAX:,} of the "
                      f"{Zs.shape[0]:,} customers and the best three were refined on all of them")
            note = f"{note}; {starts}" if note else starts[0].upper() + starts[1:]
        best_k, reason, picks = choose_k(rows, note)
        if algo.chooses_k:
            k = None
        else:
            k, reason = forced_k(self.k, best_k, reason)
        self.selection_ = rows
        self.criteria_picks_ = picks
        lap("choose_k")

        say("fit", f"final fit with {self.algorithm}" + (f", k = {k}" if k else ""))
        if algo.chooses_k:
            fit = algo.fit(Z, None, n_init=int(self.n_init), seed=seed)
            found = fit.centers.shape[0]
            reason = (f"k = {found}: found by {self.algorithm} from the density of the data "
                      f"({fit.extra.get('noise_share', 0):.1%} of customers are noise, kept as an "
                      f"'unassigned' segment); for reference, with k-means "
                      + reason[0].lower() + reason[1:])
        elif sample is None and k in fits and fast and self.algorithm == "kmeans":
            # the better of the sweep's refined starts and n_init ordinary starts on
            # every row: never worse than the exact path's own procedure
            fit = min(fits[k], algo.fit(Zs, k, n_init=int(self.n_init), seed=seed),
                      key=lambda f: f.inertia)
        elif sample is None and k in fits:
            fit = fits[k]
        elif algo.samples_itself or k not in fits:
            fit = algo.fit(Z, k, n_init=int(self.n_init), seed=seed, **extra_kw)
        elif fast and self.algorithm == "kmeans":
            fit = algo.fit(Z, k, n_init=1, seed=seed, init=fits[k].centers, tol=0.0,
                           copy_x=False)
        else:
            fit = algo.fit(Z, k, n_init=1, seed=seed, init=fits[k].centers)
        self.k_reason_ = reason
        order = size_order(fit.labels, fit.centers)
        new_of_old = np.empty(len(order), dtype=np.int64)
        new_of_old[order] = np.arange(len(order))
        noise = fit.labels < 0
        labels = np.where(noise, 0, new_of_old[np.maximum(fit.labels, 0)])
        centers = fit.centers[order]
        algo_model = _permute_model(fit.model, order)
        self.proba_ = None if fit.proba is None else fit.proba[:, order]
        self.noise_segment_ = None
        if noise.any():  # an explicit "unassigned" segment after the real ones
            self.noise_segment_ = len(order)
            labels[noise] = self.noise_segment_
            centers = np.vstack([centers, Z[noise].mean(0)])
            algo_model["noise_segment"] = self.noise_segment_
        k = centers.shape[0]
        inherited: dict[int, str] = {}
        self.reference_matches_ = None
        if self.reference is not None:
            labels, centers, inherited, self.reference_matches_ = _follow_reference(
                self.reference, self.features_, spec, Z, labels, centers)
        self.k_ = k
        self.inertia_ = float(fit.inertia)
        self.cluster_centers_ = centers
        self.labels_ = labels
        self.distances_ = _row_distances(Z, centers, labels)
        lap("final_fit")

        self.stability_ = []
        if self.stability_runs and k > 1:
            say("stability", f"refitting with {self.stability_runs} other seeds")
            ref = labels if sample is None else labels[sample]
            Zst = Zs
            if Zs.shape[0] > STABILITY_MAX:
                pick = np.sort(np.random.default_rng(seed + 1).choice(
                    Zs.shape[0], size=STABILITY_MAX, replace=False))
                Zst, ref = Zs[pick], ref[pick]
            for i in range(1, int(self.stability_runs) + 1):
                if algo.chooses_k:  # deterministic up to its sample: refit a resample
                    boot = np.random.default_rng(seed + i).choice(Zst.shape[0], Zst.shape[0])
                    other = algo.fit(Zst[boot], None, seed=seed + i)
                    lab = other.labels
                    self.stability_.append(float(adjusted_rand_score(ref[boot], lab)))
                    continue
                start_rows = None
                if fast and self.algorithm == "kmeans" and Zst.shape[0] > START_MAX:
                    start_rows = np.sort(np.random.default_rng(seed + 100 + i).choice(
                        Zst.shape[0], size=START_MAX, replace=False))
                other = starts_then_polish(algo.fit, Zst, k - (self.noise_segment_ is not None),
                                           n_init=int(self.n_init), seed=seed + i,
                                           start_rows=start_rows, fit_kwargs=extra_kw)
                self.stability_.append(float(adjusted_rand_score(ref, other.labels)))
        lap("stability")

        say("profile", "profiling and naming segments")
        # the model's reference distributions (sorts, which release the GIL) are
        # computed in a second thread while the profiles are, if n_jobs allows
        reference, = beside_many([(reference_distributions, (data, spec), {})],
                                 n_jobs=self.n_jobs, prefer="threads")
        self.profiles_ = profile_segments(data, labels, k, spec)
        z = numeric_z(data, labels, k, spec)
        names = name_segments(self.profiles_, z, spec)
        if self.noise_segment_ is not None:
            names[self.noise_segment_] = "Unassigned (noise)"
        for pos, name in inherited.items():
            if pos not in spec.names:
                names[pos] = name
        self.segment_names_ = names
        for p, nm in zip(self.profiles_, self.segment_names_, strict=True):
            p["name"] = nm
            p["z"] = {c: float(z[c][p["segment"]]) for c in z}
        self.warnings_ = quality_warnings(data, labels, k, spec, self.segment_names_,
                                          self.stability_)
        lap("profiles")

        self.model_ = SegmentModel(
            self.input_spec_, self.features_, centers, self.segment_names_,
            SegmentModel.quantiles_of(self.distances_, labels, k),
            info={
                "algorithm": {"name": self.algorithm,
                              "params": {"k": k, "n_init": int(self.n_init), "seed": seed},
                              **({"model": algo_model} if algo_model else {})},
                "training": {
                    "n_rows": int(n), "sizes": [p["size"] for p in self.profiles_],
                    "inertia": self.inertia_, "k_reason": reason,
                },
                "reference": reference.result(),
            },
        )
        self.timings_ = clock.timings
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # empty cells are filled by the missing-value policy
        return tags

    def fit_predict(self, X, y=None, **kwargs):
        """Fit and return the segment of every row (-1 for rows left out by policy)."""
        self.fit(X, **kwargs)
        out = np.full(self.n_rows_in_, -1, dtype=np.int64)
        out[self.rows_] = self.labels_
        return out

    def predict(self, X) -> np.ndarray:
        """Segment of each row of new data: the nearest centroid."""
        check_is_fitted(self, "model_")
        df, _ = self.model_.with_derived(_array_frame(self, X, reset=False))
        checked = validate(df, self.spec_, min_rows=1)
        if checked.errors:
            raise ValidationError(checked.problems)
        return self.model_.assign_typed(checked.frame)["segment"].to_numpy()

    def transform(self, X) -> np.ndarray:
        """Distances of each row to every segment centroid."""
        check_is_fitted(self, "model_")
        df, _ = self.model_.with_derived(_array_frame(self, X, reset=False))
        checked = validate(df, self.spec_, min_rows=1)
        if checked.errors:
            raise ValidationError(checked.problems)
        Z = self.features_.transform(checked.frame)
        return np.sqrt(((Z[:, None, :] - self.cluster_centers_[None]) ** 2).sum(-1))


def _within_distinct(Zs: np.ndarray, Z: np.ndarray, ks: list[int], forced: int | None
                     ) -> tuple[list[int], str]:
    """The k values a sample of ``d`` distinct customers can take (2..d), and a note if fewer.

    k-means cannot make more segments than there are distinct points: a larger k
    leaves segments empty. A forced k above the number of distinct customers (in
    the whole data) is an error.
    """
    top = max(ks)
    if np.unique(Zs[:1_000], axis=0).shape[0] >= top:  # the usual case, at once
        return ks, ""
    distinct = int(np.unique(Zs, axis=0).shape[0])
    if forced is not None and forced > distinct:
        distinct = int(np.unique(Z, axis=0).shape[0])
        if forced > distinct:
            raise ValidationError([_problem(
                "too-few-distinct", f"the clustering columns hold {distinct:,} distinct "
                f"customers, too few for k = {forced}; fix: use --k {distinct} or less, or "
                "cluster on more columns")])
    kept = [k for k in ks if k <= distinct]
    if len(kept) == len(ks):
        return ks, ""
    return kept, (f"only k = {min(kept)}..{max(kept)} were tried: the clustering columns hold "
                  f"{distinct:,} distinct customers")


def _row_distances(Z: np.ndarray, centers: np.ndarray, labels: np.ndarray,
                   block: int = 262_144) -> np.ndarray:
    """Euclidean distance of each row to its own centroid (float64), in row blocks."""
    out = np.empty(Z.shape[0], dtype=np.float64)
    for a in range(0, Z.shape[0], block):
        diff = Z[a:a + block].astype(np.float64) - centers[labels[a:a + block]]
        out[a:a + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _problem(code: str, message: str):
    from .errors import Problem

    return Problem(code=code, severity="error", message=message)


def _follow_reference(reference: SegmentModel, features: FeatureSpace, spec: Spec, Z: np.ndarray,
                      labels: np.ndarray, centers: np.ndarray):
    """Renumber segments after their matched predecessors in ``reference``."""
    from .compare import align_segments

    k = centers.shape[0]
    diff = Z - centers[labels]
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    draft = SegmentModel(spec, features, centers, [f"segment {i}" for i in range(k)],
                         SegmentModel.quantiles_of(dist, labels, k))
    alignment = align_segments(reference, draft)
    order: list[int | None] = [None] * k
    names: dict[int, str] = {}
    placed = set()
    for m in alignment["matches"]:
        if m["old"] < k:
            order[m["old"]] = m["new"]
            names[m["old"]] = reference.names[m["old"]]
            placed.add(m["new"])
    rest = [j for j in range(k) if j not in placed]  # already in size order
    old_name_of_new = {m["new"]: reference.names[m["old"]] for m in alignment["matches"]}
    for pos in range(k):
        if order[pos] is None:
            j = rest.pop(0)
            order[pos] = j
            if j in old_name_of_new:
                names[pos] = old_name_of_new[j]
    new_of_old = np.empty(k, dtype=np.int64)
    new_of_old[np.asarray(order)] = np.arange(k)
    old_of_new = {m["new"]: m["old"] for m in alignment["matches"]}
    links = {
        "matches": [{"segment": int(new_of_old[j]), "predecessor": int(i),
                     "predecessor_name": reference.names[i]}
                    for j, i in sorted(old_of_new.items(), key=lambda t: new_of_old[t[0]])],
        "vanished": alignment["vanished"],
        "appeared": sorted(int(new_of_old[j]) for j in alignment["appeared"]),
    }
    return new_of_old[labels], centers[np.asarray(order)], names, links
