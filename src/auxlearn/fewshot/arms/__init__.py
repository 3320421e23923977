"""Few-shot arms: how ``auxlearn adapt`` adapts to a new task. One module per arm behind ``FewShotArm``
(base.py); the registry below is the one list of arms: the config validates ``fewshot.arms`` against it and
trains all of them by default, in its order.
"""

from __future__ import annotations

from auxlearn.fewshot.arms.base import FewShotArm
from auxlearn.fewshot.arms.full_finetuning import FullFinetuning
from auxlearn.fewshot.arms.lora_from_scratch import LoraFromScratch
from auxlearn.fewshot.arms.mhr import Mhr
from auxlearn.fewshot.arms.mhr_mu import MhrMu
from auxlearn.fewshot.arms.mhr_z import MhrZ

ARMS: dict[str, type[FewShotArm]] = {cls.name: cls for cls in (Mhr, MhrZ, MhrMu, LoraFromScratch, FullFinetuning)}


def label(arm: str, splits: int) -> str:
    """The arm's name in a report of skills with ``splits`` splits."""
    return ARMS[arm].title(splits)


__all__ = ["ARMS", "FewShotArm", "label"]
