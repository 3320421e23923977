"""Masked-LM: text without labels (a domain corpus from a text, jsonl or parquet file, or a hub dataset), trained
by denoising objectives (``auxlearn.aang.objectives``): the targets are made from the text when a batch is drawn.

Its head is BERT's masked-LM head, with the checkpoint's pretrained weights where it has them (a BERT trained
with masked LM; all-MiniLM-L6-v2 has none, so it starts fresh): a dense layer, GELU and LayerNorm, then the
vocabulary projection tied to the encoder's input embeddings (it adds hidden x hidden + vocabulary parameters,
not hidden x vocabulary), or, untied (``objectives.untie_heads``), a copy of them that is the head's own. The
projection runs only at the positions that carry a target (about 15 % of the
tokens): full [batch, length, vocabulary] logits would cost about 7 times the compute and memory. Such a task is
trained, never scored, so it can be neither the primary nor an evaluated task.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from auxlearn.errors import AuxlearnError
from auxlearn.aang.objectives.space import TAPT
from auxlearn.aang.objectives.transforms import IGNORE_INDEX
from auxlearn.tasks.types.base import TaskType
from auxlearn.tasks.types.heads import Head


class LMHead(Head):
    per_token = True
    predicts_tokens = True

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float):
        nn.Module.__init__(self)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.bias = nn.Parameter(torch.zeros(0))  # sized to the vocabulary by bind()
        self.register_parameter("decoder", None)  # untied: the head's own [vocabulary, hidden] projection
        self._embeddings: tuple[nn.Embedding, ...] = ()  # a tuple: the encoder's, not a parameter of this head

    def bind(self, encoder: nn.Module, *, tied: bool = True) -> None:
        embeddings = encoder.get_input_embeddings()
        self._embeddings = (embeddings,)
        if self.bias.numel() != embeddings.num_embeddings:
            self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings, device=embeddings.weight.device))
        if not tied and self.decoder is None:
            self.decoder = nn.Parameter(embeddings.weight.detach().clone())

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Vocabulary logits [targets, vocabulary] at the positions whose label is a token."""
        if not self._embeddings:
            raise RuntimeError("LMHead.bind(encoder) was not called")
        if labels is None:
            raise AuxlearnError("a masked_lm task's head needs the batch's targets (denoising objectives make them)")
        hidden = features[labels != IGNORE_INDEX]
        hidden = self.norm(F.gelu(self.dense(hidden)))
        return F.linear(hidden, self._embeddings[0].weight if self.decoder is None else self.decoder, self.bias)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the batch's targets (0, with a gradient, when a batch has none)."""
        targets = labels[labels != IGNORE_INDEX]
        return F.cross_entropy(logits, targets, reduction="sum") / max(1, targets.numel())

    def example_losses(self, logits, labels):
        raise AuxlearnError("a masked_lm task is trained, not scored per example")


class MaskedLM(TaskType):
    name = "masked_lm"
    hub_task = "fill-mask"
    head = LMHead
    default_metrics = ()
    metrics = frozenset()
    labelled = False
    uses_label_names = False
    # Drawn by a sampler as a task of its own, it is BERT's masked LM on its text (TAPT's objective).
    default_objective = TAPT

    def validate(self, spec):
        super().validate(spec)
        if spec.label_field is not None or spec.metrics:
            raise ValueError("a masked_lm task has no label_field and no metrics: its targets come from its text")

    def pretrained_head(self, model_name):
        from auxlearn.models.encoder import pretrained_lm_head  # loads transformers' model classes

        return pretrained_lm_head(model_name)

    def outputs(self, predictions, labels):
        raise AuxlearnError("a masked_lm task is trained, not scored")

    def readable(self, spec, prediction):
        raise AuxlearnError("a masked_lm task makes no predictions")
