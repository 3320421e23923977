"""k-shot data: k examples per class, drawn from a split for one seed (the few-shot protocols of MTTL, T-Few).

Every arm of a seed trains on the same draw (it depends on the split seed and the run seed alone), and every seed
draws anew, so a gain over seeds covers the luck of the draw. Dev is drawn the same way from the dev carve: a
few-shot model chosen on hundreds of labelled dev examples would not be few-shot (Perez et al. 2021)."""

from __future__ import annotations

import logging

import numpy as np

from auxlearn.data.encode import EncodedSplit

log = logging.getLogger(__name__)


def draw_shots(split: EncodedSplit, classes: int, k: int, seed: tuple[int, ...], where: str) -> EncodedSplit:
    """Up to ``k`` examples of each of ``classes`` classes (labels 0..classes-1), in the split's order; a class
    with fewer gives all it has, with a warning naming ``where``."""
    labels = np.asarray(split.labels)
    rng = np.random.default_rng(list(seed))
    chosen, short = [], []
    for label in range(classes):
        members = np.flatnonzero(labels == label)
        if len(members) < k:
            short.append(f"class {label}: {len(members)}")
        chosen.append(rng.choice(members, size=min(k, len(members)), replace=False))
    if short:
        log.warning("auxlearn: %s has fewer than %d examples of some classes (%s); all of them are taken",
                    where, k, ", ".join(short))
    return split.select(np.sort(np.concatenate(chosen)).tolist())
