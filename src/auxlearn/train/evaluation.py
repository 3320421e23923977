"""Predictions and metrics of one task on one split, run as the model was trained (device, number format)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from auxlearn.data.batching import eval_batches
from auxlearn.data.encode import IGNORE_INDEX, EncodedSplit
from auxlearn.tasks.metrics import compute_metrics
from auxlearn.tasks.spec import TaskSpec
from auxlearn.train.device import Resolved, autocast
from auxlearn.train.threads import thread_share

Batches = list[tuple[np.ndarray, dict[str, torch.Tensor]]]

# Padded tokens per evaluation batch when none is configured. On a 2-core CPU, bfloat16 evaluation of MiniLM
# scored RTE dev 1.45x faster 16 pairs to a batch than 128 (activations that stay in the caches), and the
# RTE + MRPC + SST-2 dev sets at the same rate for any cap from 768 to 1536 tokens; a GPU wants big batches,
# so there the count alone limits them.
CPU_EVAL_TOKENS = 1024


@dataclass(frozen=True)
class Inference:
    """How to run the model forward without gradients: where, in what number format, in what batches."""

    device: torch.device
    pad_id: int
    precision: Resolved = "fp32"
    batch_size: int = 128
    max_tokens: Optional[int] = None
    threads: Optional[int] = None  # the CPU thread setting (None: this process's share of the cores)

    @classmethod
    def for_device(cls, device: torch.device, pad_id: int, precision: Resolved, batch_size: int = 128,
                   max_tokens: Optional[int] = None, threads: Optional[int] = None) -> "Inference":
        """``max_tokens`` None: cache-sized batches on a CPU, the count alone elsewhere."""
        if max_tokens is None and device.type == "cpu":
            max_tokens = CPU_EVAL_TOKENS
        return cls(device, pad_id, precision, batch_size, max_tokens, threads)

    def batches(self, task: str, model, split: EncodedSplit) -> Batches:
        """The split's batches, built once; a trainer that evaluates the same dev split often keeps them."""
        regression = model.specs[task].type == "regression"
        return list(eval_batches(split, self.batch_size, self.pad_id, regression, self.max_tokens))


@torch.inference_mode()
def predict(model, task: str, split: EncodedSplit, how: Inference, batches: Optional[Batches] = None) -> list[Any]:
    """Predictions in the split's order: class ids, floats, or per-word tag ids (first sub-words only)."""
    spec: TaskSpec = model.specs[task]
    head = model.head(task)
    was_training = model.training
    model.eval()
    out: list[Any] = [None] * len(split)
    # One autocast region for all batches: it casts each weight to bfloat16 once, not once per batch.
    with thread_share(how.threads) as threads, autocast(how.device, how.precision):
        for indices, batch in batches if batches is not None else how.batches(task, model, split):
            threads.poll()
            batch = {k: v.to(how.device) for k, v in batch.items()}
            predictions = head.predict(model(task, batch).float()).cpu()
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


def evaluate(model, task: str, split: EncodedSplit, how: Inference,
             batches: Optional[Batches] = None) -> dict[str, float]:
    return score_predictions(model.specs[task], predict(model, task, split, how, batches), split)


def score_predictions(spec: TaskSpec, predictions: list[Any], split: EncodedSplit) -> dict[str, float]:
    """The task's metrics for ``predictions`` (as ``predict`` returns them) against the split's labels."""
    if spec.type == "tagging":
        names = spec.label_names
        references = [[names[t] for t in labels if t != IGNORE_INDEX] for labels in split.labels]
        predictions = [[names[t] for t in row] for row in predictions]
    else:
        references = split.labels
    return compute_metrics(spec.metrics, spec.main_metric, predictions, references)
