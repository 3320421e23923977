"""``full``: full fine-tuning of the experiment's encoder on the k shots, every weight trained."""

from __future__ import annotations

from typing import Any

from auxlearn.adapters.poly import PolyOptions
from auxlearn.fewshot.arms.base import FewShotArm


class FullFinetuning(FewShotArm):
    name = "full"
    label, polytropon = "full fine-tuning", "full fine-tuning"
    what = "every encoder weight"
    pretrained = False

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        return {"method": "full"}
