"""Task heads: dropout + linear over the pooled (or per-token) encoder output, and the loss they train with.

Each task type (a module beside this one) subclasses ``Head`` with its loss and builds its tasks' heads.
"""

from __future__ import annotations

from typing import Mapping, Optional

import torch
from torch import nn


class Head(nn.Module):
    per_token = False  # whether it reads every token's vector (tagging) or the pooled one
    # Whether it predicts the text's own tokens (an LM head): its targets come from the text, so it can be fitted
    # with the encoder frozen before the encoder trains, and the config's ``objectives`` settings apply to it.
    predicts_tokens = False

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_outputs)

    def bind(self, encoder: nn.Module, *, tied: bool = True) -> None:
        """Called once with the model's encoder: a head that shares its weights (a tied LM head) takes them here;
        ``tied=False``: it takes a copy of them as its own parameter instead."""

    def start_from(self, state: Optional[Mapping[str, torch.Tensor]]) -> None:
        """Load weights a checkpoint was pretrained with (None: none); what ``state`` lacks keeps its weights."""
        if state is not None:
            self.load_state_dict({**self.state_dict(), **state})

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from the pooled or per-token ``features``; ``labels`` serve a head that scores only some positions."""
        return self.out(self.dropout(features))

    def example_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-example loss, shape [batch]; the training loss is its mean."""
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.example_losses(logits, labels).mean()

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)
