"""The bodies of the successful answers: ``POST /v1/assign`` and ``GET /v1/segments``.

:func:`assign_records` tries the plain path (:mod:`custseg.api.plain`) for up to
:data:`~custseg.api.plain.PLAIN_MAX_RECORDS` customers, and otherwise, or when
that path hands over, assigns with :meth:`SegmentModel.assign
<custseg.model.SegmentModel.assign>` (validation by :func:`custseg.validate.validate`,
then the same kernel).
"""

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..model import SegmentModel
from . import plain
from .records import MAX_EXAMPLES, customers_word, frame_of

__all__ = ["assign_records", "overflow_problem", "segments_summary"]


def assign_records(model: SegmentModel, records: list[dict]) -> dict:
    """The body of a successful ``POST /v1/assign`` answer for checked records."""
    if not records:
        return {"assignments": [], "warnings": []}
    if len(records) <= plain.PLAIN_MAX_RECORDS:
        try:
            return plain.assign_plain(model, records)
        except plain.Unplain:
            pass
    df = frame_of(records, model)
    with np.errstate(over="ignore"):  # an overflowing distance is answered just below
        # date columns count days to the model's observation date: one customer's answer
        # does not depend on who else is in the request
        out, warnings = model.assign(df, as_of=model.input_spec.as_of)
    overflow = (out["segment"].to_numpy() >= 0) & ~np.isfinite(out["distance"].to_numpy())
    if overflow.any():
        raise ValidationError([overflow_problem(model, df, overflow)])
    n = len(out)
    id_col = model.spec.id
    ids = out[id_col].tolist() if id_col and id_col in out.columns else [None] * n
    dist = [None if d != d else d for d in out["distance"].tolist()]  # NaN -> null
    assignments = [
        {"row": row, "id": cid, "segment": seg, "segment_name": name, "distance": d,
         "unfamiliar": unf}
        for row, cid, seg, name, d, unf in zip(
            range(1, n + 1), ids, out["segment"].tolist(), out["segment_name"].tolist(), dist,
            out["unfamiliar"].tolist(), strict=True)
    ]
    return {"assignments": assignments, "warnings": [p.to_dict() for p in warnings]}


def overflow_problem(model: SegmentModel, df: pd.DataFrame, overflow: np.ndarray) -> Problem:
    """Customers whose distance overflowed (values near the float limit): bad input, not a bug."""
    from ..validate import coerce_numeric

    idx = np.flatnonzero(overflow)
    first = int(idx[0])
    column, value = None, float("nan")
    for name in model.features.columns_:
        if model.spec.columns[name].kind == "numeric" and name in df.columns:
            v = abs(float(coerce_numeric(df[name].iloc[[first]])[0][0]))
            if v == v and not value >= v:
                column, value = name, v
    where = f"row {first + 1}" + (f": {column} = {value:.3g}" if column else "")
    n = int(idx.size)
    return Problem(code="out-of-range", severity="error", column=column,
                   rows=[int(i) + 1 for i in idx[:MAX_EXAMPLES]], count=n,
                   message=f"{n} {customers_word(n)} cannot be assigned: the values are too large for "
                           f"the distance to a segment to be computed ({where}); fix: correct "
                           "those values")


def segments_summary(model: SegmentModel) -> dict:
    """The body of ``GET /v1/segments``: names, sizes, centroids and distance quantiles."""
    sizes = (model.info.get("training") or {}).get("sizes")
    if not isinstance(sizes, list) or len(sizes) != model.k:
        sizes = [None] * model.k
    total = sum(s for s in sizes if s is not None)
    centroids = model.features.inverse_numeric(model.centers)
    segments = []
    for s in range(model.k):
        centroid = {}
        for col, values in centroids.items():
            v = float(values[s])
            centroid[col] = v if np.isfinite(v) else None
        size = sizes[s]
        segments.append({
            "segment": s,
            "name": model.names[s],
            "size": int(size) if size is not None else None,
            "share": (size / total) if size is not None and total else None,
            "centroid": centroid,
            "distance_quantiles": {str(q): float(v)
                                   for q, v in model.distance_quantiles[s].items()},
        })
    algorithm = (model.info.get("algorithm") or {}).get("name")
    return {"k": model.k, "algorithm": algorithm, "cluster_on": list(model.features.columns_),
            "id_column": model.spec.id, "segments": segments}
