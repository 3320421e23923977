"""The few-shot arms (MTTL's ``finetune_type``s, Caccia et al. 2023): how each adapts to a new task.

Every arm is the experiment's primary alone, on the same k-shot draw per seed, with the adapter below on the model
below and its own train settings (``fewshot.arms``). The skilled arms start from the pre-trained skills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from auxlearn.adapters.poly import PolyOptions
from auxlearn.config import Experiment, experiment_from_dict

Options = dict[str, Any]


@dataclass(frozen=True)
class FewShotArm:
    label: str  # as the papers name it, for Q > 1 (multi-head routing)
    polytropon: str  # as they name it for one split (Polytropon)
    method: str  # the adapter
    options: Callable[[PolyOptions], Options]  # its options, from the pre-trained poly adapter's
    pretrained: bool  # starts from the pre-trained model (else from the experiment's encoder)
    what: str


def _lora(poly: PolyOptions) -> Options:
    return {"r": poly.r, "target_modules": list(poly.target_modules)}


ARMS: dict[str, FewShotArm] = {
    "mhr": FewShotArm("MHR", "Poly", "poly", lambda poly: {**poly.model_dump(), "train": "all"}, True,
                      "the skills and a new routing row"),
    "mhr_z": FewShotArm("MHR-z", "Poly-z", "poly", lambda poly: {**poly.model_dump(), "train": "routing"}, True,
                        "a new routing row alone, the skills frozen"),
    "mhr_mu": FewShotArm("MHR-μ", "Poly-μ", "lora", lambda poly: {**_lora(poly), "init": "skills_average"}, True,
                         "the skills' average merged into one LoRA"),
    "lora": FewShotArm("LoRA", "LoRA", "lora", _lora, False, "a LoRA from scratch (rank and layers of the skills)"),
    "full": FewShotArm("full fine-tuning", "full fine-tuning", "full", lambda poly: {}, False,
                       "every encoder weight"),
}


def label(arm: str, splits: int) -> str:
    return ARMS[arm].label if splits > 1 else ARMS[arm].polytropon


def arm_experiment(exp: Experiment, arm: str, *, shots: int, seed: int, pretrained: str) -> Experiment:
    """The experiment of one arm at ``shots`` examples per class and ``seed`` (validated)."""
    spec = ARMS[arm]
    document = exp.model_dump()
    poly = PolyOptions.model_validate(exp.adapter.options)
    document.update(auxiliary=[], seed=seed, seeds=[seed], model=pretrained if spec.pretrained else exp.model,
                    adapter={"method": spec.method, **spec.options(poly)}, fewshot={})
    document["data"]["shots"] = shots
    document["train"].update(exp.fewshot.arms.get(arm, {}))
    document["train"]["eval_tasks"] = []
    return experiment_from_dict(document, where=f"fewshot.arms.{arm}", check=False)
