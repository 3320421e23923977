"""``mhr_z``: a new routing row alone over the frozen pre-trained skills (MHR-z, Caccia et al. 2023): the fewest
parameters that can adapt."""

from __future__ import annotations

from typing import Any

from auxlearn.adapters.poly import PolyOptions
from auxlearn.fewshot.arms.base import FewShotArm


class MhrZ(FewShotArm):
    name = "mhr_z"
    label, polytropon = "MHR-z", "Poly-z"
    what = "a new routing row alone, the skills frozen"
    pretrained = True

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        return {"method": "poly", **poly.model_dump(), "train": "routing"}
