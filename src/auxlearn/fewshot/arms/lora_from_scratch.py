"""``lora``: a LoRA from scratch, of the skills' rank on their layers: the reference every gain is measured
against (what the pre-training adds)."""

from __future__ import annotations

from typing import Any

from auxlearn.adapters.poly import PolyOptions
from auxlearn.fewshot.arms.base import FewShotArm, lora_like


class LoraFromScratch(FewShotArm):
    name = "lora"
    label, polytropon = "LoRA", "LoRA"
    what = "a LoRA from scratch (rank and layers of the skills)"
    pretrained = False

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        return {"method": "lora", **lora_like(poly)}
