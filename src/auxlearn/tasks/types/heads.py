"""Task heads: dropout + linear over the pooled (or per-token) encoder output, and the loss they train with.

Each task type (a module beside this one) subclasses ``Head`` with its loss and builds its tasks' heads.
"""

from __future__ import annotations

import torch
from torch import nn


class Head(nn.Module):
    per_token = False  # whether it reads every token's vector (tagging) or the pooled one

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_outputs)

    def bind(self, encoder: nn.Module) -> None:
        """Called once with the model's encoder: a head that shares its weights (a tied LM head) takes them here."""

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
