"""``mhr_mu``: the pre-trained skills' average merged into one LoRA, then trained (MHR-μ, Caccia et al. 2023):
what the skills give without routing."""

from __future__ import annotations

from typing import Any

from auxlearn.adapters.poly import PolyOptions
from auxlearn.fewshot.arms.base import FewShotArm, lora_like


class MhrMu(FewShotArm):
    name = "mhr_mu"
    label, polytropon = "MHR-μ", "Poly-μ"
    what = "the skills' average merged into one LoRA"
    pretrained = True

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        return {"method": "lora", **lora_like(poly), "init": "skills_average"}
