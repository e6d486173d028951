"""The plain path: a few clean customers checked in plain Python, assigned by the core kernel.

For one customer the pandas path (:meth:`SegmentModel.assign
<custseg.model.SegmentModel.assign>`: a DataFrame, :func:`custseg.validate.validate`,
typing by pandas) costs about 5 ms of CPU; these checks cost microseconds. They
answer only when validation would report nothing and pandas' typing cannot
matter: numbers as JSON numbers, codes as integers or text, ids all integers or
all text and unique, no empty cell under a ``missing = "error"`` or ``"drop"``
policy, no code outside a column's labels (a warning), no distance that
overflows. Anything else raises :class:`Unplain` and the pandas path answers, so
messages and the error shape stay the same. The typed columns then go to the
same kernel as every other path, :meth:`SegmentModel.assign_arrays
<custseg.model.SegmentModel.assign_arrays>`; ``tests/test_api.py`` checks that
the two paths never disagree, for every kind of model.
"""

import numpy as np

from ..model import SegmentModel
from ..validate import MAX_ABS_NUMBER, MAX_CELL_CHARS

__all__ = ["PLAIN_MAX_RECORDS", "Unplain", "assign_plain"]

PLAIN_MAX_RECORDS = 256
"""Up to this many customers, a request is first tried by :func:`assign_plain`."""


class Unplain(Exception):
    """The plain path cannot promise the pandas path's answer: let that one decide."""


def _plain_numbers(values: list, col) -> np.ndarray:
    out = []
    missing = False
    for v in values:
        t = type(v)
        if v is None:
            out.append(float("nan"))
            missing = True
            continue
        if t is not int and t is not float:
            raise Unplain
        f = float(v)
        if not (-MAX_ABS_NUMBER <= f <= MAX_ABS_NUMBER):  # also infinities (from 1e400)
            raise Unplain
        if f < 0 and col.role in ("value", "engagement"):
            raise Unplain
        out.append(f)
    if missing and col.missing in ("error", "drop"):
        raise Unplain
    return np.array(out, dtype=np.float64)


def _plain_codes(values: list, col) -> np.ndarray:
    codes = []
    for v in values:
        t = type(v)
        if v is None:
            code = None
        elif t is int:
            code = str(v)
        elif t is str:
            if len(v) > MAX_CELL_CHARS:
                raise Unplain
            code = v.strip() or None
        else:  # floats (1.0 is code "1") and booleans: pandas decides
            raise Unplain
        codes.append(code)
    if col.missing in ("error", "drop") and any(c is None for c in codes):
        raise Unplain
    if col.labels and any(c is not None and c not in col.labels for c in codes):
        raise Unplain  # a warning (unseen-code): the pandas path words it
    out = np.empty(len(codes), dtype=object)
    out[:] = codes
    return out


def assign_plain(model: SegmentModel, records: list[dict]) -> dict:
    """:func:`~custseg.api.answers.assign_records` for a few clean customers, without pandas'
    typing and validation.

    Gives the same answer as the pandas path or raises :class:`Unplain`.
    """
    spec = model.spec
    if model.has_derived:  # dates, yes/no, never flags: the pandas path derives them
        raise Unplain
    present: dict[str, None] = {}
    for rec in records:
        present.update(dict.fromkeys(rec))
    needed = list(model.features.columns_)
    if any(name not in present for name in needed):
        raise Unplain
    extra = [c for c in spec.used if c not in needed and c in present]
    n = len(records)
    typed: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(needed + extra):
        col = spec.columns[name]
        values = [rec.get(name) for rec in records]
        typed[name] = (_plain_numbers(values, col) if col.kind == "numeric"
                       else _plain_codes(values, col))
    ids: list = [None] * n
    if spec.id and spec.id in present:
        ids = [rec.get(spec.id) for rec in records]
        kinds = {type(v) for v in ids}
        if not kinds <= {int, str}:
            raise Unplain  # missing, float or boolean ids
        if len({(type(v), v) for v in ids}) != n:
            raise Unplain  # duplicates
    with np.errstate(over="ignore", invalid="ignore"):
        labels, dist, unfamiliar = model.assign_arrays({name: typed[name] for name in needed})
    if not np.isfinite(dist).all():
        raise Unplain  # the pandas path says which values overflow
    unfamiliar |= model.unseen_describing(typed, extra)
    names = model.names
    return {"assignments": [
        {"row": row, "id": cid, "segment": seg, "segment_name": names[seg], "distance": d,
         "unfamiliar": unf}
        for row, cid, seg, d, unf in zip(range(1, n + 1), ids, labels.tolist(),
                                         np.round(dist, 6).tolist(), unfamiliar.tolist(),
                                         strict=True)
    ], "warnings": []}
