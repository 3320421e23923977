"""``mhr``: the pre-trained skills and a new routing row, trained together on the new task (multi-head routing,
Caccia et al. 2023; Poly for one split, Ponti et al. 2022)."""

from __future__ import annotations

from typing import Any

from auxlearn.adapters.poly import PolyOptions
from auxlearn.fewshot.arms.base import FewShotArm


class Mhr(FewShotArm):
    name = "mhr"
    label, polytropon = "MHR", "Poly"
    what = "the skills and a new routing row"
    pretrained = True

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        return {"method": "poly", **poly.model_dump(), "train": "all"}
