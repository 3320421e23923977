"""GradTS-fg instance filtering (Ma et al. 2021): keep an auxiliary example iff its tau is high enough.

Examples are identified by their id, never by position in a file, which changes with subsampling and order.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["filter_instances"]


def filter_instances(example_ids, taus, *, threshold: float | None = None,
                     coverage: float | None = None) -> np.ndarray:
    """The ids of the auxiliary examples to keep, in their input order.

    Give exactly one of:

    * ``threshold`` ``t``: keep every example with ``tau >= t``;
    * ``coverage`` ``q`` in ``(0, 1]``: keep the ``ceil(q * N)`` examples with the highest tau; ties at the
      cut are broken by the smaller example id, so the choice is deterministic. (``q * N`` is rounded to 9
      decimals before the ceiling, so ``0.3 * 10`` keeps 3, not 4.)

    ``example_ids`` and ``taus`` are aligned 1-D sequences; ids must be unique integers and taus finite.
    """
    if (threshold is None) == (coverage is None):
        raise ValueError("give exactly one of threshold (keep tau >= t) or coverage (keep the top q fraction)")
    ids = np.asarray(example_ids)
    tau = np.asarray(taus, dtype=np.float64)
    if ids.ndim != 1 or tau.ndim != 1:
        raise ValueError(f"example_ids and taus must be 1-D, got shapes {ids.shape} and {tau.shape}")
    if ids.shape != tau.shape:
        raise ValueError(f"{ids.size} example ids but {tau.size} taus; they must be aligned one to one")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"example ids must be integers, got {ids.dtype}")
    ids = ids.astype(np.int64)
    if np.unique(ids).size != ids.size:
        raise ValueError("example ids must be unique")
    if not np.all(np.isfinite(tau)):
        raise ValueError("taus contain NaN or infinite values")

    if threshold is not None:
        t = float(threshold)
        if not math.isfinite(t):
            raise ValueError(f"threshold must be a finite number, got {threshold}")
        return ids[tau >= t]

    q = float(coverage)
    if not (0.0 < q <= 1.0):
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    k = math.ceil(round(q * ids.size, 9))
    order = np.lexsort((ids, -tau))  # primary key: tau descending; then id ascending
    keep = np.zeros(ids.size, dtype=bool)
    keep[order[:k]] = True
    return ids[keep]
