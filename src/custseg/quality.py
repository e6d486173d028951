"""Machine-readable warnings about the quality of a segmentation.

- ``segment-mirrors-column``: the segments are (adjusted Rand >= 0.9) just a copy
  of one categorical input, typical when one-hot columns dominate distances.
- ``tiny-segment``: a segment holds under 1% of customers.
- ``unstable``: refitting with other seeds changes the partition (mean adjusted
  Rand < 0.8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cluster.selection import ari as adjusted_rand
from .profile import factorize
from .spec import Spec

__all__ = ["quality_warnings", "MIRROR_ARI", "TINY_SHARE", "STABLE_ARI"]

MIRROR_ARI = 0.9
TINY_SHARE = 0.01
STABLE_ARI = 0.8


def quality_warnings(data: pd.DataFrame, labels: np.ndarray, k: int, spec: Spec,
                     names: list[str], stability: list[float] | None = None) -> list[dict]:
    """Warnings as ``{"code", "message", ...}`` dicts, in a fixed order."""
    out: list[dict] = []
    for col in spec.categorical(spec.used):
        codes, _ = factorize(data[col])
        ari = adjusted_rand(codes, labels)
        if ari >= MIRROR_ARI:
            out.append({
                "code": "segment-mirrors-column", "column": col, "adjusted_rand": round(ari, 4),
                "message": (f"the segments copy column {col!r} (adjusted Rand {ari:.2f}): "
                            "its one-hot columns dominate the distances; cluster on numeric "
                            f"columns and keep {col!r} under describe"),
            })
    sizes = np.bincount(labels, minlength=k)
    n = labels.size
    for s in range(k):
        share = sizes[s] / n
        if share < TINY_SHARE:
            out.append({
                "code": "tiny-segment", "segment": s, "size": int(sizes[s]),
                "share": round(float(share), 6),
                "message": (f"segment {s} ({names[s]!r}) holds {sizes[s]} customers "
                            f"({share:.2%}), under {TINY_SHARE:.0%}: too small to act on; "
                            "consider a smaller k"),
            })
    if stability:
        mean = float(np.mean(stability))
        if mean < STABLE_ARI:
            out.append({
                "code": "unstable", "mean_adjusted_rand": round(mean, 4),
                "runs": [round(float(a), 4) for a in stability],
                "message": (f"refitting with {len(stability)} other seeds changes the partition "
                            f"(mean adjusted Rand {mean:.2f} < {STABLE_ARI}); the segments are "
                            "not robust: try another k or more initialisations (--n-init)"),
            })
    return out
