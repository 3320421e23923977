"""The few-shot arm interface (MTTL's ``finetune_type``s, Caccia et al. 2023): how an arm adapts to a new task.

Every arm is the experiment's primary alone, on the same k-shot draw per seed, with its own adapter on its own
starting model and its own train settings (``fewshot.arms``). The skilled arms start from the pre-trained skills.
"""

from __future__ import annotations

from typing import Any, ClassVar

from auxlearn.adapters.poly import PolyOptions
from auxlearn.plugins import Plugin


class FewShotArm(Plugin):
    """Subclasses set the names and ``pretrained``, and implement ``adapter``. Its options are train settings
    (``fewshot.arms.<name>``, checked as ``train``'s), so ``Options`` stays empty."""

    name: ClassVar[str]
    label: ClassVar[str]  # as the papers name it, for Q > 1 (multi-head routing)
    polytropon: ClassVar[str]  # as they name it for one split (Polytropon)
    what: ClassVar[str]  # what it trains, in the report's words
    pretrained: ClassVar[bool]  # starts from the pre-trained model (else from the experiment's encoder)

    def adapter(self, poly: PolyOptions) -> dict[str, Any]:
        """Its ``adapter`` section (``{"method": ..., **options}``), from the pre-trained poly adapter's options."""
        raise NotImplementedError

    @classmethod
    def title(cls, splits: int) -> str:
        """Its name in a report of skills with ``splits`` splits."""
        return cls.label if splits > 1 else cls.polytropon


def lora_like(poly: PolyOptions) -> dict[str, Any]:
    """A LoRA of the skills' rank on the skills' layers."""
    return {"r": poly.r, "target_modules": list(poly.target_modules)}
