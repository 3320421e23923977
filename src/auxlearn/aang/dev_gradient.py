"""The dev gradient AANG weighs objectives against (META-TARTAN's: Dery et al., ICLR 2022): the gradient, with
respect to the encoder, of the primary's loss on dev examples under a head fitted on those same examples.

A fresh head of the primary's kind is fitted on the frozen encoder's features of the dev examples (AdamW, full
batch, a few iterations), then its loss is differentiated through the encoder. The head is fitted on dev, not on
train as the reference code does (Dery et al., ICLR 2023): the signal says what lowers the dev loss. The features are
computed once, with their graph kept, so the fit and the gradient share one forward pass. Dropout is off and the
random state is forked, so measuring leaves training's own random draws as they were.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import torch

from auxlearn.train.weighting_base import StepContext


def fresh_head(head: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``head`` with its parameters initialised anew."""
    fresh = copy.deepcopy(head)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh


def dev_gradient(context: StepContext, batch: Mapping[str, torch.Tensor], body: Sequence[torch.nn.Parameter], *,
                 iterations: int, lr: float, weight_decay: float, seed: int) -> torch.Tensor:
    """The flat gradient over ``body`` of the dev loss of a head fitted on ``batch`` (the primary's dev examples)."""
    model, primary = context.model, context.primary
    device = batch["input_ids"].device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        training = model.training
        model.eval()
        try:
            with context.autocast():
                features = model.features(primary, batch)
            features = features.float()
            head = fresh_head(model.head(primary)).to(device).eval()
            _fit(head, features.detach(), batch, iterations, lr, weight_decay)
            loss = head.loss(head(features, batch["labels"]), batch["labels"])
            grads = torch.autograd.grad(loss, list(body), allow_unused=True)
        finally:
            model.train(training)
    return flatten(grads, body)


def _fit(head: torch.nn.Module, features: torch.Tensor, batch: Mapping[str, torch.Tensor], iterations: int,
         lr: float, weight_decay: float) -> None:
    """Full-batch AdamW on the head alone; stops early once the loss moves by less than 1e-3 (AANG's rule)."""
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay)
    previous = None
    for _ in range(iterations):
        loss = head.loss(head(features, batch["labels"]), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if previous is not None and abs(previous - loss.item()) < 1e-3:
            break
        previous = loss.item()


def flatten(grads: Sequence[torch.Tensor | None], params: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    """One vector of ``grads`` (zeros for a parameter the loss does not reach), in fp32."""
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                      for g, p in zip(grads, params)])
