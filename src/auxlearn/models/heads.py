"""Task heads: dropout + linear over the pooled (or per-token) encoder output, and each type's loss.

A head declares whether it reads the pooled vector or every token; adding a task type adds one class
here and one entry in ``HEADS``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from auxlearn.data.encode import IGNORE_INDEX


class Head(nn.Module):
    per_token = False

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(features))

    def example_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-example loss, shape [batch]; the training loss is its mean."""
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.example_losses(logits, labels).mean()

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)


class ClassificationHead(Head):
    def example_losses(self, logits, labels):
        return F.cross_entropy(logits, labels, reduction="none")


class RegressionHead(Head):
    def example_losses(self, logits, labels):
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype), reduction="none")

    def predict(self, logits):
        return logits.squeeze(-1)


class TaggingHead(Head):
    per_token = True

    def example_losses(self, logits, labels):
        token_losses = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none")
        counts = (labels != IGNORE_INDEX).sum(-1).clamp(min=1)
        return token_losses.sum(-1) / counts

    def loss(self, logits, labels):
        """Token-level mean over the batch, as token classification is usually trained."""
        return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX)


HEADS: dict[str, type[Head]] = {
    "classification": ClassificationHead,
    "regression": RegressionHead,
    "tagging": TaggingHead,
}
