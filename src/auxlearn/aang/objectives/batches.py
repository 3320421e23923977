"""An objective's batch from a batch of its input text: transformed tokens, the attention pattern, the targets.

The input task's batch (``input_ids``, ``attention_mask``, its ``labels``) becomes, for objective (I, T, R, O):
``input_ids`` transformed by T; ``attention_pattern``, R's [B, 1, T, T] mask, which the model hands the encoder
while ``attention_mask`` stays the padding mask that pooling reads; and ``labels``: for ``denoise`` the tokens to
predict (-100 elsewhere), for a supervised output the input task's own labels. Denoising with T ``none`` under a
one-way pattern predicts, at each selected position, the next token in the pattern's direction (GPT's objective
left to right, its mirror right to left), the one token there that the position cannot see.
"""

from __future__ import annotations

import torch

from auxlearn.aang.objectives.attention import ONE_WAY, attention_pattern
from auxlearn.aang.objectives.space import DENOISE, Objective
from auxlearn.aang.objectives.transforms import IGNORE_INDEX, RATE, TokenTransform


class ObjectiveBatcher:
    """Turns input batches into one objective's batches, with its own seeded generators (checkpointable)."""

    def __init__(self, objective: Objective, tokenizer, *, rate: float = RATE, seed: int = 0):
        self.objective = objective
        self.transform = TokenTransform(objective.transform, tokenizer, rate=rate, seed=seed)
        self.generator = torch.Generator().manual_seed(seed + 1)  # random factorisation orders
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ids, padding = batch["input_ids"], batch["attention_mask"]
        special = torch.isin(ids, self.special_ids) | ~padding.bool()
        transformed, targets = self.transform(ids, special)
        objective = self.objective
        if objective.output == DENOISE and objective.transform == "none" and objective.attention in ONE_WAY:
            targets = neighbour_targets(ids, padding, targets != IGNORE_INDEX, objective.attention)
        out = {**batch, "input_ids": transformed,
               "attention_pattern": attention_pattern(objective.attention, padding, self.generator)}
        if objective.output == DENOISE:
            out["labels"] = targets
        return out

    def state_dict(self) -> dict:
        return {"transform": self.transform.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.transform.load_state_dict(state["transform"])
        self.generator.set_state(state["generator"])


def neighbour_targets(ids: torch.Tensor, padding: torch.Tensor, selected: torch.Tensor,
                      pattern: str) -> torch.Tensor:
    """At each selected position, the next token in ``pattern``'s direction when it is a real token, else -100."""
    step = {"left_to_right": 1, "right_to_left": -1}.get(pattern)
    if step is None:
        raise ValueError(f"no next token under attention pattern {pattern!r}")
    targets = torch.full_like(ids, IGNORE_INDEX)
    real = padding.bool()
    if step == 1:
        ok = selected[:, :-1] & real[:, 1:]
        targets[:, :-1] = torch.where(ok, ids[:, 1:], IGNORE_INDEX)
    else:
        ok = selected[:, 1:] & real[:, :-1]
        targets[:, 1:] = torch.where(ok, ids[:, :-1], IGNORE_INDEX)
    return targets

