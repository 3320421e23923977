"""Loss weightings: how a step's losses make its update (one small class per method behind ``Weighting``,
``train/weighting_base.py``; AANG's are in ``auxlearn/aang/``); the registry is below."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from auxlearn.aang.weighting import Aang, AangStatic
from auxlearn.plugins import build
from auxlearn.train.weightings.alignment import Alignment
from auxlearn.train.weighting_base import Weighting
from auxlearn.train.weightings.jacobian import JACOBIAN_WEIGHTINGS
from auxlearn.train.weightings.single import Single
from auxlearn.train.weightings.static import Static
from auxlearn.train.weightings.uncertainty import Uncertainty

WEIGHTINGS: dict[str, type[Weighting]] = {
    cls.name: cls for cls in (Single, Static, Uncertainty, AangStatic, Aang, Alignment, *JACOBIAN_WEIGHTINGS)
}


def build_weighting(name: str, options: Mapping[str, Any], tasks: Sequence[str], seed: int = 0) -> Weighting:
    return build(WEIGHTINGS, name, options, "train.weighting", tasks, seed=seed)


__all__ = ["WEIGHTINGS", "Weighting", "build_weighting"]
