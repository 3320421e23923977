"""Predictions and metrics of one task on one split."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from auxlearn.data.batching import eval_batches
from auxlearn.data.encode import IGNORE_INDEX, EncodedSplit
from auxlearn.tasks.metrics import compute_metrics
from auxlearn.tasks.spec import TaskSpec


@torch.no_grad()
def predict(model, task: str, split: EncodedSplit, *, batch_size: int, pad_id: int,
            device: torch.device) -> list[Any]:
    """Predictions in the split's order: class ids, floats, or per-word tag ids (first sub-words only)."""
    spec: TaskSpec = model.specs[task]
    head = model.head(task)
    was_training = model.training
    model.eval()
    out: list[Any] = [None] * len(split)
    for indices, batch in eval_batches(split, batch_size, pad_id, regression=spec.type == "regression"):
        batch = {k: v.to(device) for k, v in batch.items()}
        predictions = head.predict(model(task, batch)).cpu()
        if spec.type == "tagging":
            first_subwords = _first_subword_positions(split, indices, batch["input_ids"].shape[1])
            for row, i in enumerate(indices):
                out[i] = predictions[row][first_subwords[row]].tolist()
        else:
            for row, i in enumerate(indices):
                out[i] = predictions[row].item()
    model.train(was_training)
    return out


def _first_subword_positions(split: EncodedSplit, indices: np.ndarray, width: int) -> list[torch.Tensor]:
    """Where each example's words start: the positions that carry a label (known for labelled and test splits)."""
    return [torch.as_tensor([p for p, label in enumerate(split.labels[i]) if label != IGNORE_INDEX])
            if isinstance(split.labels[i], list) else torch.empty(0, dtype=torch.long) for i in indices]


def evaluate(model, task: str, split: EncodedSplit, *, batch_size: int, pad_id: int,
             device: torch.device) -> dict[str, float]:
    spec: TaskSpec = model.specs[task]
    predictions = predict(model, task, split, batch_size=batch_size, pad_id=pad_id, device=device)
    if spec.type == "tagging":
        names = spec.label_names
        references = [[names[t] for t in labels if t != IGNORE_INDEX] for labels in split.labels]
        predictions = [[names[t] for t in row] for row in predictions]
    else:
        references = split.labels
    return compute_metrics(spec.metrics, spec.main_metric, predictions, references)
