"""The input transforms T of the objective space, on a share of each sequence's tokens (15 % by default).

Positions are selected, and corrupted, by transformers' ``DataCollatorForLanguageModeling`` (the maintained
implementation of BERT's masking, with its own seeded generator): special tokens and padding are never
selected. ``none`` keeps the selected tokens, ``replace`` puts a random token in each, ``mask`` the mask token,
``bert`` BERT's 80 % mask / 10 % random / 10 % kept. The labels hold the original token at every selected
position and -100 elsewhere.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from transformers import DataCollatorForLanguageModeling

Transform = Literal["none", "replace", "mask", "bert"]
TRANSFORMS: tuple[str, ...] = get_args(Transform)
RATE = 0.15  # the share of each sequence's tokens a transform selects (BERT's)
# The label of positions that neither loss nor metrics read: cross-entropy's ignore_index, which transformers'
# collator writes where no token is to be predicted. The task types' labels use it too.
IGNORE_INDEX = -100

# (share of the selected tokens masked, share replaced by a random token); the rest are kept.
_SHARES = {"none": (0.0, 0.0), "replace": (0.0, 1.0), "mask": (1.0, 0.0), "bert": (0.8, 0.1)}


class TokenTransform:
    """One transform with its own generator (seeded; ``state_dict`` for checkpoints)."""

    def __init__(self, transform: Transform, tokenizer, *, rate: float = RATE, seed: int = 0):
        if transform not in _SHARES:
            raise ValueError(f"unknown input transform {transform!r}; known: {', '.join(TRANSFORMS)}")
        masked, replaced = _SHARES[transform]
        self.name = transform
        self.collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=rate, mask_replace_prob=masked,
                                                        random_replace_prob=replaced, seed=seed)
        self.collator.create_rng("pt")  # its generator is otherwise made on the first collate call, which we skip

    def __call__(self, input_ids: torch.Tensor, special_tokens_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(transformed input ids, labels) for a batch; ``special_tokens_mask``: True at special tokens and padding."""
        return self.collator.torch_mask_tokens(input_ids.clone(), special_tokens_mask.bool())

    def state_dict(self) -> dict:
        return {"generator": self.collator.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.collator.generator.set_state(state["generator"])
